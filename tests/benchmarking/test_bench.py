import json
import os

import pytest

from keras_loretrack.benchmarking.engines import ENGINES
from keras_loretrack.checkpoints.official_mapping import official_state_dict
from keras_loretrack.cli.bench import parse_list
from keras_loretrack.cli.main import main
from tests.presets import TINY_TEST

pytestmark = pytest.mark.export


def test_bench_writes_a_table_and_resumes(tmp_path, sequences_dir, capsys, monkeypatch):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(os.path.dirname(TINY_TEST))  # `tiny_test` is a folder there
    output = tmp_path / "export.md"
    arguments = [
        "bench",
        "--presets",
        "tiny_test",
        "--engines",
        "tflite-fp32,onnx",
        "--sequences",
        str(sequences_dir),
        "--threads",
        "1",
        "--max-frames",
        "3",
        "--work-dir",
        str(tmp_path / "work"),
        "--output",
        str(output),
    ]
    assert main(arguments) == 0
    rows = json.loads((tmp_path / "work" / "results.json").read_text())
    assert set(rows) == {"tiny_test/keras", "tiny_test/tflite-fp32", "tiny_test/onnx"}
    for name in ("tflite-fp32", "onnx"):
        row = rows[f"tiny_test/{name}"]
        assert max(row["max_diff"].values()) < 1e-4
        assert row["crop_iou"] > 0.9999 and row["mean_iou"] > 0.999
        assert row["frames"] == 3 * 2  # three sequences, two tracked frames each
        assert row["file_mb"] > 0 and row["peak_rss_mb"] > 0
        keras_row = rows["tiny_test/keras"]["sequence_iou"]
        assert set(row["sequence_iou"]) == set(keras_row) and len(keras_row) == 3
        for sequence, value in row["sequence_iou"].items():
            assert value["reference"] > 0.999
            assert value["ground_truth"] == pytest.approx(
                keras_row[sequence]["ground_truth"], abs=1e-3
            )
    assert rows["tiny_test/tflite-fp32"]["partitions"] == 1
    row = rows["tiny_test/onnx"]
    floor_ms = row["gmacs"] / max(row["int8_matmul_gmacs"]) * 1e3
    table = output.read_text()
    assert f"need at least {floor_ms:.1f} ms in int8" in table
    assert "| tiny_test | tflite-fp32 |" in table and "| tiny_test | onnx |" in table
    assert "## Closed-loop tracking per sequence" in table
    capsys.readouterr()
    assert main(arguments) == 0
    assert "kept from" in capsys.readouterr().out


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
