"""Training and validation sources named on a command line.

A source spec is `NAME[:SPLIT]=VALUE`:

- `procedural=N`: N procedural videos (`keras_loretrack.sequences.procedural`),
  split `train` unless given (`procedural:val=20`);
- `photos=N`: N still photographs with an object-like box
  (`keras_loretrack.sequences.procedural.photos`), cut into static-image
  pairs as COCO is; split as for `procedural`;
- both take generator options after the count, `KEY=NUMBER` or
  `KEY=LOW:HIGH` separated by commas:
  `procedural=1000,aspect_range=1.1,object_size=0.04:0.25` (the fields of
  `ProceduralVideo`, the arguments of `make_photo_sequence`);
- `coco[:SPLIT]=ROOT`: a COCO 2017 folder (`annotations/instances_<split>.json`
  and `<split>/`), split `train2017` unless given;
- any benchmark reader of `keras_loretrack.sequences.list_datasets()`
  (`lasot`, `got10k`, `trackingnet`, ...): `NAME[:SPLIT]=ROOT`, the reader's
  default split unless given.
"""

import dataclasses
import inspect

from keras_loretrack.sequences import CocoImageSet, get_dataset, list_datasets
from keras_loretrack.sequences.procedural import ProceduralVideo, procedural_dataset
from keras_loretrack.sequences.procedural.photos import (
    make_photo_sequence,
    photo_dataset,
)

# Sources generated from a count: what makes them, and the options they take.
GENERATED = {
    "procedural": (
        procedural_dataset,
        [f.name for f in dataclasses.fields(ProceduralVideo) if f.name != "seed"],
    ),
    "photos": (
        photo_dataset,
        [
            name
            for name in inspect.signature(make_photo_sequence).parameters
            if name not in ("seed", "name")
        ],
    ),
}


def parse_source_spec(spec):
    """Splits `NAME[:SPLIT]=VALUE` into `(name, split or None, value)`."""
    head, separator, value = spec.partition("=")
    if not separator or not head or not value:
        raise ValueError(
            f"A data source is NAME[:SPLIT]=VALUE (e.g. got10k:train=/data/got10k "
            f"or procedural=200), got {spec!r}"
        )
    name, _, split = head.partition(":")
    return name.strip().lower(), (split.strip() or None), value.strip()


def load_source(spec, procedural_split="train"):
    """The sequences (or COCO image set) a spec names.

    Args:
        spec: str. `NAME[:SPLIT]=VALUE`, see the module docstring.
        procedural_split: str. Split of generated sources (procedural videos,
            photos) when none is given.

    Returns:
        A sequence collection (`len` and indexing give `Sequence` objects).
    """
    name, split, value = parse_source_spec(spec)
    if name in GENERATED:
        make_dataset, option_names = GENERATED[name]
        count, *options = value.split(",")
        try:
            count = int(count)
        except ValueError:
            raise ValueError(
                f"{name}=N takes a number of sequences, got {count!r}"
            ) from None
        config = _generator_options(name, options, option_names)
        return make_dataset(count, split=split or procedural_split, **config)
    if name == "coco":
        return CocoImageSet.from_root(value, split=split or "train2017")
    if name in list_datasets():
        return get_dataset(name, value, split)
    raise ValueError(
        f"Unknown data source {name!r}; expected procedural, photos, coco or one of "
        f"{sorted(list_datasets())}"
    )


def _generator_options(name, options, option_names):
    """`KEY=NUMBER` / `KEY=LOW:HIGH` strings as keyword arguments."""
    config = {}
    for option in options:
        key, separator, text = (part.strip() for part in option.partition("="))
        if not separator or key not in option_names:
            raise ValueError(
                f"{name} takes options KEY=NUMBER or KEY=LOW:HIGH with KEY one of "
                f"{option_names}, got {option!r}"
            )
        try:
            numbers = [
                int(p) if p.lstrip("+-").isdigit() else float(p)
                for p in text.split(":")
            ]
        except ValueError:
            numbers = []
        if not 1 <= len(numbers) <= 2:
            raise ValueError(
                f"Option {key} of {name} takes a number or LOW:HIGH, got {text!r}"
            )
        config[key] = tuple(numbers) if len(numbers) == 2 else numbers[0]
    return config


def load_sources(specs, ratios=None, procedural_split="train"):
    """Loads several sources and checks their draw ratios.

    Args:
        specs: list of str. Source specs.
        ratios: list of float or None. One ratio per spec (None: equal).
        procedural_split: str. Split of procedural videos when none is given.

    Returns:
        Tuple `(sources, ratios)` for `make_training_dataset`.
    """
    if not specs:
        raise ValueError("At least one data source is needed, got none")
    if ratios is not None and len(ratios) != len(specs):
        raise ValueError(
            f"Give one ratio per data source: {len(specs)} sources, "
            f"{len(ratios)} ratios"
        )
    sources = [load_source(spec, procedural_split) for spec in specs]
    return sources, (list(ratios) if ratios is not None else None)
