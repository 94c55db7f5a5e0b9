"""Arguments several sub-commands share: the network to run, and name lists.

Nothing here imports TensorFlow or Keras until a model is built, so that
`loretrack --help` stays quick.
"""

import functools
import os

PRESET_HELP = "built-in preset name (e.g. res128) or preset directory"
MODEL_HELP = "exported model file (.tflite, .onnx) run by its engine"
RUNTIME_HELP = (
    "runtime of --model (default: litert for .tflite, onnxruntime for .onnx); "
    "openvino also runs .onnx files"
)


def add_model_arguments(
    parser, *, files=True, weights=True, jit_compile=True, default=None
):
    """Adds the flags that choose the network.

    Args:
        parser: `argparse.ArgumentParser` of the sub-command.
        files: bool. Also offer `--model FILE` (an exported model run by its
            engine) as the alternative to `--preset`, one of the two required,
            and `--runtime` to pick the engine of the file.
        weights: bool. Add `--no-weights` (`args.load_weights = False`): build
            the preset with random initial weights.
        jit_compile: bool. Add `--jit-compile` (compile the Keras model with XLA).
        default: str or None. The preset used without `--preset`; None makes
            the choice required.
    """
    required = default is None
    if files:
        group = parser.add_mutually_exclusive_group(required=required)
        group.add_argument("--preset", default=default, help=PRESET_HELP)
        group.add_argument("--model", help=MODEL_HELP)
        parser.add_argument("--runtime", help=RUNTIME_HELP)
    else:
        parser.add_argument(
            "--preset", required=required, default=default, help=PRESET_HELP
        )
        parser.set_defaults(model=None, runtime=None)
    if weights:
        parser.add_argument(
            "--no-weights",
            dest="load_weights",
            action="store_false",
            help="build the preset with random initial weights (smoke tests)",
        )
    else:
        parser.set_defaults(load_weights=True)
    if jit_compile:
        parser.add_argument(
            "--jit-compile",
            action="store_true",
            help="compile the Keras model with XLA",
        )
    else:
        parser.set_defaults(jit_compile=False)


def build_tracker(
    preset=None, model=None, load_weights=True, jit_compile=False, runtime=None
):
    """A `Tracker` from a preset, or from an exported model file if `model` is set
    (run by `runtime`, or the file type's default).

    A top-level function, so that `functools.partial` of it can be sent to
    worker processes.
    """
    from keras_loretrack.tracking import Tracker

    if model is not None:
        return Tracker.from_file(model, runtime=runtime)
    if runtime is not None:
        raise ValueError(f"--runtime {runtime} runs a --model file, not a preset")
    return Tracker.from_preset(
        preset, load_weights=load_weights, jit_compile=jit_compile
    )


def tracker_factory(args):
    """A picklable no-argument callable building the tracker `args` describe."""
    return functools.partial(
        build_tracker,
        preset=args.preset,
        model=args.model,
        load_weights=args.load_weights,
        jit_compile=args.jit_compile,
        runtime=args.runtime,
    )


def load_model(args):
    """The Keras `LoReTrack` of `args.preset` (weights unless `--no-weights`)."""
    from keras_loretrack.models import LoReTrack

    return LoReTrack.from_preset(args.preset, load_weights=args.load_weights)


def model_name(args):
    """The preset's name, the preset folder's name or the model file's stem."""
    if args.model is not None:
        return os.path.splitext(os.path.basename(args.model))[0]
    return os.path.basename(os.path.normpath(args.preset))


def parse_list(text, known=None, what="name"):
    """Splits `a,b,c` into names, dropping blanks; checks each is in `known`.

    Raises:
        ValueError: no name, or names not in `known` (when given).
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError(f"Expected a comma-separated list of {what}s, got {text!r}")
    if known is not None:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"Unknown {what}s {unknown}; expected some of {list(known)}"
            )
    return names
