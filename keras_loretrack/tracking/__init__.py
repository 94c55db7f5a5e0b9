"""The `Tracker` and the engines that run its network."""

from keras_loretrack.tracking import engines
from keras_loretrack.tracking.engines import (
    Engine,
    KerasEngine,
    engine_from_file,
    register_file_engine,
    registered_file_extensions,
)
from keras_loretrack.tracking.tracker import Tracker
