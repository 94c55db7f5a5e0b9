import json
import os
import re

import pytest

from keras_loretrack.benchmarking.engines import ENGINES
from keras_loretrack.checkpoints.official_mapping import official_state_dict
from keras_loretrack.cli.bench import parse_list
from keras_loretrack.cli.main import main
from tests.presets import TINY_TEST

pytestmark = pytest.mark.export


def _bench_arguments(tmp_path, sequences_dir):
    return [
        "bench",
        "--presets",
        "tiny_test",
        "--engines",
        "tflite-fp32,onnx,onnx-dynamic,openvino",
        "--sequences",
        str(sequences_dir),
        "--threads",
        "1",
        "--max-frames",
        "3",
        "--rounds",
        "2",
        "--work-dir",
        str(tmp_path / "work"),
        "--output",
        str(tmp_path / "export.md"),
    ]


def _round_lines(out):
    """The engines timed, in order, as (round, engine) from the bench's output."""
    found = re.findall(r"round (\d): (\S+) model", out)
    return [(int(index), name) for index, name in found]


def test_bench_times_each_engine_alone_in_rounds_and_resumes(
    tmp_path, sequences_dir, capsys, monkeypatch
):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(os.path.dirname(TINY_TEST))  # `tiny_test` is a folder there
    arguments = _bench_arguments(tmp_path, sequences_dir)
    results = tmp_path / "work" / "results.json"
    assert main(arguments) == 0
    names = ["keras", "tflite-fp32", "onnx", "onnx-dynamic", "openvino"]
    # Round 2 times the engines in reverse order.
    assert _round_lines(capsys.readouterr().out) == [
        *[(1, n) for n in names],
        *[(2, n) for n in reversed(names)],
    ]
    cache = json.loads(results.read_text())
    assert set(cache) == {f"tiny_test/{n}" for n in names} | {
        "tiny_test/round-1",
        "tiny_test/round-2",
    }
    rows = {n: cache[f"tiny_test/{n}"] for n in names}
    probes = [cache[f"tiny_test/round-{i}"]["probe"] for i in (1, 2)]
    # Every engine of every round and every probe ran in a process of its own.
    pids = [pid for row in rows.values() for pid in row["pids"]]
    pids += [probe["pid"] for probe in probes]
    assert len(pids) == len(set(pids)) == 2 * len(names) + 2
    assert os.getpid() not in pids
    assert rows["onnx"]["floor_kind"] == "fp32"
    assert rows["onnx-dynamic"]["floor_kind"] == "int8"
    for row in rows.values():
        assert row["rounds"] == 2 and len(row["model_ms_rounds"]) == 2
        assert row["probes"] == probes
        for i, probe in enumerate(probes):
            if row["floor_kind"] == "int8":
                floor = row["gmacs"] / probe["int8_gmacs"] * 1e3
            else:
                floor = 2 * row["gmacs"] / probe["fp32_gflops"] * 1e3
            assert row["floor_ms_rounds"][i] == pytest.approx(floor)
            ratio = row["model_ms_rounds"][i] / floor
            assert row["floor_ratio_rounds"][i] == pytest.approx(ratio)
        assert row["floor_ratio"] == pytest.approx(sum(row["floor_ratio_rounds"]) / 2)
        assert row["model_median_ms"] == pytest.approx(sum(row["model_ms_rounds"]) / 2)
        assert row["frames"] == 3 * 2  # three sequences, two tracked frames each
    # OpenVINO runs the ONNX engine's file; it is not exported twice.
    assert not list((tmp_path / "work" / "tiny_test").glob("openvino*"))
    assert rows["openvino"]["file_mb"] == rows["onnx"]["file_mb"]
    for name in ("tflite-fp32", "onnx", "openvino"):
        row = rows[name]
        assert max(row["max_diff"].values()) < 1e-4
        assert row["crop_iou"] > 0.9999 and row["mean_iou"] > 0.999
        assert row["file_mb"] > 0 and row["peak_rss_mb"] > 0
        keras_row = rows["keras"]["sequence_iou"]
        assert set(row["sequence_iou"]) == set(keras_row) and len(keras_row) == 3
        for sequence, value in row["sequence_iou"].items():
            assert value["reference"] > 0.999
            assert value["ground_truth"] == pytest.approx(
                keras_row[sequence]["ground_truth"], abs=1e-3
            )
    assert rows["tflite-fp32"]["partitions"] == 1
    table = (tmp_path / "export.md").read_text()
    row = rows["onnx"]
    spread = f"{min(row['model_ms_rounds']):.1f}–{max(row['model_ms_rounds']):.1f}"
    assert (
        f"| {row['model_median_ms']:.1f} ({spread}) | {row['floor_ratio']:.2f} (fp32) |"
        in table
    )
    row = rows["onnx-dynamic"]
    assert f"| {row['floor_ratio']:.2f} (int8) |" in table
    int8_floor = row["gmacs"] / probes[1]["int8_gmacs"] * 1e3
    assert f"| tiny_test | 2 | reversed | {probes[1]['fp32_gflops']:.0f} |" in table
    assert f"| {int8_floor:.2f} |" in table
    assert "--rounds 2" in table
    assert "Each engine is timed alone in a fresh process" in table
    assert "round-robin" not in table
    assert "## Closed-loop tracking per sequence" in table
    assert (
        "Weights: random(seed=0).\nWith random weights the rows measure speed" in table
    )

    # A run cut off inside round 2 measures only what is missing.
    del cache["tiny_test/onnx"]
    del cache["tiny_test/round-2"]["engines"]["tflite-fp32"]
    results.write_text(json.dumps(cache))
    assert main(arguments) == 0
    assert _round_lines(capsys.readouterr().out) == [(2, "tflite-fp32")]
    resumed = json.loads(results.read_text())
    assert resumed["tiny_test/round-1"] == cache["tiny_test/round-1"]
    for name in ("keras", "onnx"):
        assert resumed[f"tiny_test/{name}"]["pids"] == rows[name]["pids"]
    new_pid = resumed["tiny_test/tflite-fp32"]["pids"][1]
    assert new_pid not in pids
    assert resumed["tiny_test/tflite-fp32"]["pids"][0] == rows["tflite-fp32"]["pids"][0]
    assert main(arguments) == 0
    assert "kept from" in capsys.readouterr().out


def test_floor_kinds():
    from keras_loretrack.benchmarking.rounds import floor_kind, floor_ms

    assert [floor_kind(e) for e in ("tflite-int8-mixed", "onnx-dynamic")] == [
        "int8",
        "int8",
    ]
    assert [floor_kind(e) for e in ("keras", "tflite-fp16", "torch-fp32")] == [
        "fp32",
        "fp32",
        "fp32",
    ]
    assert floor_kind("torch-int8") == "int8"
    probe = {"fp32_gflops": 100.0, "int8_gmacs": 50.0}
    assert floor_ms(probe, "fp32", 2.0) == pytest.approx(40.0)
    assert floor_ms(probe, "int8", 2.0) == pytest.approx(40.0)
    assert floor_ms({"fp32_gflops": 100.0}, "int8", 2.0) is None


def test_sequence_ious_against_reference_and_valid_ground_truth():
    import numpy as np

    from keras_loretrack.benchmarking.fidelity import sequence_ious
    from keras_loretrack.sequences import Sequence

    truth = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 0, 0], [0, 0, 10, 10]])
    sequence = Sequence("s", lambda i: None, truth.astype(float), num_frames=4)
    tracked = np.array([[0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 10], [5, 0, 10, 10]])
    reference = np.array([[0, 0, 10, 10]] * 4)
    result = sequence_ious({"s": tracked}, {"s": reference}, [sequence])
    # frames 1..3 against the reference: 0.5, 1, 1/3; frame 2 has no valid truth
    assert result["s"]["reference"] == pytest.approx((0.5 + 1 + 1 / 3) / 3)
    assert result["s"]["ground_truth"] == pytest.approx((0.5 + 1 / 3) / 2)
    short = sequence_ious({"s": tracked[:2]}, {"s": reference[:2]}, [sequence])
    assert short["s"]["ground_truth"] == pytest.approx(0.5)
    unlabelled = Sequence("s", lambda i: None, truth[:1].astype(float), num_frames=4)
    result = sequence_ious({"s": tracked}, {"s": reference}, [unlabelled])
    assert result["s"]["ground_truth"] is None


def test_torch_engine_matches_keras(tiny_model, check_pairs, tmp_path):
    pytest.importorskip("torch")
    import numpy as np

    from keras_loretrack.benchmarking.engines import TorchEngine, architecture_of

    state = tmp_path / "state.npz"
    np.savez(state, **official_state_dict(tiny_model))
    engine = TorchEngine(str(state), architecture_of(tiny_model), False, 1)
    for pair, expected in check_pairs[:2]:
        maps = engine(pair["template"], pair["search"])
        for key, value in expected.items():
            np.testing.assert_allclose(maps[key], value, atol=1e-5, err_msg=key)


def test_unknown_engines_and_sequences_exit_2(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"Unknown engines \['tflite-int4'\]"):
        parse_list("keras,tflite-int4", ENGINES, "engine")
    status = main(
        [
            "bench",
            "--sequences",
            str(tmp_path / "none"),
            "--output",
            str(tmp_path / "x.md"),
        ]
    )
    assert status == 2
    assert "--sequences folder not found" in capsys.readouterr().err
    status = main(
        ["bench", "--sequences", ".", "--rounds", "0", "--output", str(tmp_path / "x")]
    )
    assert status == 2
    assert "--rounds must be >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
