import numpy as np
import pytest

from keras_loretrack.sequences import Sequence


def rect_frame(box, image_size=(120, 160), value=230, background=20):
    """A dark frame with a bright rectangle covering the integer box x, y, w, h."""
    frame = np.full((*image_size, 3), background, np.uint8)
    x, y, w, h = (int(v) for v in box)
    frame[max(y, 0) : y + h, max(x, 0) : x + w] = value
    return frame


def rect_sequence(boxes, image_size=(120, 160), visible=None, name="rects"):
    """A sequence whose frames draw its own ground-truth boxes as rectangles."""
    boxes = np.asarray(boxes, np.float64)
    return Sequence(
        name=name,
        frames=lambda i: rect_frame(boxes[i], image_size),
        ground_truth=boxes,
        visible=visible,
        num_frames=len(boxes),
        dataset="synthetic",
    )


@pytest.fixture
def make_rect_sequence():
    return rect_sequence


@pytest.fixture
def make_rect_frame():
    return rect_frame
