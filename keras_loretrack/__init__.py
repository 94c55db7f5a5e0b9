"""keras_loretrack: LoReTrack low-resolution transformer tracking in Keras 3.

The top-level names load lazily, so `import keras_loretrack` (and the command
line) stays quick until a model is needed.
"""

import importlib

from keras_loretrack.version import __version__

_LAZY = {
    "LoReTrack": "keras_loretrack.models",
    "LoReTrackBackbone": "keras_loretrack.models",
    "LoReTrackDistiller": "keras_loretrack.models.loretrack_distiller",
    "Tracker": "keras_loretrack.tracking",
    "Sequence": "keras_loretrack.sequences",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_loretrack' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
