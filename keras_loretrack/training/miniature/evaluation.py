"""One-pass evaluation of the replication's runs on held-out sequences.

Procedural test videos (split `test`, never used for any choice) are rendered
once into memory, so timing measures the tracker only; real sequences, when a
folder of them is given, are read from disk. fps is the tracker's own speed on
the procedural set (frame decoding excluded).
"""

import json
import os

from tqdm import tqdm

from keras_loretrack.atomic_files import write_json
from keras_loretrack.evaluation.scoring import evaluate_tracker
from keras_loretrack.models.cost import count_macs
from keras_loretrack.models.loretrack import LoReTrack
from keras_loretrack.sequences import get_dataset, limit_frames
from keras_loretrack.sequences.procedural import procedural_dataset


def test_sets(budget, sequences_dir=None):
    """`{"procedural": [...], "real": [...]}` of in-memory `Sequence`s.

    Args:
        budget: `Budget`. Test videos, their frames and the real frames kept.
        sequences_dir: str or None. A folder of OTB-layout sequences; None
            leaves the real set out.
    """
    procedural = [
        sequence.in_memory()
        for sequence in tqdm(
            procedural_dataset(
                budget.test_videos, split="test", num_frames=budget.test_frames
            ),
            desc="render test videos",
        )
    ]
    sets = {"procedural": procedural}
    if sequences_dir:
        sets["real"] = [
            limit_frames(sequence, budget.real_frames).in_memory()
            for sequence in get_dataset("folder", sequences_dir)
        ]
    return sets


def evaluate_run(run_dir, sets):
    """The run's MACs, parameters and overall scores on every set.

    Kept in `<run_dir>/evaluation.json`: sets already scored there are read
    back, only the others are tracked.
    """
    path = os.path.join(run_dir, "evaluation.json")
    result = {}
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
    missing = [name for name in sets if name not in result]
    if not missing:
        return result
    model = LoReTrack.from_preset(os.path.join(run_dir, "preset"))
    result["macs"] = int(count_macs(model))
    result["params"] = int(model.count_params())
    for name in missing:
        result[name] = evaluate_tracker(model, sets[name])["overall"]
    write_json(path, result)
    return result
