"""Crops, augmentation, pair sampling and the training data pipeline.

The sequences training reads (procedural videos, COCO, benchmark splits) live
in `keras_loretrack.sequences`.
"""
