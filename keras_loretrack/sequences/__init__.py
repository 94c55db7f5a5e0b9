"""What a video is: `Sequence`, box files, benchmark readers, COCO, procedural videos.

The ground floor under `data/` (training), `tracking/` (inference),
`evaluation/` (metrics) and `export/` (calibration):

- `sequence`: `Sequence` (lazy frames + ground truth), frame folders, `limit_frames`.
- `annotations`: box files, one `x,y,w,h` row per frame.
- `registry`: `Dataset` splits and `get_dataset` / `list_datasets`.
- `benchmarks`: the readers of LaSOT, GOT-10k, TrackingNet, UAV123, OTB, NfS
  and OTB-layout folders (tables in `sequences/tables/`).
- `coco`: COCO objects as one-frame sequences (still-image training).
- `procedural`: procedural videos with exact ground truth.
- `sources`: data sources named on a command line (`procedural=N`,
  `got10k:train=ROOT`, ...).
"""

# Importing `benchmarks` registers its readers with `registry`; any import of a
# `keras_loretrack.sequences` module runs this file first.
from keras_loretrack.sequences import benchmarks
from keras_loretrack.sequences.annotations import read_boxes, write_boxes
from keras_loretrack.sequences.coco import CocoImageSet
from keras_loretrack.sequences.registry import (
    Dataset,
    get_dataset,
    list_datasets,
    register_dataset,
)
from keras_loretrack.sequences.sequence import (
    Sequence,
    image_files,
    limit_frames,
    natural_key,
    read_rgb,
)
from keras_loretrack.sequences.sources import (
    load_source,
    load_sources,
    parse_source_spec,
)
