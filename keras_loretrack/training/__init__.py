"""Training: run config and flags, data, optimiser, checkpoints, strategies.

The recipes in `recipes/` read top to bottom and call these; the only module
that reads command-line flags is `recipe_flags`.
"""

from keras_loretrack.training.checkpointing import (
    EpochCheckpoint,
    latest_checkpoint,
    restore_checkpoint,
)
from keras_loretrack.training.config import TrainingConfig
from keras_loretrack.training.datasets import (
    evaluation_sequences,
    training_data,
    validation_data,
)
from keras_loretrack.training.evaluation import save_and_evaluate
from keras_loretrack.training.loss_scaling import (
    ReplicaAgreedLossScaleOptimizer,
    loss_scaled,
)
from keras_loretrack.training.mae import start_from_mae
from keras_loretrack.training.optimizers import (
    GroupedAdamW,
    build_optimizer,
    scaled_learning_rate,
    step_decay_schedule,
)
from keras_loretrack.training.recipe_flags import (
    add_training_arguments,
    make_parser,
    training_config,
)
from keras_loretrack.training.run import prepare_output, resume, training_callbacks
from keras_loretrack.training.scalar_logs import ScalarLogs
from keras_loretrack.training.strategy import (
    check_batch_size,
    is_chief,
    make_strategy,
    set_precision,
)
