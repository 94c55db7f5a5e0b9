"""The engines the bench compares, and how to build each one in any process.

Every row of the bench is an engine: the Keras model, an exported TFLite or
ONNX file in one quantisation mode (ONNX files on ONNX Runtime or OpenVINO),
or the PyTorch reference network
(`keras_loretrack.benchmarking.torch_ostrack`) with the same weights, in
float32 or with PyTorch's dynamic int8 Linear layers.
"""

import dataclasses
import time
import warnings

from keras_loretrack.benchmarking.engine_table import ENGINES, OPENVINO_PRECISIONS
from keras_loretrack.data.crops import CropGeometry
from keras_loretrack.tracking.engines import MAP_NAMES, Engine


def build_model(preset, load_weights, seed):
    """The Keras model of a preset: its weights, or seeded random ones.

    Returns:
        (model, weights) with weights "preset" or f"random(seed={seed})".
    """
    from keras_loretrack.export import randomize_weights
    from keras_loretrack.models import LoReTrack

    if load_weights:
        try:
            return LoReTrack.from_preset(preset, load_weights=True), "preset"
        except (ValueError, FileNotFoundError):
            pass
    model = LoReTrack.from_preset(preset, load_weights=False)
    return randomize_weights(model, seed), f"random(seed={seed})"


def architecture_of(model):
    """What `TorchEngine` and the child processes need to know about a model."""
    backbone = model.backbone
    return {
        **CropGeometry.of(model).as_dict(),
        "feature_size": model.feature_size,
        "patch_size": backbone.patch_size,
        "hidden_dim": backbone.hidden_dim,
        "num_layers": backbone.num_layers,
        "num_heads": backbone.num_heads,
        "mlp_dim": backbone.mlp_dim,
        "head_channels": list(model.head_channels),
        "candidate_elimination_blocks": list(backbone.candidate_elimination_blocks),
    }


def torch_reference_module():
    """The PyTorch reference module; `MissingExtraError` without torch."""
    from keras_loretrack.benchmarking import torch_ostrack

    return torch_ostrack


class TorchEngine(Engine):
    """The PyTorch reference network with a model's weights, as a tracker engine.

    Args:
        state_path: str. `.npz` of
            `keras_loretrack.checkpoints.official_mapping.official_state_dict`.
        architecture: dict. The model's `architecture_of`.
        quantized: bool. Apply PyTorch dynamic int8 quantisation to the Linear
            layers (`torch.ao.quantization.quantize_dynamic`).
        threads: int. `torch.set_num_threads`.
    """

    def __init__(self, state_path, architecture, quantized, threads):
        import numpy as np

        reference = torch_reference_module()
        torch = reference.torch
        torch.set_num_threads(threads)
        network = reference.OSTrackReference(
            search_size=architecture["search_size"],
            template_size=architecture["template_size"],
            patch_size=architecture["patch_size"],
            dim=architecture["hidden_dim"],
            depth=architecture["num_layers"],
            num_heads=architecture["num_heads"],
            mlp_dim=architecture["mlp_dim"],
            head_channels=tuple(architecture["head_channels"]),
            ce_blocks=tuple(architecture["candidate_elimination_blocks"]),
        )
        with np.load(state_path) as arrays:
            state = {k: torch.from_numpy(arrays[k]) for k in arrays.files}
        missing, unexpected = network.load_state_dict(state, strict=False)
        ignored = ("cls_token", "pos_embed", "num_batches_tracked")
        missing = [k for k in missing if not k.endswith(ignored)]
        if missing or unexpected:
            raise ValueError(
                f"PyTorch reference does not fit the weights: missing {missing[:4]}, "
                f"unexpected {unexpected[:4]}"
            )
        network.eval()
        if quantized:
            network = torch.ao.quantization.quantize_dynamic(
                network, {torch.nn.Linear}, dtype=torch.qint8
            )
        self.network = network
        self.torch = torch
        self.name = "torch-int8" if quantized else "torch-fp32"
        self.geometry = CropGeometry.of(architecture)
        self.feature_size = int(architecture["feature_size"])

    def __call__(self, template, search):
        torch = self.torch
        with torch.inference_mode():
            out = self.network(
                torch.from_numpy(template.transpose(0, 3, 1, 2).copy()),
                torch.from_numpy(search.transpose(0, 3, 1, 2).copy()),
            )
        return {k: out[k].numpy().transpose(0, 2, 3, 1) for k in MAP_NAMES}


class TimedEngine(Engine):
    """Forwards to an engine and records the duration of every call."""

    def __init__(self, engine):
        self.engine = engine
        self.geometry = CropGeometry.of(engine)
        self.feature_size = engine.feature_size
        self.name = getattr(engine, "name", "engine")
        self.times = []

    def __call__(self, template, search):
        start = time.perf_counter()
        out = self.engine(template, search)
        self.times.append(time.perf_counter() - start)
        return out


@dataclasses.dataclass
class EngineSpec:
    """How to (re)build one engine, in this process or a child."""

    engine: str
    path: str = ""
    preset: str = ""
    load_weights: bool = False
    seed: int = 0
    architecture: dict = dataclasses.field(default_factory=dict)


def open_engine(spec, threads, model=None):
    """Builds the engine a spec describes (the Keras one from `model` if given)."""
    kind, quantization = ENGINES[spec.engine]
    if kind == "keras":
        from keras_loretrack.tracking import KerasEngine

        if model is None:
            model, _ = build_model(spec.preset, spec.load_weights, spec.seed)
        return KerasEngine(model, name=spec.engine)
    if kind == "tflite":
        from keras_loretrack.tracking.litert_engine import LiteRTEngine

        return LiteRTEngine(spec.path, num_threads=threads, name=spec.engine)
    if kind == "onnx":
        from keras_loretrack.tracking.onnx_engine import OnnxEngine

        return OnnxEngine(spec.path, num_threads=threads, name=spec.engine)
    if kind == "openvino":
        from keras_loretrack.tracking.openvino_engine import OpenVinoEngine

        precision = OPENVINO_PRECISIONS.get(spec.engine, "f32")
        return OpenVinoEngine(
            spec.path, num_threads=threads, precision=precision, name=spec.engine
        )
    return TorchEngine(spec.path, spec.architecture, quantization == "dynamic", threads)


def configure_threads(threads):
    """Sets TensorFlow's thread pools (intra-op `threads`, inter-op 1)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        # TensorFlow already ran in this process (e.g. called from Python):
        # its pools are fixed, so the Keras row uses whatever they were set to.
        warnings.warn(
            "TensorFlow is already initialised in this process; the Keras engine "
            f"keeps its thread pools instead of --threads {threads}",
            stacklevel=2,
        )
