"""`loretrack track`: track one object through a video, an image folder or a camera."""

import collections
import os
import sys
import time

from keras_loretrack.cli.arguments import add_model_arguments, tracker_factory

FPS_WINDOW = 30

DESCRIPTION = """\
Track one object, given by its box in the first frame, through a video file, a folder
of frames (natural order) or a camera. Shows a progress bar with the live tracking
speed, and optionally writes an annotated video (box and score) and a boxes file (one
`x,y,w,h` line per frame, the first being the initial box). Stop a camera with Ctrl-C:
the outputs then hold the frames tracked so far.
"""


def parse_box(text):
    """Parses `x,y,w,h` into four floats."""
    parts = text.replace(" ", "").split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise ValueError(f"--init must be four numbers x,y,w,h, got {text!r}")
    return values


def add_parser(subparsers):
    """Registers the `track` sub-command."""
    parser = subparsers.add_parser(
        "track",
        help="track one object through a video, a frame folder or a camera",
        description=DESCRIPTION,
    )
    add_model_arguments(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", help="video file")
    source.add_argument("--frames", help="folder of image files")
    source.add_argument("--camera", type=int, help="camera index")
    parser.add_argument(
        "--init", required=True, help="initial box x,y,w,h in pixels (first frame)"
    )
    parser.add_argument("--output-video", help="annotated mp4 video to write")
    parser.add_argument("--output-boxes", help="boxes file to write (x,y,w,h lines)")
    parser.add_argument(
        "--max-frames", type=int, help="stop after this many frames (first included)"
    )
    parser.add_argument(
        "--fps", type=float, help="frame rate of the output video (default: source's)"
    )
    parser.set_defaults(func=run)
    return parser


def track_frames(tracker, frames, init_box, total=None, max_frames=None, writer=None):
    """Tracks through an iterable of frames with a progress bar.

    Args:
        tracker: `Tracker`.
        frames: iterable of RGB uint8 frames; the first one initialises.
        init_box: 4 numbers x, y, w, h on the first frame.
        total: int or None. Number of frames, for the progress bar.
        max_frames: int or None. Stop after this many frames.
        writer: `AnnotatedVideoWriter` or None.

    Returns:
        (boxes, seconds): list of float64 (4,) boxes, one per frame read, and
        the time spent in `track` (the initialising frame excluded). The bar
        shows that speed, frames tracked per second of `track`, over the last
        `FPS_WINDOW` frames. Ctrl-C ends it early.
    """
    from tqdm import tqdm

    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    boxes = []
    seconds = 0.0
    recent = collections.deque(maxlen=FPS_WINDOW)
    with tqdm(total=total, unit="frame", desc="tracking", dynamic_ncols=True) as bar:
        try:
            for index, frame in enumerate(frames):
                if max_frames is not None and index >= max_frames:
                    break
                if index == 0:
                    out = tracker.initialize(frame, init_box)
                    score = None
                else:
                    start = time.perf_counter()
                    out = tracker.track(frame)
                    elapsed = time.perf_counter() - start
                    seconds += elapsed
                    recent.append(elapsed)
                    score = out["score"]
                boxes.append(out["box"])
                if writer is not None:
                    writer.write(frame, out["box"], score)
                bar.update(1)
                if recent:
                    bar.set_postfix(
                        fps=f"{len(recent) / sum(recent):.1f}", refresh=False
                    )
        except KeyboardInterrupt:
            bar.write("interrupted: keeping the frames tracked so far")
    return boxes, seconds


def run(args):
    """Runs the tracker; returns the process exit status."""
    from keras_loretrack.sequences import write_boxes
    from keras_loretrack.tracking.video import AnnotatedVideoWriter, open_frames

    try:
        init_box = parse_box(args.init)
        if args.max_frames is not None and args.max_frames < 1:
            raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
        source = open_frames(video=args.video, frames=args.frames, camera=args.camera)
        check_outputs(args, source)
    except (FileNotFoundError, OSError, ValueError) as error:
        print(f"loretrack track: {error}", file=sys.stderr)
        return 2
    with source:
        writer = None
        try:
            tracker = tracker_factory(args)()
            if args.output_video:
                fps = (source.fps or 30.0) if args.fps is None else args.fps
                writer = AnnotatedVideoWriter(args.output_video, fps=fps)
        except (FileNotFoundError, OSError, ValueError, TypeError) as error:
            print(f"loretrack track: {error}", file=sys.stderr)
            return 2
        try:
            boxes, seconds = track_frames(
                tracker,
                source,
                init_box,
                total=source.num_frames,
                max_frames=args.max_frames,
                writer=writer,
            )
        except (OSError, ValueError, TypeError, FloatingPointError) as error:
            if writer is not None:
                writer.discard()
            print(f"loretrack track: {error}", file=sys.stderr)
            return 1
    if not boxes:
        if writer is not None:
            writer.discard()
        print("loretrack track: the source gave no frames", file=sys.stderr)
        return 1
    try:
        if writer is not None:
            writer.close()
            print(f"annotated video: {args.output_video}")
        if args.output_boxes:
            write_boxes(args.output_boxes, boxes)
            print(f"boxes: {args.output_boxes}")
    except OSError as error:
        print(f"loretrack track: {error}", file=sys.stderr)
        return 1
    speed = f" at {(len(boxes) - 1) / seconds:.1f} fps" if seconds > 0 else ""
    print(f"tracked {len(boxes)} frames{speed}")
    return 0


def check_outputs(args, source):
    """Refuses, before any work, outputs that are inputs or cannot be written."""
    from keras_loretrack.atomic_files import check_writable

    inputs = {os.path.realpath(p) for p in getattr(source, "paths", [])}
    if args.video:
        inputs.add(os.path.realpath(args.video))
    outputs = [
        (flag, path)
        for flag, path in (
            ("--output-video", args.output_video),
            ("--output-boxes", args.output_boxes),
        )
        if path
    ]
    if len(outputs) == 2 and (
        os.path.realpath(outputs[0][1]) == os.path.realpath(outputs[1][1])
    ):
        raise ValueError("--output-video and --output-boxes name the same file")
    for flag, path in outputs:
        if os.path.realpath(path) in inputs:
            raise ValueError(f"{flag} {path} is one of the input frames or video")
        check_writable(path, label=flag)
