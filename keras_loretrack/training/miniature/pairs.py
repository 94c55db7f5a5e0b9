"""One fixed set of training pairs at the teacher's resolution, shared by every run.

The standard pipeline (`make_training_dataset`: LoReTrack's sampler, jitter
and augmentation) crops epoch 0 of a stream once, from procedural videos and
still photographs (static-image pairs, as OSTrack uses COCO) by the budget's
share; the crops are stored as uint8 so every run reads the same pairs from
memory instead of rendering videos again.
"""

import os

import keras
import numpy as np
from tqdm import tqdm

from keras_loretrack.atomic_files import atomic_output
from keras_loretrack.data.crops import denormalize, normalize
from keras_loretrack.data.pipeline import (
    make_training_dataset,
    make_validation_dataset,
)
from keras_loretrack.sequences.procedural import procedural_dataset
from keras_loretrack.sequences.procedural.photos import photo_dataset

PAIR_KEYS = ("template", "search", "box")


def store_pairs(path, dataset, count, desc):
    """Stores the pairs of `dataset` in `path` (.npz, crops as uint8), atomically."""
    if os.path.isfile(path):
        return
    templates, searches, boxes = [], [], []
    with tqdm(total=count, desc=desc, unit="pair") as bar:
        for inputs, targets in dataset:
            templates.append(denormalize(inputs["template"].numpy()))
            searches.append(denormalize(inputs["search"].numpy()))
            boxes.append(targets["box"].numpy())
            bar.update(len(boxes[-1]))
    with atomic_output(path) as temporary:
        np.savez(
            temporary,
            template=np.concatenate(templates),
            search=np.concatenate(searches),
            box=np.concatenate(boxes),
        )


def prepare_pairs(budget, geometry, data_dir):
    """Crops `train.npz` and `val.npz` in `data_dir` (skipped when they exist).

    Args:
        budget: `Budget`. Pair, video and photograph counts.
        geometry: `CropGeometry`. The teacher's.
        data_dir: str. Folder of the two files (created).
    """
    os.makedirs(data_dir, exist_ok=True)
    ratios = [1.0 - budget.photo_share, budget.photo_share]
    crop = {
        "ratios": ratios,
        "geometry": geometry,
        "batch_size": min(16, budget.train_pairs),
        "num_parallel_calls": 2,
    }
    store_pairs(
        os.path.join(data_dir, "train.npz"),
        make_training_dataset(
            [
                procedural_dataset(budget.train_videos, split="train"),
                photo_dataset(budget.train_photos, split="train"),
            ],
            samples_per_epoch=budget.train_pairs,
            num_epochs=1,
            seed=0,
            **crop,
        ),
        budget.train_pairs,
        "train pairs",
    )
    store_pairs(
        os.path.join(data_dir, "val.npz"),
        make_validation_dataset(
            [
                procedural_dataset(budget.val_videos, split="val"),
                photo_dataset(budget.val_photos, split="val"),
            ],
            num_samples=budget.val_pairs,
            seed=1,
            **crop,
        ),
        budget.val_pairs,
        "val pairs",
    )


def load_pairs(data_dir):
    """`{"train": pairs, "val": pairs}`, each a dict of `template`, `search`, `box`."""
    pairs = {}
    for split in ("train", "val"):
        with np.load(os.path.join(data_dir, f"{split}.npz")) as data:
            pairs[split] = {key: data[key] for key in PAIR_KEYS}
    return pairs


def pair_dataset(pairs, batch_size, geometry, seed=None, teacher_targets=None):
    """Batches of normalised crops resized to a model's `CropGeometry` sizes.

    The resize is the distiller's (`ops.image.resize`, bilinear, no antialias)
    applied to the normalised teacher crops, so plain and distilled students
    see the same pixels. `seed` None gives one ordered pass (validation), an
    int an endless shuffled stream. `teacher_targets` (dict of arrays, one row
    per pair, from `LoReTrackDistiller.teacher_targets`) ride along as the
    inputs' `"teacher_outputs"`, so the distiller skips the teacher.
    """
    import tensorflow as tf

    def resized(images, size):
        images = normalize(tf.cast(images, tf.float32))
        if images.shape[1] == size:
            return images
        return keras.ops.image.resize(images, (size, size), antialias=False)

    names = sorted(teacher_targets or {})

    def prepare(template, search, box, *targets):
        inputs = {
            "template": resized(template, geometry.template_size),
            "search": resized(search, geometry.search_size),
        }
        if targets:
            inputs["teacher_outputs"] = {
                name: tf.cast(t, tf.float32) for name, t in zip(names, targets)
            }
        return inputs, {"box": box}

    data = tf.data.Dataset.from_tensor_slices(
        tuple(pairs[k] for k in PAIR_KEYS)
        + tuple(teacher_targets[name] for name in names)
    )
    if seed is not None:
        data = data.shuffle(len(pairs["box"]), seed=seed).repeat()
    data = data.batch(batch_size, drop_remainder=seed is not None)
    return data.map(prepare).prefetch(2)
