"""keras_loretrack: LoReTrack low-resolution transformer tracking in Keras 3."""

from keras_loretrack.models import LoReTrack, LoReTrackBackbone
from keras_loretrack.tracking import Tracker
from keras_loretrack.version import __version__
