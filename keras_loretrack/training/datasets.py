"""A training run's data: pair streams at a crop geometry, evaluation sequences."""

from keras_loretrack.data.pipeline import make_training_dataset, make_validation_dataset
from keras_loretrack.sequences.sources import load_source, load_sources


def training_data(sources, ratios, geometry, config, initial_epoch=0):
    """The endless, seeded stream of training batches.

    Args:
        sources, ratios: from `load_sources`.
        geometry: `CropGeometry`. The crops' sides and factors (the model's
            own, or the teacher's when distilling).
        config: `TrainingConfig`. Batch, samples per epoch, seed, workers.
        initial_epoch: int. Epoch the stream starts at (from `resume`).
    """
    return make_training_dataset(
        sources,
        ratios,
        geometry=geometry,
        batch_size=config.batch_size,
        samples_per_epoch=config.samples_per_epoch,
        seed=config.seed,
        num_parallel_calls=config.workers,
        initial_epoch=initial_epoch,
    )


def validation_data(geometry, config):
    """The fixed validation pairs of `config.val_data`, or None when there are none.

    Procedural sources default to their `val` split.
    """
    if not config.val_data:
        return None
    return make_validation_dataset(
        load_sources(config.val_data, procedural_split="val")[0],
        geometry=geometry,
        batch_size=config.batch_size,
        num_samples=config.val_samples,
        seed=config.seed,
        num_parallel_calls=config.workers,
    )


def evaluation_sequences(specs):
    """The sequences of evaluation source specs, procedural ones from `test`."""
    sequences = []
    for spec in specs:
        sequences.extend(load_source(spec, procedural_split="test"))
    return sequences
