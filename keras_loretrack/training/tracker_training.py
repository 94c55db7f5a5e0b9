"""Training a plain LoReTrack (teacher or baseline) with OSTrack's recipe (DESIGN §5).

`recipes/train_teacher.py` and `recipes/train_baseline.py` differ only in their
defaults and in what they are for; both run `train_tracker`.
"""

import keras

from keras_loretrack.atomic_files import write_json
from keras_loretrack.data.pipeline import steps_per_epoch
from keras_loretrack.models.loretrack import LoReTrack
from keras_loretrack.training.evaluation import one_pass_evaluation
from keras_loretrack.training.run import (
    fit_from_sources,
    optimizer_from_arguments,
    prepare_output,
    resume,
    start_from_mae,
)
from keras_loretrack.training.sources import load_source, load_sources
from keras_loretrack.training.strategy import is_chief, make_strategy, set_precision

DEFAULT_EVAL_SEQUENCES = ("procedural:test=8",)


def check_batch_size(batch_size, strategy):
    """The global batch must split evenly over the replicas."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(
            f"--batch-size {batch_size} must be a multiple of the {replicas} "
            "replicas of the strategy"
        )


def model_overrides(args):
    """`from_preset` overrides from the flags (drop-path)."""
    return {} if args.drop_path is None else {"drop_path_rate": args.drop_path}


def evaluate_and_save(model, args, paths, strategy, extra=None):
    """Saves `model` as a preset and runs the one-pass evaluation (chief only).

    Returns:
        dict. The evaluation summary (empty on non-chief workers or with
        `--skip-eval`).
    """
    if not is_chief(strategy):
        return {}
    model.save_to_preset(paths["preset"])
    if args.skip_eval:
        return {}
    sequences = []
    for spec in args.eval_sequences or DEFAULT_EVAL_SEQUENCES:
        sequences.extend(load_source(spec, procedural_split="test"))
    summary = one_pass_evaluation(
        model, sequences, jit_compile=args.jit_compile, progress=args.verbose > 0
    )
    summary.update(extra or {})
    write_json(paths["evaluation"], summary)
    return summary


def train_tracker(args, default_data):
    """Trains `LoReTrack.from_preset(args.preset)` on the tracking losses.

    Args:
        args: `argparse.Namespace` from `add_training_arguments` plus
            `--preset`, `--weights`, `--mae` and `--skip-eval`.
        default_data: list of str. Source specs used when `--data` is absent.

    Returns:
        dict. The one-pass evaluation summary.
    """
    # Setup: devices, precision, seed and the run folder.
    strategy = make_strategy(args.strategy, args.tpu)
    check_batch_size(args.batch_size, strategy)
    set_precision(args.mixed_precision, strategy)
    keras.utils.set_random_seed(args.seed)
    paths = prepare_output(args.output, args.resume)

    # Data: template/search pairs cropped at the model's own resolution.
    sources, ratios = load_sources(args.data or default_data, args.ratios)
    steps = steps_per_epoch(args.samples_per_epoch, args.batch_size)

    # Model (MAE-initialised backbone when given) and compile.
    with strategy.scope():
        model = LoReTrack.from_preset(
            args.preset, load_weights=args.weights, **model_overrides(args)
        )
        if args.mae:
            print(start_from_mae(model, args.mae).summary())
        model.compile(
            optimizer=optimizer_from_arguments(
                model.backbone.trainable_variables, args, steps
            ),
            jit_compile=args.jit_compile,
        )

    # Fit, continuing from the last finished epoch with --resume.
    initial_epoch = resume(model, paths, args.resume)
    fit_from_sources(
        model, model, sources, ratios, args, paths, strategy, steps, initial_epoch
    )

    # Evaluation: save the preset, track the evaluation sequences.
    return evaluate_and_save(model, args, paths, strategy, {"preset": args.preset})
