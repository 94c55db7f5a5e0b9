import numpy as np
import pytest

from keras_loretrack.data.crops import normalize, sample_target
from keras_loretrack.sequences import Sequence
from keras_loretrack.tracking import Tracker
from keras_loretrack.tracking.postprocess import decode_box


def frame(height=200, width=300, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def test_track_reproduces_hand_computed_boxes(scripted_engine):
    tracker = Tracker(scripted_engine)
    tracker.initialize(frame(), (100, 80, 20, 20))
    out = tracker.track(frame(seed=1))
    # crop 100 px, 64 / 100 model px per image px: normalised (0.5, 0.5, 0.2,
    # 0.4) is (50, 50, 20, 40) crop px around the previous centre (110, 90).
    np.testing.assert_allclose(out["box"], [100, 70, 20, 40])
    assert out["box"].dtype == np.float64
    assert out["score"] == pytest.approx(0.9)
    # crop ceil(sqrt(800) * 5) = 142 px: (71, 71, 28.4, 56.8) crop px.
    out = tracker.track(frame(seed=2))
    np.testing.assert_allclose(out["box"], [95.8, 61.6, 28.4, 56.8])


def test_hann_window_moves_the_choice_off_a_border_peak(make_engine):
    score = np.full((4, 4), 0.1, np.float32)
    score[0, 0], score[1, 1] = 0.95, 0.5
    tracker = Tracker(make_engine(size_wh=(0.2, 0.2), score=score))
    tracker.initialize(frame(), (100, 80, 20, 20))
    out = tracker.track(frame())
    # cell (1, 1): centre 0.25 of the 100 px crop -> 25 + 110 - 50 = 85.
    np.testing.assert_allclose(out["box"], [75, 55, 20, 20])
    assert out["score"] == pytest.approx(0.5)


def test_engine_receives_the_official_crops(scripted_engine):
    tracker = Tracker(scripted_engine)
    first, second, third = frame(seed=0), frame(seed=1), frame(seed=2)
    tracker.initialize(first, (100, 80, 20, 20))
    state = tracker.track(second)["box"]
    tracker.track(third)
    template = normalize(sample_target(first, (100, 80, 20, 20), 2.0, 32)[0])[None]
    search_1 = normalize(sample_target(second, (100, 80, 20, 20), 5.0, 64)[0])[None]
    search_2 = normalize(sample_target(third, state, 5.0, 64)[0])[None]
    (t1, s1), (t2, s2) = scripted_engine.calls
    np.testing.assert_array_equal(t1, template)
    np.testing.assert_array_equal(t2, template)
    np.testing.assert_array_equal(s1, search_1)
    np.testing.assert_array_equal(s2, search_2)
    assert s1.dtype == np.float32 and s1.shape == (1, 64, 64, 3)


def test_target_leaving_the_frame_keeps_a_ten_pixel_box(make_engine):
    # The peak sits at the right border with a large offset: every frame the
    # box moves right by about half a crop until it is pinned to the border.
    tracker = Tracker(make_engine((2, 3), (0.1, 0.1), (0.9, 0.0)))
    tracker.initialize(frame(), (250, 80, 20, 20))
    for _ in range(20):
        out = tracker.track(frame())
    x, y, w, h = out["box"]
    assert x == 290 and w == 10
    assert np.isfinite(out["box"]).all() and h >= 10


def test_target_shrinking_to_nothing_stays_ten_pixels(make_engine):
    tracker = Tracker(make_engine(size_wh=(1e-4, 1e-4)))
    tracker.initialize(frame(), (100, 80, 40, 40))
    for _ in range(5):
        out = tracker.track(frame())
    np.testing.assert_allclose(out["box"][2:], [10, 10])


def test_non_finite_engine_output_is_reported(make_engine):
    tracker = Tracker(make_engine(offset_xy=(np.nan, 0.0)))
    tracker.initialize(frame(), (100, 80, 20, 20))
    with pytest.raises(FloatingPointError, match="non-finite box"):
        tracker.track(frame())


def test_engine_map_of_the_wrong_size_is_reported(scripted_engine):
    tracker = Tracker(scripted_engine)
    tracker.initialize(frame(), (100, 80, 20, 20))
    scripted_engine.score = np.zeros((5, 5), np.float32)
    with pytest.raises(ValueError, match=r"score map of shape \(5, 5\), expected"):
        tracker.track(frame())


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (np.zeros((20, 30, 3), np.float32), TypeError, "uint8 RGB.*float32"),
        ([[0, 0], [0, 0]], TypeError, "numpy uint8 arrays.*list"),
        (
            np.zeros((20, 30, 2), np.uint8),
            ValueError,
            r"1, 3 or 4 channels .*, got 2 \(shape",
        ),
        (np.zeros((1, 20, 30, 3), np.uint8), ValueError, r"got \(1, 20, 30, 3\)"),
        (np.zeros((0, 30, 3), np.uint8), ValueError, "Frame is empty"),
        (np.zeros((20, 0), np.uint8), ValueError, "Frame is empty"),
    ],
)
def test_bad_frames_are_rejected(scripted_engine, bad, error, message):
    tracker = Tracker(scripted_engine)
    with pytest.raises(error, match=message):
        tracker.initialize(bad, (5, 5, 10, 10))
    tracker.initialize(frame(), (5, 5, 10, 10))
    with pytest.raises(error, match=message):
        tracker.track(bad)


@pytest.mark.parametrize(
    "box, message",
    [
        ((10, 10, float("nan"), 20), "finite"),
        ((10, float("inf"), 20, 20), "finite"),
        ((10, 10, 0, 20), r"width and height must be > 0, got w=0.0"),
        ((10, 10, 20, -3), "h=-3.0"),
        ((300, 10, 20, 20), "entirely outside the 300x200 frame"),
        ((-20, 10, 20, 20), "entirely outside"),
        ((10, -50, 20, 40), "entirely outside"),
        ((10, 10, 20), r"4 numbers x, y, w, h, got shape \(3,\)"),
        ("abcd", "4 numbers"),
    ],
)
def test_bad_init_boxes_are_rejected(scripted_engine, box, message):
    with pytest.raises(ValueError, match=message):
        Tracker(scripted_engine).initialize(frame(), box)


def test_track_before_initialize(scripted_engine):
    with pytest.raises(RuntimeError, match="before Tracker.initialize"):
        Tracker(scripted_engine).track(frame())


def test_grayscale_and_rgba_frames_are_converted(make_engine):
    gray = frame()[:, :, 0]
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    rgba = np.concatenate([frame(seed=3), np.full((200, 300, 1), 7, np.uint8)], 2)
    runs = {}
    for name, frames in {
        "gray": [gray, gray],
        "gray1": [gray[:, :, None], gray[:, :, None]],
        "rgb": [rgb, rgb],
        "rgba": [rgba, rgba],
        "rgb_of_rgba": [rgba[:, :, :3], rgba[:, :, :3]],
    }.items():
        engine = make_engine((1, 2), (0.2, 0.3), (0.4, 0.1))
        tracker = Tracker(engine)
        tracker.initialize(frames[0], (100, 80, 20, 20))
        runs[name] = (tracker.track(frames[1])["box"], engine.calls[0])
    for a, b in (("gray", "rgb"), ("gray1", "rgb"), ("rgba", "rgb_of_rgba")):
        np.testing.assert_array_equal(runs[a][0], runs[b][0])
        np.testing.assert_array_equal(runs[a][1][0], runs[b][1][0])
        np.testing.assert_array_equal(runs[a][1][1], runs[b][1][1])


class FactorEngine:
    """A duck-typed engine: the crop attributes without an `Engine` base."""

    search_size, template_size, template_factor, feature_size = 64, 32, 2.0, 4

    def __init__(self, search_factor):
        self.search_factor = search_factor

    def __call__(self, template, search):
        raise AssertionError("not called")


def test_tracker_checks_its_engine(make_engine):
    with pytest.raises(TypeError, match="lacks"):
        Tracker(object())
    assert Tracker(FactorEngine(5.0)).geometry == make_engine().geometry
    engine = FactorEngine(-1.0)
    with pytest.raises(ValueError, match="search_factor must be a positive number"):
        Tracker(engine)


def test_from_file_without_engine_is_a_clear_error(tmp_path):
    path = tmp_path / "model.xyz"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"No tracking engine is registered"):
        Tracker.from_file(path)


def test_decoding_agrees_with_the_model_boxes_output(tiny_model):
    # The model decodes at the raw argmax; the tracker's decoder must agree
    # when given the unwindowed score map.
    rng = np.random.default_rng(1)
    inputs = {
        "template": rng.normal(size=(1, 32, 32, 3)).astype("float32"),
        "search": rng.normal(size=(1, 64, 64, 3)).astype("float32"),
    }
    out = {k: np.asarray(v) for k, v in tiny_model(inputs, training=False).items()}
    box, _ = decode_box(
        out["score_map"][0, :, :, 0], out["size_map"][0], out["offset_map"][0]
    )
    np.testing.assert_allclose(box, out["boxes"][0], atol=1e-6)


def test_tiny_preset_on_a_real_sequence(sequences_dir, tiny_model):
    sequence = Sequence.from_otb_folder(sequences_dir / "Crossing")
    tracker = Tracker.from_model(tiny_model)
    first = sequence.frame(0)
    height, width = first.shape[:2]
    out = tracker.initialize(first, sequence.init_box)
    np.testing.assert_array_equal(out["box"], sequence.init_box)
    for index in range(1, 12):
        out = tracker.track(sequence.frame(index))
        x, y, w, h = out["box"]
        assert out["box"].shape == (4,) and np.isfinite(out["box"]).all()
        assert w >= 10 and h >= 10 and 0 <= x <= width - 10 and 0 <= y <= height - 10
        assert x + w <= width + 1e-9 or w == 10
        assert 1e-4 <= out["score"] <= 1 - 1e-4
