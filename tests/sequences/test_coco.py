import json

import cv2
import numpy as np
import pytest

from keras_loretrack.data.sampling import PairSampler
from keras_loretrack.sequences import CocoImageSet


@pytest.fixture
def coco_root(tmp_path):
    """Two images in COCO layout: annotations/instances_val2017.json, val2017/."""
    images = tmp_path / "val2017"
    images.mkdir()
    first = np.zeros((40, 60, 3), np.uint8)
    first[:, :, 0] = 255  # red in RGB
    cv2.imwrite(
        str(images / "000000000001.jpg"), cv2.cvtColor(first, cv2.COLOR_RGB2BGR)
    )
    cv2.imwrite(str(images / "000000000002.jpg"), np.zeros((30, 50, 3), np.uint8))
    content = {
        "images": [
            {"id": 1, "file_name": "000000000001.jpg", "height": 40, "width": 60},
            {"id": 2, "file_name": "000000000002.jpg", "height": 30, "width": 50},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "bbox": [5, 6, 20, 10], "iscrowd": 0,
             "category_id": 1},
            {"id": 11, "image_id": 1, "bbox": [0, 0, 30, 30], "iscrowd": 1,
             "category_id": 1},
            {"id": 12, "image_id": 2, "bbox": [3, 4, 2.5, 9], "iscrowd": 0,
             "category_id": 2},
            {"id": 13, "image_id": 2, "bbox": [10, 8, 12.5, 7.5], "iscrowd": 0,
             "category_id": 2},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}],
    }  # fmt: skip
    annotations = tmp_path / "annotations"
    annotations.mkdir()
    (annotations / "instances_val2017.json").write_text(json.dumps(content))
    return tmp_path


def test_reader_skips_crowd_and_tiny_boxes(coco_root):
    coco = CocoImageSet.from_root(coco_root, split="val2017")
    assert len(coco) == 2
    np.testing.assert_array_equal(coco.annotation_ids, [10, 13])
    first, second = coco[0], coco[1]
    assert first.name == "000000000001-10" and first.dataset == "coco"
    assert len(first) == 1 and first.visible.tolist() == [True]
    np.testing.assert_array_equal(first.ground_truth, [[5, 6, 20, 10]])
    np.testing.assert_array_equal(second.ground_truth, [[10, 8, 12.5, 7.5]])
    assert second.attributes == {"category_id": 2, "category": "dog"}
    frame = first.frame(0)
    assert frame.shape == (40, 60, 3)
    assert frame[..., 0].mean() > 240 and frame[..., 2].mean() < 15
    assert [s.name for s in coco] == ["000000000001-10", "000000000002-13"]
    assert coco[-1].name == second.name
    with pytest.raises(IndexError, match="has 2 objects"):
        coco[2]


def test_min_size_and_category_filters(coco_root):
    coco = CocoImageSet.from_root(coco_root, "val2017", min_size=2.0)
    np.testing.assert_array_equal(coco.annotation_ids, [10, 12, 13])
    dogs = CocoImageSet.from_root(coco_root, "val2017", category_ids=[2], min_size=0)
    np.testing.assert_array_equal(dogs.annotation_ids, [12, 13])


def test_images_give_template_and_search_from_the_same_frame(coco_root):
    sampler = PairSampler([CocoImageSet.from_root(coco_root, "val2017")])
    rng = np.random.default_rng(0)
    for _ in range(10):
        pair = sampler.sample(rng)
        assert pair.template_index == pair.search_index == 0
        np.testing.assert_array_equal(pair.template_box, pair.search_box)


def test_malformed_files_are_named(tmp_path, coco_root):
    with pytest.raises(FileNotFoundError, match="COCO annotation file not found"):
        CocoImageSet(tmp_path / "missing.json", tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match="no 'annotations' list"):
        CocoImageSet(bad, tmp_path)
    bad.write_text(
        json.dumps(
            {
                "images": [],
                "annotations": [
                    {"id": 1, "image_id": 9, "bbox": [0, 0, 9, 9], "category_id": 1}
                ],
            }
        )
    )
    with pytest.raises(ValueError, match="unknown image_id 9"):
        CocoImageSet(bad, tmp_path)
