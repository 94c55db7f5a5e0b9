"""Readers of the tracking benchmarks' release layouts, one module per family.

Importing this package registers every reader with
`keras_loretrack.sequences.registry` (lasot, lasot_extension_subset, got10k,
trackingnet, uav123, otb, folder, nfs).
"""

from keras_loretrack.sequences.benchmarks import (
    got10k,
    lasot,
    nfs,
    otb,
    trackingnet,
    uav123,
)
