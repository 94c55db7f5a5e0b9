"""The tf.data training and validation pipelines of template/search pairs.

Each sample is a pure function of `(seed, epoch, index)`: its own numpy
Generator drives the pair sampler, the augmentation and the jitter, and the
crops are made in numpy/OpenCV by `sample_target`, the tracker's own crop. The
map over sample indices is parallel but ordered (`deterministic=True`), so two
datasets built with the same arguments give bit-identical batches.
Building a dataset sets OpenCV to one thread (`cv2.setNumThreads(1)`): the map
already prepares one sample per core, and OpenCV's own pool on top of it only
oversubscribes them (on 2 cores it cost a quarter of the pairs per second, see
`benchmarks/results/data_throughput.md`); OpenCV's results do not depend on
its thread count.

The crops take a model's `CropGeometry` (for LoReTrack, the teacher's). Target
box in the search crop: the crop of side `crop_size = ceil(sqrt(w'h')·factor)`
around the jittered box (centre c') is resized by
`resize_factor = search_size / crop_size`, so a gt box with centre c and size
(w, h) lands at centre `search_size / 2 + (c - c')·resize_factor` with size
`(w, h)·resize_factor`. This is the exact inverse of the tracker's map back to
the frame (around the unrounded previous centre). It differs from
the pixels actually cropped by the rounding of the crop corner (< 0.5 image
px), as in the tracker; OSTrack's training code uses (search_size - 1) / 2 as
the crop centre instead, a half-pixel shift this project does not copy.

Using the training dataset with `model.fit`: the dataset is an endless stream
of batches laid out epoch after epoch (epoch e holds samples (e, 0..n-1) with
n = steps·batch_size), so pass `steps_per_epoch=steps_per_epoch(...)` and
`epochs`; Keras then keeps one iterator across epochs and epoch e sees exactly
the samples of epoch e. After a restart, build the dataset with
`initial_epoch=k` (and `fit(initial_epoch=k)`) to continue with the same data.
`num_epochs=E` gives a finite dataset of E epochs instead (`len()` works).
"""

import cv2
import numpy as np

from keras_loretrack.data.augmentation import PairAugmentation
from keras_loretrack.data.crops import (
    CropGeometry,
    crop_window,
    normalize,
    sample_target,
)
from keras_loretrack.data.sampling import PairSampler, sample_rng


def steps_per_epoch(samples_per_epoch, batch_size):
    """Batches per epoch: `samples_per_epoch // batch_size` (the rest dropped)."""
    steps = int(samples_per_epoch) // int(batch_size)
    if steps < 1:
        raise ValueError(
            f"samples_per_epoch ({samples_per_epoch}) must be >= batch_size "
            f"({batch_size})"
        )
    return steps


def box_in_crop(box, crop_center, resize_factor, output_size):
    """A frame box in a crop's normalised coordinates.

    Args:
        box: x, y, w, h in frame pixels.
        crop_center: (cx, cy), the unrounded centre the crop was made around.
        resize_factor: float. `output_size / crop_size` from `sample_target`.
        output_size: int. Side of the crop.

    Returns:
        float64 array (4,): (x1, y1, x2, y2) / output_size, not clipped.
    """
    x, y, w, h = (float(v) for v in box)
    cx = 0.5 * output_size + (x + 0.5 * w - crop_center[0]) * resize_factor
    cy = 0.5 * output_size + (y + 0.5 * h - crop_center[1]) * resize_factor
    half_w, half_h = 0.5 * w * resize_factor, 0.5 * h * resize_factor
    return np.array([cx - half_w, cy - half_h, cx + half_w, cy + half_h]) / output_size


def _window_overlaps_image(box, factor, image_shape):
    x1, y1, crop_size = crop_window(box, factor)
    height, width = image_shape[:2]
    return x1 < width and y1 < height and x1 + crop_size > 0 and y1 + crop_size > 0


class PairProcessor:
    """Turns sample indices into normalised template/search crops and a box.

    Args:
        sampler: `PairSampler`.
        geometry: `CropGeometry`, or anything `CropGeometry.of` reads (a
            model, a dict). The crops' sides and factors (for LoReTrack, the
            teacher's).
        augmentation: `PairAugmentation`.
        seed: int. The run's seed.
        max_tries: int. Pairs drawn per sample before giving up (a pair is
            redrawn when a crop misses the image or the target leaves the
            search crop).
    """

    def __init__(self, sampler, geometry, augmentation=None, seed=0, max_tries=20):
        if int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.sampler = sampler
        self.geometry = CropGeometry.of(geometry)
        self.augmentation = augmentation or PairAugmentation()
        self.seed = int(seed)
        self.max_tries = int(max_tries)

    def __call__(self, epoch, index):
        """The sample `(epoch, index)`: dict of `template` (Ht, Wt, 3), `search`
        (Hs, Ws, 3) float32 normalised crops and `box` (4,) float32."""
        rng = sample_rng(self.seed, epoch, index)
        for _ in range(self.max_tries):
            sample = self.process(self.sampler.sample(rng), rng)
            if sample is not None:
                return sample
        raise RuntimeError(
            f"Sample (epoch {epoch}, index {index}): no usable pair in "
            f"{self.max_tries} draws (crops missing the image or target outside "
            "the search crop)"
        )

    def process(self, pair, rng):
        """Crops one `SampledPair`; None when the jittered crops are unusable."""
        sequence = pair.sequence
        template_frame = sequence.frame(pair.template_index)
        if pair.search_index == pair.template_index:
            search_frame = template_frame
        else:
            search_frame = sequence.frame(pair.search_index)
        augmentation = self.augmentation
        template_frame, search_frame, template_box, search_box = augmentation.joint(
            template_frame, search_frame, pair.template_box, pair.search_box, rng
        )
        template_crop_box = augmentation.jitter_template(template_box, rng)
        search_crop_box = augmentation.jitter_search(search_box, rng)
        geometry = self.geometry
        if not (
            _window_overlaps_image(
                template_crop_box, geometry.template_factor, template_frame.shape
            )
            and _window_overlaps_image(
                search_crop_box, geometry.search_factor, search_frame.shape
            )
        ):
            return None
        template, _ = sample_target(
            template_frame,
            template_crop_box,
            geometry.template_factor,
            geometry.template_size,
        )
        search, resize_factor = sample_target(
            search_frame, search_crop_box, geometry.search_factor, geometry.search_size
        )
        center = search_crop_box[:2] + 0.5 * search_crop_box[2:]
        box = np.clip(
            box_in_crop(search_box, center, resize_factor, geometry.search_size), 0, 1
        )
        if not (box[2] > box[0] and box[3] > box[1]):
            return None
        return {
            "template": normalize(augmentation.brightness(template, rng)),
            "search": normalize(augmentation.brightness(search, rng)),
            "box": box.astype(np.float32),
        }


def _pair_dataset(
    processor, start, stop, per_epoch, batch_size, num_parallel_calls, prefetch
):
    import tensorflow as tf

    cv2.setNumThreads(1)
    geometry = processor.geometry
    search_shape = (geometry.search_size, geometry.search_size, 3)
    template_shape = (geometry.template_size, geometry.template_size, 3)

    def load(epoch, index):
        sample = processor(int(epoch), int(index))
        return sample["template"], sample["search"], sample["box"]

    def load_tensors(position):
        epoch, index = position // per_epoch, position % per_epoch
        template, search, box = tf.numpy_function(
            load,
            [epoch, index],
            [tf.float32, tf.float32, tf.float32],
            stateful=False,
        )
        template.set_shape(template_shape)
        search.set_shape(search_shape)
        box.set_shape((4,))
        return {"template": template, "search": search}, {"box": box}

    if stop is None:
        positions = tf.data.Dataset.counter(start=start, dtype=tf.int64)
    else:
        positions = tf.data.Dataset.range(start, stop, output_type=tf.int64)
    dataset = positions.map(
        load_tensors,
        num_parallel_calls=num_parallel_calls or tf.data.AUTOTUNE,
        deterministic=True,
    )
    dataset = dataset.batch(batch_size, drop_remainder=True)
    options = tf.data.Options()
    options.deterministic = True
    return dataset.prefetch(prefetch).with_options(options)


def make_training_dataset(
    sources,
    ratios=None,
    *,
    geometry,
    batch_size=32,
    samples_per_epoch=60_000,
    seed=0,
    num_parallel_calls=4,
    max_gap=200,
    augmentation=None,
    initial_epoch=0,
    num_epochs=None,
    prefetch=2,
):
    """The training `tf.data.Dataset` of `(inputs, targets)` batches.

    Args:
        sources: list of sequence collections (lists of `Sequence`,
            `CocoImageSet`, ...), one per dataset.
        ratios: list of float or None. Draw ratio per source (default equal).
        geometry: `CropGeometry` (or a model, or a dict `CropGeometry.of`
            reads). The crops' sides and factors: the teacher's when
            distilling.
        batch_size: int. Samples per batch.
        samples_per_epoch: int. Pairs per epoch, rounded down to whole batches.
        seed: int. Seed of the whole stream.
        num_parallel_calls: int or None. Samples prepared in parallel (None:
            tf.data.AUTOTUNE). The order stays deterministic.
        max_gap: int. Largest template→search frame distance.
        augmentation: `PairAugmentation` or None (LoReTrack's defaults).
        initial_epoch: int. Epoch of the first batch (to resume a run).
        num_epochs: int or None. None gives an endless stream (use
            `steps_per_epoch` in `fit`), an int that many epochs.
        prefetch: int. Batches prepared ahead (bounds memory).

    Returns:
        `tf.data.Dataset` of `({"template": (B, Ht, Wt, 3), "search": (B, Hs,
        Ws, 3)}, {"box": (B, 4)})`, float32; crops ImageNet-normalised, the box
        the gt in the search crop as (x1, y1, x2, y2) in [0, 1].

    Example:
    ```python
    geometry = CropGeometry.of(model)
    data = make_training_dataset([procedural_dataset(100)], geometry=geometry,
                                 batch_size=8, samples_per_epoch=800)
    model.fit(data, epochs=10, steps_per_epoch=steps_per_epoch(800, 8))
    ```
    """
    sampler = PairSampler(sources, ratios, max_gap=max_gap)
    processor = PairProcessor(
        sampler,
        geometry,
        augmentation=augmentation or PairAugmentation(),
        seed=seed,
    )
    per_epoch = steps_per_epoch(samples_per_epoch, batch_size) * int(batch_size)
    if initial_epoch < 0:
        raise ValueError(f"initial_epoch must be >= 0, got {initial_epoch!r}")
    if num_epochs is not None and num_epochs < 1:
        raise ValueError(f"num_epochs must be None or >= 1, got {num_epochs!r}")
    start = int(initial_epoch) * per_epoch
    stop = None if num_epochs is None else start + int(num_epochs) * per_epoch
    return _pair_dataset(
        processor, start, stop, per_epoch, int(batch_size), num_parallel_calls, prefetch
    )


def make_validation_dataset(
    sources,
    ratios=None,
    *,
    geometry,
    batch_size=32,
    num_samples=1_000,
    seed=0,
    num_parallel_calls=4,
    max_gap=200,
    augmentation=None,
    prefetch=2,
):
    """A finite validation dataset: the same pairs every time it is iterated.

    Same arguments and element structure as `make_training_dataset`; the
    default augmentation is `PairAugmentation.validation()` (OSTrack's: box
    jitter kept, no flip, grayscale or brightness). Pass
    `PairAugmentation.none()` to centre the target in every crop. It holds
    `num_samples // batch_size` batches.
    """
    sampler = PairSampler(sources, ratios, max_gap=max_gap)
    processor = PairProcessor(
        sampler,
        geometry,
        augmentation=augmentation or PairAugmentation.validation(),
        seed=seed,
    )
    count = steps_per_epoch(num_samples, batch_size) * int(batch_size)
    return _pair_dataset(
        processor, 0, count, count, int(batch_size), num_parallel_calls, prefetch
    )
