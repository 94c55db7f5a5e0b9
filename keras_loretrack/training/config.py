"""`TrainingConfig`: everything a training run is told, as one frozen record."""

import dataclasses

from keras_loretrack.data.pipeline import steps_per_epoch
from keras_loretrack.losses import paper_defaults as paper
from keras_loretrack.training.checkpointing import DEFAULT_KEEP
from keras_loretrack.training.optimizers import scaled_learning_rate

DEFAULT_DATA = ("procedural=200",)
DEFAULT_EVAL_SEQUENCES = ("procedural:test=8",)


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """The settings of one training run (teacher, baseline or distilled student).

    Defaults are the paper's (`keras_loretrack.losses.paper_defaults`);
    `recipe_flags.training_config` builds one from the recipes' flags.

    Args:
        output: str. The run folder (checkpoints, logs, preset, evaluation).
        data: tuple of str. Training source specs
            (`keras_loretrack.sequences.load_source`).
        ratios: tuple of float or None. Draw ratio per source (None: equal).
        val_data: tuple of str. Validation source specs (empty: none).
        val_samples: int. Validation pairs.
        samples_per_epoch: int. Template/search pairs per epoch.
        workers: int. Samples prepared in parallel.
        epochs: int. Training epochs.
        batch_size: int. Global batch.
        learning_rate: float or None. Head learning rate (None: 4e-4 per 128
            samples of the batch).
        backbone_multiplier: float. Backbone learning-rate factor.
        weight_decay: float. AdamW decoupled weight decay.
        clipnorm: float or None. Gradient global-norm clip (None: off).
        decay_epoch: int or None. First epoch at lr ×0.1 (None: 80%).
        drop_path: float or None. Stochastic depth (None: the preset's).
        seed: int. Data and initialisation seed.
        resume: bool. Continue from the run folder's last checkpoint.
        keep_checkpoints: int or None. Latest epoch checkpoints kept besides
            the best by `val_loss` (None: all).
        jit_compile: bool. Compile with XLA.
        mixed_precision: bool. Mixed precision: float16 on GPU, bfloat16 on CPU and TPU.
        strategy: str. `default`, `mirrored`, `multiworker` or `tpu`.
        tpu: str or None. TPU name or address.
        eval_sequences: tuple of str. Sources tracked after training.
        skip_eval: bool. No evaluation after training.
        verbose: int. Keras `fit` verbosity.
        weights: bool. Start from the preset's weights.
        mae: str or None. MAE ViT checkpoint (.pth) for the backbone.
    """

    output: str
    data: tuple = DEFAULT_DATA
    ratios: tuple | None = None
    val_data: tuple = ()
    val_samples: int = 256
    samples_per_epoch: int = paper.SAMPLES_PER_EPOCH
    workers: int = 4
    epochs: int = paper.EPOCHS
    batch_size: int = paper.BATCH_SIZE
    learning_rate: float | None = None
    backbone_multiplier: float = paper.BACKBONE_LR_MULTIPLIER
    weight_decay: float = paper.WEIGHT_DECAY
    clipnorm: float | None = paper.GLOBAL_CLIPNORM
    decay_epoch: int | None = None
    drop_path: float | None = None
    seed: int = 0
    resume: bool = False
    keep_checkpoints: int | None = DEFAULT_KEEP
    jit_compile: bool = False
    mixed_precision: bool = False
    strategy: str = "default"
    tpu: str | None = None
    eval_sequences: tuple = DEFAULT_EVAL_SEQUENCES
    skip_eval: bool = False
    verbose: int = 1
    weights: bool = False
    mae: str | None = None

    def __post_init__(self):
        for name in ("data", "ratios", "val_data", "eval_sequences"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    @property
    def steps_per_epoch(self):
        """Batches per epoch (`samples_per_epoch // batch_size`)."""
        return steps_per_epoch(self.samples_per_epoch, self.batch_size)

    @property
    def head_learning_rate(self):
        """`learning_rate`, or 4e-4 scaled linearly with the global batch."""
        return self.learning_rate or scaled_learning_rate(self.batch_size)

    def model_overrides(self):
        """`from_preset` overrides: the drop-path rate when one is given."""
        return {} if self.drop_path is None else {"drop_path_rate": self.drop_path}
