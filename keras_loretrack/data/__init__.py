"""Crops, training data pipelines and the procedural video dataset."""
