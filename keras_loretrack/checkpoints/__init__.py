"""Official PyTorch checkpoints (OSTrack, LoReTrack, MAE) read without PyTorch."""

from keras_loretrack.checkpoints.convert import (
    ConversionResult,
    convert_checkpoint,
    validate_conversion,
)
from keras_loretrack.checkpoints.official_mapping import (
    LoadReport,
    find_state_dict,
    load_official_weights,
)
from keras_loretrack.checkpoints.torch_reader import (
    CheckpointError,
    StandIn,
    load_torch_checkpoint,
)
