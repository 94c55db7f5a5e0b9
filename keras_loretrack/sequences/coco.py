"""COCO-format image sets as one-frame tracking sequences (one per object).

Training on still images crops template and search from the same image
around the same object, as OSTrack (Ye et al. 2022) does with COCO; the pair
sampler does this for any sequence of one frame. The reader keeps compact
arrays and builds each `Sequence` on demand, so COCO 2017's ~860k objects
cost a few tens of MB.
"""

import json
import os

import numpy as np

from keras_loretrack.sequences.sequence import Sequence


class CocoImageSet:
    """Objects of a COCO `instances_*.json` file as one-frame sequences.

    Crowd annotations (`iscrowd` 1) and boxes with w or h below `min_size`
    pixels are skipped. Indexing returns a `Sequence` with one frame (the
    image), one box and `visible` True.

    Args:
        annotation_file: str. The instances json (images, annotations,
            categories).
        image_dir: str. Folder holding the images named by `file_name`.
        min_size: float. Smallest accepted box side in pixels.
        category_ids: iterable of int or None. Keep only these categories.
        dataset: str. Name given to the sequences' `dataset`.

    Example:
    ```python
    coco = CocoImageSet.from_root("/data/coco", split="train2017")
    len(coco)          # number of usable objects
    seq = coco[0]      # Sequence with 1 frame
    ```
    """

    def __init__(
        self,
        annotation_file,
        image_dir,
        min_size=4.0,
        category_ids=None,
        dataset="coco",
    ):
        annotation_file = os.fspath(annotation_file)
        if not os.path.isfile(annotation_file):
            raise FileNotFoundError(
                f"COCO annotation file not found: {annotation_file}"
            )
        self.annotation_file = annotation_file
        self.image_dir = os.fspath(image_dir)
        self.min_size = float(min_size)
        self.dataset = dataset
        with open(annotation_file, encoding="utf-8") as f:
            content = json.load(f)
        for key in ("images", "annotations"):
            if key not in content:
                raise ValueError(
                    f"{annotation_file} is not a COCO instances file: no {key!r} list"
                )
        self.file_names = [image["file_name"] for image in content["images"]]
        image_index = {image["id"]: i for i, image in enumerate(content["images"])}
        self.categories = {c["id"]: c["name"] for c in content.get("categories", [])}
        keep_categories = None if category_ids is None else set(category_ids)

        rows, boxes, ann_ids, cat_ids = [], [], [], []
        for ann in content["annotations"]:
            if ann.get("iscrowd", 0):
                continue
            if (
                keep_categories is not None
                and ann["category_id"] not in keep_categories
            ):
                continue
            box = ann["bbox"]
            if len(box) != 4:
                raise ValueError(
                    f"{annotation_file}: annotation {ann.get('id')} has bbox {box!r}, "
                    "expected [x, y, w, h]"
                )
            if not (box[2] >= self.min_size and box[3] >= self.min_size):
                continue
            if ann["image_id"] not in image_index:
                raise ValueError(
                    f"{annotation_file}: annotation {ann.get('id')} refers to "
                    f"unknown image_id {ann['image_id']!r}"
                )
            rows.append(image_index[ann["image_id"]])
            boxes.append(box)
            ann_ids.append(ann.get("id", len(ann_ids)))
            cat_ids.append(ann["category_id"])
        self.image_rows = np.asarray(rows, dtype=np.int32)
        self.boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self.annotation_ids = np.asarray(ann_ids, dtype=np.int64)
        self.category_ids = np.asarray(cat_ids, dtype=np.int32)

    @classmethod
    def from_root(cls, root, split="train2017", **kwargs):
        """Reads the standard layout `root/annotations/instances_<split>.json`
        with images in `root/<split>/`."""
        root = os.fspath(root)
        return cls(
            os.path.join(root, "annotations", f"instances_{split}.json"),
            os.path.join(root, split),
            **kwargs,
        )

    def __len__(self):
        return len(self.boxes)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"CocoImageSet has {len(self)} objects, got index {index}")
        index = int(index) % len(self)
        file_name = self.file_names[self.image_rows[index]]
        category = int(self.category_ids[index])
        return Sequence(
            name=f"{os.path.splitext(file_name)[0]}-{int(self.annotation_ids[index])}",
            frames=[os.path.join(self.image_dir, file_name)],
            ground_truth=self.boxes[index : index + 1],
            visible=np.ones(1, dtype=bool),
            dataset=self.dataset,
            attributes={
                "category_id": category,
                "category": self.categories.get(category, str(category)),
            },
        )

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]
