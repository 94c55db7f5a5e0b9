"""Procedural tracking videos made from scikit-image's bundled natural images.

An object (a patch of a natural image under a soft, irregular mask) moves
smoothly over a drifting natural-image background, changes scale and aspect,
passes under occluders, shares the scene with look-alike distractors cut from
the same image, and goes through motion blur, camera shake, light changes and
sensor noise. A seed names one video exactly; frames are rendered lazily with
OpenCV, one at a time, and the ground truth is exact.

- `textures`: the source images, regions and tints cut from them.
- `sprites`: the soft-mask shapes and moving patches.
- `motion`: paths, sizes, crossings, light and shake over time.
- `script`: every random choice of a video, drawn once from its seed.
- `rendering`: drawing a frame from the script.
- `video`: `ProceduralVideo`, the video as a frozen record.
- `dataset`: sequences by seed, the train/val/test splits, OTB-layout writing.
- `photos`: the same images as still one-frame sequences with an object-like
  box (static-image training pairs).

scikit-image is an optional dependency (`pip install keras-loretrack[procedural]`).
"""

from keras_loretrack.sequences.procedural.dataset import (
    SPLIT_SEED_RANGES,
    make_sequence,
    procedural_dataset,
    write_sequence,
)
from keras_loretrack.sequences.procedural.photos import (
    make_photo_sequence,
    photo_dataset,
)
from keras_loretrack.sequences.procedural.textures import (
    COLOR_IMAGES,
    GRAY_IMAGES,
    TEXTURE_NAMES,
    load_texture,
    load_texture_shape,
)
from keras_loretrack.sequences.procedural.video import ProceduralVideo
