"""The LiteRT, ONNX Runtime and OpenVINO engines: trackers that run from the file
alone."""

import numpy as np
import pytest

from keras_loretrack.data.crops import normalize
from keras_loretrack.tracking import Tracker
from keras_loretrack.tracking.file_engine import RenormalizedInputs
from keras_loretrack.tracking.file_metadata import METADATA_KEY, ExportMetadata

pytestmark = pytest.mark.export
TRACKED_FRAMES = 20


def track(tracker, sequence, count):
    boxes = [tracker.initialize(sequence.frame(0), sequence.init_box)["box"]]
    for index in range(1, count):
        boxes.append(tracker.track(sequence.frame(index))["box"])
    return np.array(boxes)


@pytest.fixture(scope="module")
def crossing(sequences_dir):
    from keras_loretrack.sequences import Sequence

    return Sequence.from_otb_folder(sequences_dir / "Crossing")


@pytest.fixture(scope="module")
def keras_boxes(tiny_model, crossing):
    return track(Tracker.from_model(tiny_model), crossing, TRACKED_FRAMES)


# (file format, runtime): every registered engine of an exported file.
RUNTIMES = [("tflite", "litert"), ("onnx", "onnxruntime"), ("onnx", "openvino")]


@pytest.mark.parametrize("fmt, runtime", RUNTIMES)
def test_float_file_tracker_gives_the_keras_boxes(
    fmt, runtime, exported, crossing, keras_boxes
):
    tracker = Tracker.from_file(exported(fmt, "none"), runtime=runtime, num_threads=1)
    assert tracker.engine.name == "tiny_none"
    boxes = track(tracker, crossing, TRACKED_FRAMES)
    # Same crops, maps within 1e-6: boxes agree far below a pixel.
    np.testing.assert_allclose(boxes, keras_boxes, atol=1e-3)
    assert np.ptp(keras_boxes[:, 0]) > 1.0  # the tracker does move


@pytest.mark.parametrize("fmt, runtime", RUNTIMES)
def test_engines_take_sizes_and_factors_from_the_file(fmt, runtime, exported):
    engine = Tracker.from_file(exported(fmt, "none"), runtime=runtime).engine
    assert (engine.search_size, engine.template_size, engine.feature_size) == (
        64,
        32,
        4,
    )
    assert (engine.search_factor, engine.template_factor) == (5.0, 2.0)
    assert engine.num_threads >= 1


@pytest.mark.parametrize("spin", [True, False])
def test_onnx_engine_spins_unless_told_not_to(exported, spin):
    kwargs = {} if spin else {"spin": False}
    engine = Tracker.from_file(exported("onnx", "none"), num_threads=1, **kwargs).engine
    options = engine._session.get_session_options()
    entry = options.get_session_config_entry("session.intra_op.allow_spinning")
    assert entry == ("1" if spin else "0")


@pytest.mark.parametrize("fmt, runtime", RUNTIMES)
def test_wrong_input_shapes_are_errors(fmt, runtime, exported):
    engine = Tracker.from_file(
        exported(fmt, "none"), runtime=runtime, num_threads=1
    ).engine
    template = np.zeros((1, 32, 32, 3), np.float32)
    with pytest.raises(ValueError, match=r"search must have shape \(1, 64, 64, 3\)"):
        engine(template, np.zeros((1, 32, 32, 3), np.float32))


def test_tflite_without_metadata_is_an_error(exported, tmp_path):
    from tensorflow.lite.tools import flatbuffer_utils

    with open(exported("tflite", "none"), "rb") as f:
        model = flatbuffer_utils.read_model_from_bytearray(bytearray(f.read()))
    model.metadata = [m for m in model.metadata if m.name != METADATA_KEY.encode()]
    path = tmp_path / "bare.tflite"
    path.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    with pytest.raises(ValueError, match="has no 'keras_loretrack' metadata"):
        Tracker.from_file(path)


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_onnx_without_metadata_is_an_error(runtime, exported, tmp_path):
    import onnx

    model = onnx.load(exported("onnx", "none"))
    del model.metadata_props[:]
    path = tmp_path / "bare.onnx"
    onnx.save(model, path)
    with pytest.raises(ValueError, match="has no 'keras_loretrack' metadata"):
        Tracker.from_file(path, runtime=runtime)


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_a_broken_onnx_file_is_an_error(runtime, tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a protobuf")
    with pytest.raises(ValueError, match="broken.onnx is not a valid ONNX model"):
        Tracker.from_file(path, runtime=runtime)


def test_openvino_runs_the_static_int8_file_within_its_tolerance(
    exported, check_pairs, tolerance
):
    from keras_loretrack.tracking.openvino_engine import OpenVinoEngine

    path = exported("onnx", "int8")
    engine = OpenVinoEngine(path, num_threads=1)
    for pair, keras_maps in check_pairs:
        maps = engine(pair["template"], pair["search"])
        for name, expected in keras_maps.items():
            assert np.abs(maps[name] - expected).max() <= tolerance("onnx", "int8")
    with pytest.raises(ValueError, match="precision must be one of"):
        OpenVinoEngine(path, precision="int4")


def test_missing_file_and_unknown_extension_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Model file not found"):
        Tracker.from_file(tmp_path / "absent.tflite")
    with pytest.raises(ValueError, match="No tracking engine is registered for '.pb'"):
        Tracker.from_file(tmp_path / "model.pb")


def test_other_normalisations_are_converted_from_the_trackers():
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (1, 8, 8, 3), np.uint8)
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.5, 1.0)
    converted = RenormalizedInputs(mean, std)(normalize(crops))
    expected = (crops / 255.0 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(converted, expected, atol=1e-5)
    default = ExportMetadata(8, 4, 1, 5.0, 2.0)
    identity = RenormalizedInputs(default.mean, default.std)
    assert identity.identity
    np.testing.assert_array_equal(identity(normalize(crops)), normalize(crops))


def uint8_onnx(path, scale, zero_point, metadata):
    """A hand-made graph with uint8 `search` and `score_map`: maps are crop slices."""
    import onnx
    from onnx import TensorProto, helper

    def const(name, values, dtype=TensorProto.INT64):
        return helper.make_tensor(name, dtype, [len(values)], values)

    nodes = [
        helper.make_node(
            "DequantizeLinear", ["search", "scale", "zero"], ["search_float"]
        ),
        helper.make_node(
            "Slice", ["search_float", "starts1", "ends1", "axes"], ["score_float"]
        ),
        helper.make_node(
            "QuantizeLinear", ["score_float", "scale", "zero"], ["score_map"]
        ),
        helper.make_node(
            "Slice", ["search_float", "starts2", "ends2", "axes"], ["size_map"]
        ),
        helper.make_node(
            "Slice", ["search_float", "starts3", "ends3", "axes"], ["offset_map"]
        ),
    ]
    initializers = [
        helper.make_tensor("scale", TensorProto.FLOAT, [], [scale]),
        helper.make_tensor("zero", TensorProto.UINT8, [], [zero_point]),
        const("axes", [1, 2, 3]),
        const("starts1", [0, 0, 0]),
        const("ends1", [2, 2, 1]),
        const("starts2", [2, 2, 0]),
        const("ends2", [4, 4, 2]),
        const("starts3", [0, 2, 1]),
        const("ends3", [2, 4, 3]),
    ]
    graph = helper.make_graph(
        nodes,
        "uint8_maps",
        [
            helper.make_tensor_value_info("template", TensorProto.FLOAT, [1, 2, 2, 3]),
            helper.make_tensor_value_info("search", TensorProto.UINT8, [1, 4, 4, 3]),
        ],
        [
            helper.make_tensor_value_info("score_map", TensorProto.UINT8, [1, 2, 2, 1]),
            helper.make_tensor_value_info("size_map", TensorProto.FLOAT, [1, 2, 2, 2]),
            helper.make_tensor_value_info(
                "offset_map", TensorProto.FLOAT, [1, 2, 2, 2]
            ),
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, metadata.to_json()
    onnx.save(model, path)


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_onnx_engines_quantize_integer_inputs_and_outputs(runtime, tmp_path):
    from keras_loretrack.tracking.engines import engine_from_file

    scale, zero_point = 0.05, 128
    metadata = ExportMetadata(
        search_size=4,
        template_size=2,
        feature_size=2,
        search_factor=5.0,
        template_factor=2.0,
        io_quantization={
            "search": [scale, zero_point],
            "score_map": [scale, zero_point],
        },
    )
    path = tmp_path / "uint8.onnx"
    uint8_onnx(path, scale, zero_point, metadata)
    engine = engine_from_file(path, runtime=runtime, num_threads=1)
    rng = np.random.default_rng(1)
    search = rng.uniform(-2, 2, (1, 4, 4, 3)).astype(np.float32)
    maps = engine(np.zeros((1, 2, 2, 3), np.float32), search)
    stepped = (
        np.clip(np.round(search / scale) + zero_point, 0, 255) - zero_point
    ) * scale
    np.testing.assert_allclose(maps["score_map"], stepped[:, :2, :2, :1], atol=1e-6)
    np.testing.assert_allclose(maps["size_map"], stepped[:, 2:, 2:, :2], atol=1e-6)
    np.testing.assert_allclose(maps["offset_map"], stepped[:, :2, 2:, 1:], atol=1e-6)
    assert maps["score_map"].dtype == np.float32

    plain = ExportMetadata(4, 2, 2, 5.0, 2.0)
    uint8_onnx(tmp_path / "unscaled.onnx", scale, zero_point, plain)
    with pytest.raises(ValueError, match="'search' is .*uint8.* but the metadata"):
        engine_from_file(tmp_path / "unscaled.onnx", runtime=runtime)


def test_the_cli_tracks_a_file_with_the_runtime_it_names(
    exported, crossing, keras_boxes, tmp_path
):
    import cv2

    from keras_loretrack.cli.main import main
    from keras_loretrack.sequences.annotations import read_boxes

    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(5):
        bgr = cv2.cvtColor(crossing.frame(index), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(frames / f"{index + 1:04d}.png"), bgr)
    boxes = tmp_path / "boxes.txt"
    init = ",".join(str(v) for v in crossing.init_box)
    argv = ["track", "--model", exported("onnx", "none"), "--runtime", "openvino"]
    argv += ["--frames", str(frames), "--init", init, "--output-boxes", str(boxes)]
    assert main(argv) == 0
    np.testing.assert_allclose(read_boxes(boxes), keras_boxes[:5], atol=1e-3)
