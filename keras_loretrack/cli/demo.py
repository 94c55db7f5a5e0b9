"""`loretrack demo`: track a procedural clip with the shipped student, end to end."""

import os
import time

DESCRIPTION = """\
Renders a procedural test clip (a natural-image object moving over a natural-image
background, with exact ground truth), tracks it with the shipped `mini_student` preset
(trained by recipes/miniature_replication.py), prints the success (SUC), precision (P)
and the tracker's frames per second, and writes an annotated video: the prediction in
green with its score, the ground truth in blue.
"""

DEFAULT_PRESET = "mini_student"
GROUND_TRUTH_COLOR = (60, 120, 255)


def add_parser(subparsers):
    """Registers the `demo` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="track a procedural clip with the shipped student and write a video",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--output-dir", default="loretrack-demo", help="folder for the outputs"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="clip number within the procedural test split (never trained on)",
    )
    parser.add_argument("--frames", type=int, default=100, help="clip length")
    parser.add_argument(
        "--preset", default=DEFAULT_PRESET, help="preset name or preset directory"
    )
    parser.set_defaults(func=run)
    return parser


def run_demo(output_dir, seed=0, frames=100, preset=DEFAULT_PRESET):
    """Tracks procedural test clip `seed` and writes `demo.mp4` and `boxes.txt`.

    Args:
        output_dir: str. Folder for `demo.mp4` (annotated) and `boxes.txt`
            (one `x,y,w,h` line per frame).
        seed: int. Clip number within the procedural `test` split.
        frames: int. Number of frames (at least 2).
        preset: str. Preset name or directory of the tracking model.

    Returns:
        dict: `auc` (SUC) and `precision` in percent, `fps` of the tracker,
        `frames`, `video` and `boxes` paths.
    """
    import numpy as np

    from keras_loretrack.data.procedural import procedural_dataset
    from keras_loretrack.evaluation.annotations import write_boxes
    from keras_loretrack.evaluation.metrics import (
        sequence_curves,
        sequence_errors,
        summarize,
    )
    from keras_loretrack.evaluation.runner import track_sequence
    from keras_loretrack.tracking import Tracker
    from keras_loretrack.tracking.video import AnnotatedVideoWriter, draw_box

    if frames < 2:
        raise ValueError(f"--frames must be at least 2, got {frames!r}")
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed!r}")
    sequence = procedural_dataset(1, seed=seed, split="test", num_frames=frames)[0]
    images = [sequence.frame(i) for i in range(len(sequence))]
    clip = type(sequence)(
        name=sequence.name,
        frames=lambda i: images[i],
        ground_truth=sequence.ground_truth,
        visible=sequence.visible,
        dataset=sequence.dataset,
        num_frames=len(images),
    )
    tracker = Tracker.from_preset(preset)
    # One warm-up frame so graph building is not counted in the fps.
    tracker.initialize(images[0], clip.init_box)
    tracker.track(images[1])
    result = track_sequence(tracker, clip)
    errors = sequence_errors(
        result["boxes"], clip.ground_truth, clip.visible, name=clip.name
    )
    summary = summarize([sequence_curves(errors)])
    seconds = float(np.sum(result["times"][1:]))
    os.makedirs(output_dir, exist_ok=True)
    video = os.path.join(output_dir, "demo.mp4")
    boxes = os.path.join(output_dir, "boxes.txt")
    with AnnotatedVideoWriter(video, fps=30.0) as writer:
        for index, image in enumerate(images):
            if clip.visible is None or clip.visible[index]:
                image = draw_box(
                    image, clip.ground_truth[index], color=GROUND_TRUTH_COLOR
                )
            score = None if index == 0 else result["scores"][index]
            writer.write(image, result["boxes"][index], score)
    write_boxes(boxes, result["boxes"])
    return {
        "auc": summary["auc"],
        "precision": summary["precision"],
        "fps": (len(images) - 1) / seconds if seconds > 0 else float("nan"),
        "frames": len(images),
        "video": video,
        "boxes": boxes,
    }


def run(args):
    """Runs the demo and prints its scores; returns the exit status."""
    start = time.perf_counter()
    result = run_demo(args.output_dir, args.seed, args.frames, args.preset)
    print(
        f"{args.preset} on procedural test clip {args.seed} ({result['frames']} "
        f"frames): SUC {result['auc']:.1f}  P {result['precision']:.1f}  "
        f"{result['fps']:.1f} fps (tracker only; "
        f"{time.perf_counter() - start:.1f} s in all)"
    )
    print(f"annotated video: {result['video']}")
    print(f"boxes: {result['boxes']}")
    return 0
