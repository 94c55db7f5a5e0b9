"""The deployment bench behind `loretrack bench`, one job per module.

- `engine_table`: the engine names (no runtime imported);
- `engines`: the engines compared (Keras, TFLite / ONNX modes, PyTorch) and how
  to build each in any process;
- `exports`: their exported files, each made in a fresh process;
- `rounds`: closed-loop tracking timed with each engine alone in a fresh
  process, in rounds, beside the machine's matrix-multiply rates;
- `fidelity`: open-loop map and box agreement, closed-loop IoU;
- `memory`: peak RSS of each engine in a process of its own;
- `machine_speed`: the machine's float32 and int8 matrix-multiply rates;
- `report`: the Markdown tables;
- `harness`: `BenchSettings` and `run_benchmark`, which tie them together;
- `torch_ostrack`: the independent PyTorch reference network (torch extra).
"""
