"""`loretrack demo`: track procedural clips with a shipped tracker, end to end."""

import os
import sys
import time

from keras_loretrack.cli.arguments import add_model_arguments

DESCRIPTION = """\
Renders procedural test clips (a natural-image object moving over a natural-image
background, with exact ground truth), tracks them with the shipped `mini_teacher`
preset (trained by recipes/miniature_replication.py), prints the success (SUC) and
precision (P) per clip and on average, and the tracker's frames per second, and writes
per clip an annotated video (the prediction in green with its score, the ground truth
in blue), the tracked boxes, and the clip itself in OTB layout (<clip>/img/0001.jpg...
and <clip>/groundtruth_rect.txt), ready for `loretrack track --frames` or `loretrack
eval --dataset folder`. One clip says little (a small tracker holds the target or
loses it), hence several.
"""

DEFAULT_PRESET = "mini_teacher"
DEFAULT_CLIPS = 3
GROUND_TRUTH_COLOR = (60, 120, 255)


def add_parser(subparsers):
    """Registers the `demo` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="track procedural clips with a shipped tracker and write videos",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--output-dir",
        default="loretrack-demo",
        help="folder for the outputs (default loretrack-demo)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="first clip number within the procedural test split, never trained on "
        "(default 0)",
    )
    parser.add_argument(
        "--clips",
        type=int,
        default=DEFAULT_CLIPS,
        help=f"number of clips (default {DEFAULT_CLIPS})",
    )
    parser.add_argument(
        "--frames", type=int, default=100, help="frames per clip (default 100)"
    )
    add_model_arguments(
        parser, files=False, weights=False, jit_compile=False, default=DEFAULT_PRESET
    )
    parser.set_defaults(func=run)
    return parser


def track_clip(tracker, clip, output_dir):
    """Tracks a clip; writes `<name>.mp4` (annotated), `<name>.txt` (boxes) and
    the clip in OTB layout, `<name>/img/*.jpg` and `<name>/groundtruth_rect.txt`."""
    from keras_loretrack.evaluation.scoring import evaluate_tracker
    from keras_loretrack.sequences import write_boxes
    from keras_loretrack.sequences.procedural import write_sequence
    from keras_loretrack.tracking.video import AnnotatedVideoWriter, draw_box

    folder = write_sequence(clip, os.path.join(output_dir, clip.name))
    result = evaluate_tracker(tracker, [clip], warm_up=False)["sequences"][0]
    video = os.path.join(output_dir, f"{clip.name}.mp4")
    boxes = os.path.join(output_dir, f"{clip.name}.txt")
    with AnnotatedVideoWriter(video, fps=30.0) as writer:
        for index, image in enumerate(clip):
            if clip.visible is None or clip.visible[index]:
                image = draw_box(
                    image, clip.ground_truth[index], color=GROUND_TRUTH_COLOR
                )
            score = None if index == 0 else result["scores"][index]
            writer.write(image, result["boxes"][index], score)
    write_boxes(boxes, result["boxes"])
    return {
        "name": clip.name,
        "auc": result["auc"],
        "precision": result["precision"],
        "frames": result["frames"],
        "seconds": result["seconds"],
        "video": video,
        "boxes": boxes,
        "folder": folder,
    }


def run_demo(
    output_dir, seed=0, clips=DEFAULT_CLIPS, frames=100, preset=DEFAULT_PRESET
):
    """Tracks procedural test clips `seed`, ..., `seed + clips - 1`.

    Args:
        output_dir: str. Folder for each clip's `<name>.mp4` (annotated) and
            `<name>.txt` (one `x,y,w,h` line per frame).
        seed: int. First clip number within the procedural `test` split.
        clips: int. Number of clips (at least 1).
        frames: int. Frames per clip (at least 2).
        preset: str. Preset name or directory of the tracking model.

    Returns:
        dict: `clips` (per clip: `name`, `auc` (SUC) and `precision` in
        percent, `frames`, `seconds`, `video`, `boxes`, `folder`), their mean `auc` and
        `precision`, and the tracker's `fps` over all clips.
    """
    import numpy as np

    from keras_loretrack.sequences.procedural import procedural_dataset
    from keras_loretrack.tracking import Tracker

    if frames < 2:
        raise ValueError(f"--frames must be at least 2, got {frames!r}")
    if clips < 1:
        raise ValueError(f"--clips must be at least 1, got {clips!r}")
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed!r}")
    sequences = [
        sequence.in_memory()
        for sequence in procedural_dataset(
            clips, seed=seed, split="test", num_frames=frames
        )
    ]
    tracker = Tracker.from_preset(preset)
    # One warm-up frame so graph building is not counted in the fps.
    first = sequences[0]
    tracker.initialize(first.frame(0), first.init_box)
    tracker.track(first.frame(1))
    os.makedirs(output_dir, exist_ok=True)
    results = [track_clip(tracker, clip, output_dir) for clip in sequences]
    seconds = sum(r["seconds"] for r in results)
    tracked = sum(r["frames"] - 1 for r in results)
    return {
        "clips": results,
        "auc": float(np.mean([r["auc"] for r in results])),
        "precision": float(np.mean([r["precision"] for r in results])),
        "fps": tracked / seconds if seconds > 0 else float("nan"),
    }


def run(args):
    """Runs the demo and prints its scores; returns the exit status."""
    start = time.perf_counter()
    try:
        result = run_demo(
            args.output_dir, args.seed, args.clips, args.frames, args.preset
        )
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"loretrack demo: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"loretrack demo: {error}", file=sys.stderr)
        return 1
    for clip in result["clips"]:
        print(
            f"{clip['name']} ({clip['frames']} frames): SUC {clip['auc']:.1f}  "
            f"P {clip['precision']:.1f}  video {clip['video']}  boxes {clip['boxes']}"
        )
    print(
        f"{args.preset} on {len(result['clips'])} procedural test clips: mean SUC "
        f"{result['auc']:.1f}  P {result['precision']:.1f}  {result['fps']:.1f} fps "
        f"(tracker only; {time.perf_counter() - start:.1f} s in all)"
    )
    from keras_loretrack.sequences import read_boxes

    best = max(result["clips"], key=lambda clip: clip["auc"])
    first_box = read_boxes(os.path.join(best["folder"], "groundtruth_rect.txt"))[0]
    init = ",".join(f"{v:.2f}" for v in first_box)
    print(
        f"Track the clip {args.preset} followed best yourself:\n  loretrack track "
        "--preset "
        f"{args.preset} --frames {os.path.join(best['folder'], 'img')} "
        f"--init={init} --output-video {best['folder']}-tracked.mp4"
    )
    return 0
