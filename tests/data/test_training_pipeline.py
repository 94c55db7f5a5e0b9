import cv2
import numpy as np
import pytest

from keras_loretrack.data.augmentation import PairAugmentation
from keras_loretrack.data.crops import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CropGeometry,
    normalize,
    sample_target,
)
from keras_loretrack.data.pipeline import (
    PairProcessor,
    box_in_crop,
    make_training_dataset,
    make_validation_dataset,
    steps_per_epoch,
)
from keras_loretrack.data.sampling import PairSampler, SampledPair, sample_rng
from keras_loretrack.sequences.procedural import procedural_dataset
from tests.data.conftest import rect_sequence

SIZES = {"geometry": CropGeometry(48, 24, 5.0, 2.0)}
GEOMETRY_64 = CropGeometry(64, 32, 5.0, 2.0)


def _moving_rects(num_frames=30, image_size=(120, 160)):
    rng = np.random.default_rng(0)
    xy = np.stack(
        [np.linspace(20, 110, num_frames), np.linspace(30, 70, num_frames)], axis=1
    )
    wh = rng.integers(14, 30, (num_frames, 2))
    return rect_sequence(np.round(np.concatenate([xy, wh], axis=1)), image_size)


def _denormalize(crop):
    return (crop * IMAGENET_STD + IMAGENET_MEAN) * 255.0


def test_unaugmented_crops_are_the_trackers_crops():
    sequence = _moving_rects()
    processor = PairProcessor(
        PairSampler([[sequence]]), GEOMETRY_64, augmentation=PairAugmentation.none()
    )
    pair = SampledPair(sequence, 3, 17, 0)
    sample = processor.process(pair, np.random.default_rng(0))
    template, _ = sample_target(sequence.frame(3), sequence.ground_truth[3], 2.0, 32)
    search, factor = sample_target(
        sequence.frame(17), sequence.ground_truth[17], 5.0, 64
    )
    np.testing.assert_array_equal(sample["template"], normalize(template))
    np.testing.assert_array_equal(sample["search"], normalize(search))
    w, h = sequence.ground_truth[17, 2:] * factor / 64
    np.testing.assert_allclose(
        sample["box"], [0.5 - w / 2, 0.5 - h / 2, 0.5 + w / 2, 0.5 + h / 2], atol=1e-6
    )
    side = np.sqrt(np.prod(sequence.ground_truth[17, 2:]))
    np.testing.assert_allclose(np.sqrt(w * h), side * factor / 64, rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(w * h), 1 / 5.0, rtol=0.05)


def test_box_in_crop_against_a_hand_computed_case():
    # Crop of side 100 around centre (50, 60) resized to 200: factor 2.
    box = box_in_crop([40, 55, 10, 20], (50.0, 60.0), 2.0, 200)
    np.testing.assert_allclose(box * 200, [80, 90, 100, 130])


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_target_box_covers_the_drawn_rectangle_under_jitter(flip):
    sequence = _moving_rects()
    augmentation = PairAugmentation(
        flip_probability=flip, grayscale_probability=0.0, brightness_jitter=0.0
    )
    processor = PairProcessor(
        PairSampler([[sequence]]), GEOMETRY_64, augmentation=augmentation
    )
    checked = 0
    for index in range(40):
        rng = sample_rng(0, 0, index)
        pair = processor.sampler.sample(rng)
        sample = processor.process(pair, rng)
        if sample is None:
            continue
        x1, y1, x2, y2 = sample["box"]
        if min(x1, y1) <= 0 or max(x2, y2) >= 1:
            continue
        ys, xs = np.nonzero(_denormalize(sample["search"])[..., 0] > 125)
        if len(xs) < 4:
            continue
        drawn = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        template_rect = _denormalize(sample["template"])[..., 0] > 125
        assert template_rect[16, 16]  # the template is centred on the target
        resize_factor = (x2 - x1) * 64 / pair.search_box[2]
        tolerance = 0.5 * resize_factor + 1.0
        np.testing.assert_allclose(drawn, sample["box"] * 64, atol=tolerance)
        checked += 1
    assert checked >= 15


def _small_sources():
    return [procedural_dataset(3, num_frames=12, image_size=(48, 64))]


def _batches(dataset, count=None):
    batches = list(dataset.take(count) if count else dataset)
    return [
        (x["template"].numpy(), x["search"].numpy(), y["box"].numpy())
        for x, y in batches
    ]


def _assert_same(a, b):
    assert len(a) == len(b)
    for batch_a, batch_b in zip(a, b):
        for array_a, array_b in zip(batch_a, batch_b):
            np.testing.assert_array_equal(array_a, array_b)


def test_same_seed_same_batches_also_in_parallel():
    sources = _small_sources()
    kwargs = dict(SIZES, batch_size=2, samples_per_epoch=6, num_epochs=1)
    first = _batches(
        make_training_dataset(sources, seed=5, num_parallel_calls=3, **kwargs)
    )
    second = _batches(
        make_training_dataset(sources, seed=5, num_parallel_calls=1, **kwargs)
    )
    _assert_same(first, second)
    assert len(first) == 3
    other = _batches(make_training_dataset(sources, seed=6, **kwargs))
    assert not np.array_equal(first[0][1], other[0][1])


def test_dataset_runs_opencv_single_threaded_with_the_same_crops():
    """The map parallelises samples; OpenCV's own pool would oversubscribe."""
    sources = [procedural_dataset(2, num_frames=8, image_size=(480, 640))]
    geometry = CropGeometry(256, 128, 5.0, 2.0)
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(4)
        processor = PairProcessor(PairSampler(sources), geometry, seed=3)
        expected = [processor(0, index) for index in range(2)]
        dataset = make_training_dataset(
            sources, geometry=geometry, batch_size=2, samples_per_epoch=2, seed=3
        )
        assert cv2.getNumThreads() == 1
        (template, search, box) = _batches(dataset, 1)[0]
    finally:
        cv2.setNumThreads(before)
    np.testing.assert_array_equal(template, [s["template"] for s in expected])
    np.testing.assert_array_equal(search, [s["search"] for s in expected])
    np.testing.assert_array_equal(box, [s["box"] for s in expected])


def test_epochs_differ_and_resume_continues_the_stream():
    sources = _small_sources()
    kwargs = dict(SIZES, batch_size=2, samples_per_epoch=4, seed=1)
    endless = make_training_dataset(sources, **kwargs)
    assert endless.cardinality().numpy() == -1  # tf.data.INFINITE_CARDINALITY
    stream = _batches(endless, 4)
    assert not np.array_equal(stream[0][1], stream[2][1])
    resumed = _batches(make_training_dataset(sources, initial_epoch=1, **kwargs), 2)
    _assert_same(stream[2:], resumed)


def test_batch_structure_and_ranges():
    dataset = make_training_dataset(
        _small_sources(), batch_size=3, samples_per_epoch=7, num_epochs=2, **SIZES
    )
    assert len(dataset) == 2 * steps_per_epoch(7, 3) == 4
    inputs, targets = dataset.element_spec
    assert inputs["template"].shape == (3, 24, 24, 3)
    assert inputs["search"].shape == (3, 48, 48, 3)
    assert targets["box"].shape == (3, 4)
    template, search, box = _batches(dataset, 1)[0]
    assert template.dtype == search.dtype == box.dtype == np.float32
    assert (box >= 0).all() and (box <= 1).all()
    assert (box[:, 2] > box[:, 0]).all() and (box[:, 3] > box[:, 1]).all()
    pixels = _denormalize(search)
    assert pixels.min() > -0.01 and pixels.max() < 255.01


def test_validation_dataset_is_fixed_and_finite():
    sources = _small_sources()
    kwargs = dict(SIZES, batch_size=2, num_samples=5, seed=3)
    first = make_validation_dataset(sources, **kwargs)
    assert len(first) == 2
    _assert_same(_batches(first), _batches(first))
    _assert_same(_batches(first), _batches(make_validation_dataset(sources, **kwargs)))
    centred = make_validation_dataset(
        sources, augmentation=PairAugmentation.none(), **kwargs
    )
    box = _batches(centred)[0][2]
    np.testing.assert_allclose((box[:, :2] + box[:, 2:]) / 2, 0.5, atol=1e-6)


def test_fit_consumes_the_stream():
    import keras

    template = keras.Input((24, 24, 3), name="template")
    search = keras.Input((48, 48, 3), name="search")
    pooled = keras.layers.Concatenate()(
        [
            keras.layers.GlobalAveragePooling2D()(template),
            keras.layers.GlobalAveragePooling2D()(search),
        ]
    )
    box = keras.layers.Dense(4, name="box")(pooled)
    model = keras.Model({"template": template, "search": search}, {"box": box})
    model.compile(optimizer="sgd", loss={"box": "mse"})
    dataset = make_training_dataset(
        _small_sources(), batch_size=2, samples_per_epoch=4, **SIZES
    )
    history = model.fit(
        dataset,
        epochs=2,
        steps_per_epoch=steps_per_epoch(4, 2),
        verbose=0,
        shuffle=False,
    )
    assert np.isfinite(history.history["loss"]).all()


def test_unusable_targets_raise_after_retries():
    outside = rect_sequence([[-900.0, -900.0, 10.0, 10.0]] * 3)
    processor = PairProcessor(PairSampler([[outside]]), SIZES["geometry"], max_tries=3)
    with pytest.raises(RuntimeError, match="no usable pair in 3 draws"):
        processor(0, 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 8, "samples_per_epoch": 4}, r"must be >= batch_size"),
        ({"initial_epoch": -1}, "initial_epoch must be >= 0"),
        ({"num_epochs": 0}, "num_epochs must be None or >= 1"),
        (
            {"geometry": {**SIZES["geometry"].as_dict(), "search_size": 0}},
            "search_size must be a positive integer",
        ),
        ({"seed": -2}, "seed must be an integer >= 0"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_training_dataset(_small_sources(), **{**SIZES, **kwargs})


def test_pipeline_reads_written_sequences_through_the_dataset_registry(tmp_path):
    from keras_loretrack.sequences import get_dataset
    from keras_loretrack.sequences.procedural import make_sequence, write_sequence

    for seed in (0, 1):
        sequence = make_sequence(seed, num_frames=10, image_size=(48, 64))
        write_sequence(sequence, tmp_path / sequence.name)
    folder = get_dataset("folder", tmp_path)
    assert len(folder) == 2
    dataset = make_training_dataset(
        [folder], batch_size=2, samples_per_epoch=4, num_epochs=1, **SIZES
    )
    template, search, box = _batches(dataset, 1)[0]
    assert np.isfinite(search).all() and (box[:, 2] > box[:, 0]).all()


def test_real_sequences_crop_like_the_tracker(sequences_dir):
    from keras_loretrack.sequences import Sequence

    sequence = Sequence.from_otb_folder(sequences_dir / "Crossing")
    processor = PairProcessor(
        PairSampler([[sequence]]), GEOMETRY_64, augmentation=PairAugmentation.none()
    )
    rng = sample_rng(0, 0, 0)
    pair = processor.sampler.sample(rng)
    assert pair.template_index < pair.search_index <= pair.template_index + 200
    sample = processor.process(pair, rng)
    search, _ = sample_target(
        sequence.frame(pair.search_index), pair.search_box, 5.0, 64
    )
    np.testing.assert_array_equal(sample["search"], normalize(search))
