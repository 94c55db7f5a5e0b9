"""A training run's last step: save the trained model, score it by one-pass tracking."""

from keras_loretrack.atomic_files import write_json
from keras_loretrack.evaluation.scoring import evaluate_tracker
from keras_loretrack.training.datasets import evaluation_sequences
from keras_loretrack.training.strategy import is_chief


def save_and_evaluate(model, config, paths, strategy, extra=None):
    """Saves `model` as a preset and writes its one-pass scores (chief only).

    Args:
        model: `LoReTrack`. The trained model (the student when distilling).
        config: `TrainingConfig`. `eval_sequences`, `skip_eval`, `jit_compile`
            and `verbose` are read.
        paths: dict from `prepare_output`: `preset` and `evaluation` are
            written.
        strategy: `tf.distribute.Strategy`. Only the chief writes.
        extra: dict or None. Added to the written scores (e.g. the preset).

    Returns:
        dict. The overall scores of `evaluate_tracker` plus `extra` (empty on
        non-chief workers or with `skip_eval`).
    """
    if not is_chief(strategy):
        return {}
    model.save_to_preset(paths["preset"])
    if config.skip_eval:
        return {}
    scores = evaluate_tracker(
        model,
        evaluation_sequences(config.eval_sequences),
        jit_compile=config.jit_compile,
        progress=config.verbose > 0,
    )["overall"]
    scores.update(extra or {})
    write_json(paths["evaluation"], scores)
    return scores
