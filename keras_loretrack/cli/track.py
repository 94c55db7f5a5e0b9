"""`loretrack track`: track one object through a video, an image folder or a camera."""

import math
import os
import sys
import time

from keras_loretrack.cli.arguments import add_model_arguments, tracker_factory

# tqdm's default bar and counter (no known total) without tqdm's own rate, which
# counts reading and writing too: the postfix carries the tracking fps instead.
BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
COUNTER_FORMAT = "{desc}: {n_fmt} frames [{elapsed}{postfix}]"

DESCRIPTION = """\
Track one object, given by its box in the first frame, through a video file, a folder
of frames (natural order, all of one size) or a camera. Shows a progress bar with the
tracking speed (frames tracked per second of tracking, the first frame's
initialisation, reading and writing excluded; the summary gives the same figure), and
optionally writes an annotated video (box and score) and a boxes file (one `x,y,w,h`
line per frame, the first being the initial box). Outputs are checked for writability
before tracking starts, written to a hidden `.partial-<pid>-...` file beside the
target and only replace it once complete. A truncated video or image stops the run
naming the frame. Stop a camera with Ctrl-C: the outputs then hold the frames tracked
so far.
"""


class InitialBoxError(ValueError):
    """The `--init` box does not fit the first frame (a user error: exit 2)."""


def parse_box(text):
    """Parses `x,y,w,h` into four finite floats with w, h > 0."""
    parts = text.replace(" ", "").split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"--init must be four finite numbers x,y,w,h, got {text!r}")
    if values[2] <= 0 or values[3] <= 0:
        raise ValueError(f"--init width and height must be > 0, got {text!r}")
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


def tracking_speed(frames, seconds):
    """The one fps figure `track` shows: frames tracked per second of `track`."""
    return f"{frames / seconds:.1f}" if seconds > 0 else "-"


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
        the time spent in `track` (the initialising frame, reading and writing
        excluded). The bar shows the speed the summary reports, frames tracked
        per second of `track` so far, and no other rate. Ctrl-C ends it early.
    """
    from tqdm import tqdm

    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    boxes = []
    seconds = 0.0
    with tqdm(
        total=total,
        unit="frame",
        desc="tracking",
        dynamic_ncols=True,
        bar_format=COUNTER_FORMAT if total is None else BAR_FORMAT,
    ) as bar:
        try:
            for index, frame in enumerate(frames):
                if max_frames is not None and index >= max_frames:
                    break
                if index == 0:
                    try:
                        out = tracker.initialize(frame, init_box)
                    except ValueError as error:
                        raise InitialBoxError(f"--init: {error}") from None
                    score = None
                else:
                    start = time.perf_counter()
                    out = tracker.track(frame)
                    seconds += time.perf_counter() - start
                    score = out["score"]
                boxes.append(out["box"])
                if writer is not None:
                    writer.write(frame, out["box"], score)
                bar.set_postfix(
                    fps=tracking_speed(len(boxes) - 1, seconds), refresh=False
                )
                bar.update(1)
        except KeyboardInterrupt:
            bar.write("interrupted: keeping the frames tracked so far")
    return boxes, seconds


def run(args):
    """Runs the tracker; returns the process exit status."""
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
            return 2 if isinstance(error, InitialBoxError) else 1
    if not boxes:
        if writer is not None:
            writer.discard()
        print("loretrack track: the source gave no frames", file=sys.stderr)
        return 1
    status = 0
    if args.output_boxes:
        status |= save("--output-boxes", args.output_boxes, "boxes", boxes)
    if writer is not None:
        status |= save("--output-video", args.output_video, "annotated video", writer)
    speed = f" at {tracking_speed(len(boxes) - 1, seconds)} fps" if seconds else ""
    print(f"tracked {len(boxes)} frames{speed}")
    return status


def save(flag, path, label, content):
    """Writes one output (boxes list or finished video); 0, or 1 if it failed.

    Boxes go to a temporary file that must hold one row per frame before it
    replaces `path`; a video is checked by `AnnotatedVideoWriter.close`. A
    failure leaves an existing `path` as it was and says so on one line.
    """
    from keras_loretrack.atomic_files import atomic_output
    from keras_loretrack.sequences import write_boxes

    try:
        if isinstance(content, list):
            with atomic_output(path) as tmp:
                write_boxes(tmp, content)
                with open(tmp, encoding="utf-8") as f:
                    rows = sum(1 for line in f if line.strip())
                if rows != len(content):
                    raise OSError(
                        f"Could not write {path}: {rows} rows were written for "
                        f"{len(content)} frames; any existing file was left as it was"
                    )
        else:
            content.close()
    except OSError as error:
        if error.errno is None:  # the checks' own messages name the file
            message = f"{flag}: {error}"
        else:
            message = (
                f"could not write {flag} {path}: {error.strerror}; any existing "
                "file was left as it was"
            )
        print(f"loretrack track: {message}", file=sys.stderr)
        return 1
    print(f"{label}: {path}")
    return 0


def file_identity(path):
    """(device, inode) of an existing file, or None: the same file by any name."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def check_outputs(args, source):
    """Refuses, before any work, outputs that are inputs or cannot be written.

    An output is an input when it names the `--video` file or one of the
    `--frames` images, through any path, symbolic or hard link.
    """
    from keras_loretrack.atomic_files import check_writable

    inputs = list(getattr(source, "paths", []))
    if args.video:
        inputs.append(args.video)
    input_ids = {file_identity(p) for p in inputs} - {None}
    input_paths = {os.path.realpath(p) for p in inputs}
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
        if os.path.realpath(path) in input_paths or file_identity(path) in input_ids:
            raise ValueError(f"{flag} {path} is one of the input frames or video")
        check_writable(path, label=flag)
