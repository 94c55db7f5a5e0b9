"""Frame sources (video file, image folder, camera) and the annotated video writer.

Every source yields RGB uint8 frames (H, W, 3) and says how many frames it has
(None for a camera) and its frame rate (None when unknown).
"""

import contextlib
import os
import re

import cv2
import numpy as np

from keras_loretrack.atomic_files import current_umask, partial_path, process_alive
from keras_loretrack.sequences.sequence import image_files, read_rgb

BOX_COLOR = (0, 255, 0)


class FolderFrames:
    """The image files of a folder, in natural order.

    Every frame must have the first frame's size: a frame of another size stops
    the iteration with an error naming it (a tracker's boxes mean nothing across
    a change of resolution). Truncated or undecodable files stop it too.

    Args:
        folder: str. A folder of image files (see `sequences.image_files`).
    """

    def __init__(self, folder):
        self.folder = os.fspath(folder)
        self.paths = image_files(self.folder)
        self.num_frames = len(self.paths)
        self.fps = None

    def __len__(self):
        return self.num_frames

    def __iter__(self):
        size = None
        for path in self.paths:
            frame = read_rgb(path)
            if size is None:
                size = frame.shape[:2]
            elif frame.shape[:2] != size:
                raise ValueError(
                    f"Frame {path} is {frame.shape[1]}x{frame.shape[0]}, the frames "
                    f"before it {size[1]}x{size[0]}: the frames of one folder must "
                    "have one size"
                )
            yield frame

    def close(self):
        """Nothing to release; present for symmetry with `CaptureFrames`."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class CaptureFrames:
    """Frames from a video file or a camera, read with `cv2.VideoCapture`.

    A video file that ends before the frame count its header gives (truncated,
    or a frame that does not decode) raises an error naming the frame.

    Args:
        source: str (video file) or int (camera index).
    """

    def __init__(self, source):
        if isinstance(source, (int, np.integer)):
            source = int(source)
            if source < 0:
                raise ValueError(f"Camera index must be >= 0, got {source}")
            description = f"camera {source}"
        else:
            source = os.fspath(source)
            if not os.path.isfile(source):
                raise FileNotFoundError(f"Video file not found: {source}")
            description = f"video file {source}"
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            capture.release()
            raise OSError(f"Could not open {description} with OpenCV")
        self.source = source
        self.description = description
        self._capture = capture
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else None
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.num_frames = count if isinstance(source, str) and count > 0 else None

    def __iter__(self):
        index = 0
        while self._capture is not None:
            ok, bgr = self._capture.read()
            if not ok:
                if self.num_frames is not None and index < self.num_frames:
                    raise ValueError(
                        f"Could not read frame {index} of {self.description}, which "
                        f"says it has {self.num_frames} frames (truncated or corrupt)"
                    )
                return
            index += 1
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self):
        """Releases the capture."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def open_frames(video=None, frames=None, camera=None):
    """Opens exactly one frame source: a video file, an image folder or a camera.

    Args:
        video: str or None. A video file.
        frames: str or None. A folder of image files.
        camera: int or None. A camera index.

    Returns:
        `CaptureFrames` or `FolderFrames`.
    """
    given = {
        k: v
        for k, v in (("video", video), ("frames", frames), ("camera", camera))
        if v is not None
    }
    if len(given) != 1:
        raise ValueError(
            f"Give exactly one frame source (video, frames or camera), got "
            f"{sorted(given) or 'none'}"
        )
    if frames is not None:
        return FolderFrames(frames)
    return CaptureFrames(video if video is not None else camera)


def count_video_frames(path):
    """Frames OpenCV can decode from a video file (0 if it does not open)."""
    capture = cv2.VideoCapture(path)
    count = 0
    try:
        while capture.isOpened() and capture.grab():
            count += 1
    finally:
        capture.release()
    return count


def remove_legacy_partials(path):
    """Removes `<stem>.tmp-<pid><ext>` videos of `path` left by killed runs.

    keras_loretrack 0.1.0 wrote its videos under that visible name; one whose
    process is gone is an orphan.
    """
    folder, name = os.path.split(os.path.abspath(path))
    stem, extension = os.path.splitext(name)
    pattern = re.compile(re.escape(stem) + r"\.tmp-(\d+)" + re.escape(extension))
    for entry in os.listdir(folder):
        match = pattern.fullmatch(entry)
        if match and not process_alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, entry))


def draw_box(frame, box, score=None, color=BOX_COLOR, thickness=2):
    """Returns an RGB copy of `frame` with `box` and its score drawn on it.

    Args:
        frame: uint8 array (H, W, 3) RGB.
        box: 4 numbers x, y, w, h in pixels.
        score: float or None. Written above the box's top-left corner.
        color: RGB tuple.
        thickness: int. Line width in pixels.
    """
    image = np.ascontiguousarray(frame).copy()
    x, y, w, h = (float(v) for v in box)
    top_left = (int(round(x)), int(round(y)))
    bottom_right = (int(round(x + w)), int(round(y + h)))
    cv2.rectangle(image, top_left, bottom_right, color, thickness)
    if score is not None:
        text_y = top_left[1] - 5 if top_left[1] >= 15 else bottom_right[1] + 15
        cv2.putText(
            image,
            f"{score:.2f}",
            (max(top_left[0], 0), text_y),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            color,
            1,
            cv2.LINE_AA,
        )
    return image


class AnnotatedVideoWriter:
    """Writes frames with their tracked box and score to an mp4 (mp4v) video.

    The video is written to a temporary file next to `path`
    (`.partial-<pid>-<random>-<name>`, see `keras_loretrack.atomic_files`);
    `close()` reopens it, checks that it decodes to every frame written (OpenCV
    only warns when a write fails, e.g. on a full disk) and renames it into
    place, so an existing `path` is replaced only by a complete video. Leaving a
    `with` block through an exception deletes it instead, and temporaries of
    killed runs (their process gone) are removed when the next writer of the
    same `path` starts. The frame size is taken from the first frame.

    Args:
        path: str. The output video file (`.mp4` recommended).
        fps: float. Frame rate of the written video.
        color: RGB tuple. Box and text colour.
    """

    def __init__(self, path, fps=30.0, color=BOX_COLOR):
        path = os.fspath(path)
        if not (fps and np.isfinite(fps) and fps > 0):
            raise ValueError(f"Video fps must be a positive number, got {fps!r}")
        self.path = path
        self.fps = float(fps)
        self.color = color
        self.num_frames = 0
        self._tmp_path = None
        self._writer = None
        self._size = None

    def write(self, frame, box=None, score=None):
        """Draws `box` (x, y, w, h) and `score` on an RGB frame and appends it."""
        height, width = frame.shape[:2]
        if self._writer is None:
            self._tmp_path = partial_path(self.path)
            remove_legacy_partials(self.path)
            writer = cv2.VideoWriter(
                self._tmp_path,
                cv2.VideoWriter_fourcc(*"mp4v"),
                self.fps,
                (width, height),
            )
            if not writer.isOpened():
                writer.release()
                self.discard()
                raise OSError(f"OpenCV could not open {self.path} for writing (mp4v)")
            self._writer = writer
            self._size = (width, height)
        elif (width, height) != self._size:
            raise ValueError(
                f"All frames of {self.path} must be {self._size[0]}x{self._size[1]}, "
                f"got frame {self.num_frames} of size {width}x{height}"
            )
        if box is not None:
            frame = draw_box(frame, box, score, color=self.color)
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.num_frames += 1

    def close(self):
        """Finishes the video and moves it to `path` (nothing if no frame came).

        Raises:
            OSError: the file does not hold every frame written; `path` is left
                as it was.
        """
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            written = count_video_frames(self._tmp_path)
            if written != self.num_frames:
                os.remove(self._tmp_path)
                raise OSError(
                    f"Could not write {self.path}: {self.num_frames} frames were "
                    f"written, the file holds {written} (disk full?); "
                    "any existing file was left as it was"
                )
            os.chmod(self._tmp_path, 0o666 & ~current_umask())
            os.replace(self._tmp_path, self.path)

    def discard(self):
        """Stops writing and deletes the unfinished video."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._tmp_path is not None and os.path.exists(self._tmp_path):
            os.remove(self._tmp_path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if exc_type is None:
            self.close()
        else:
            self.discard()
