"""Layers of the LoReTrack network."""

from keras_loretrack.layers.activations import gelu_erf
from keras_loretrack.layers.candidate_elimination import (
    CandidateElimination,
    template_center_index,
)
from keras_loretrack.layers.center_head import CenterHead, decode_boxes
from keras_loretrack.layers.drop_path import DropPath
from keras_loretrack.layers.layer_norm import LayerNorm
from keras_loretrack.layers.multi_head_self_attention import MultiHeadSelfAttention
from keras_loretrack.layers.patch_embedding import PatchEmbedding
from keras_loretrack.layers.position_embedding import PositionEmbedding
from keras_loretrack.layers.transformer_block import TransformerBlock
