"""Training utilities shared by the recipes: optimiser, checkpoints, strategies."""

from keras_loretrack.training.checkpointing import (
    EpochCheckpoint,
    latest_checkpoint,
    restore_checkpoint,
)
from keras_loretrack.training.evaluation import one_pass_evaluation
from keras_loretrack.training.optimizers import (
    GroupedAdamW,
    build_optimizer,
    scaled_learning_rate,
    step_decay_schedule,
)
from keras_loretrack.training.run import (
    add_training_arguments,
    prepare_output,
    resume,
    start_from_mae,
    training_callbacks,
)
from keras_loretrack.training.scalar_logs import ScalarLogs
from keras_loretrack.training.sources import (
    load_source,
    load_sources,
    parse_source_spec,
)
from keras_loretrack.training.strategy import is_chief, make_strategy, set_precision
