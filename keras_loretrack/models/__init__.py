"""LoReTrack models: backbone, task and presets."""

from keras_loretrack.models.loretrack import LoReTrack
from keras_loretrack.models.loretrack_backbone import LoReTrackBackbone
from keras_loretrack.models.loretrack_presets import PRESETS
from keras_loretrack.models.position_regrid import regrid_position_table
