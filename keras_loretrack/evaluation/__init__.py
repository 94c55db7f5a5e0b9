"""Sequences, benchmark datasets, metrics and one-pass evaluation."""

from keras_loretrack.evaluation.annotations import read_boxes, write_boxes
from keras_loretrack.evaluation.sequence import Sequence, read_rgb
