"""Dataset readers on fake trees of every layout (tiny images)."""

import os

import numpy as np
import pytest

from keras_loretrack.sequences import get_dataset, limit_frames, list_datasets
from keras_loretrack.sequences.benchmarks import otb, uav123


def _basename(path):
    return os.path.basename(path)


@pytest.fixture
def lasot_root(tmp_path, files, rng):
    root = tmp_path / "LaSOT"
    for name, count in (("cat-1", 5), ("cat-2", 4), ("dog-3", 3)):
        folder = root / name.split("-")[0] / name
        files.boxes(folder / "groundtruth.txt", files.random_boxes(rng, count))
        occluded = ["0"] * count
        occluded[1] = "1"
        files.text(folder / "full_occlusion.txt", ",".join(occluded) + "\n")
        files.text(folder / "out_of_view.txt", ",".join(["0"] * (count - 1) + ["1"]))
        for index in range(1, count + 1):
            files.image(folder / "img" / f"{index:08d}.jpg", index)
    files.text(root / "testing_set.txt", "cat-1\ncat-2\n")
    files.text(root / "training_set.txt", "dog-3\n")
    return root


def test_lasot_test_split_and_visibility(lasot_root, files):
    dataset = get_dataset("lasot", lasot_root)
    assert dataset.split == "test" and dataset.result_name == "lasot_test"
    assert dataset.sequence_names == ["cat-1", "cat-2"]
    sequence = dataset["cat-1"]
    assert len(sequence) == 5 and sequence.dataset == "lasot"
    np.testing.assert_array_equal(sequence.visible, [1, 0, 1, 1, 0])
    assert _basename(sequence.frames[4]) == "00000005.jpg"
    assert files.value(sequence.frame(2)) == 3
    assert sequence.attributes["category"] == "cat"
    assert get_dataset("lasot", lasot_root, "train").sequence_names == ["dog-3"]
    assert get_dataset("lasot", lasot_root, "all").sequence_names == [
        "cat-1",
        "cat-2",
        "dog-3",
    ]
    extension = get_dataset("lasot_extension_subset", lasot_root)
    assert len(extension) == 3 and extension[2].dataset == "lasot_extension_subset"


def test_lasot_errors_name_the_file(lasot_root):
    folder = lasot_root / "cat" / "cat-1"
    (folder / "out_of_view.txt").write_text("0,0,1\n")
    with pytest.raises(ValueError, match=r"out_of_view.txt: expected 5 labels"):
        get_dataset("lasot", lasot_root)["cat-1"]
    (folder / "full_occlusion.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"cat-1/full_occlusion.txt"):
        get_dataset("lasot", lasot_root)["cat-1"]
    gt = folder.parent / "cat-2" / "groundtruth.txt"
    gt.write_text("1,2,3,4\n1,2,x,4\n")
    with pytest.raises(ValueError, match=r"cat-2/groundtruth.txt, line 2"):
        get_dataset("lasot", lasot_root)["cat-2"]
    (lasot_root / "testing_set.txt").unlink()
    with pytest.raises(FileNotFoundError, match="testing_set.txt"):
        get_dataset("lasot", lasot_root)


def test_got10k_val_and_test(got10k_root, files):
    val = get_dataset("got10k", got10k_root, "val")
    assert val.result_name == "got10k_val" and len(val) == 2
    sequence = val[0]
    assert len(sequence) == 6 and sequence.attributes["resolution"] == (100, 80)
    cover = sequence.attributes["cover"]
    np.testing.assert_array_equal(sequence.visible, cover > 0)
    assert not sequence.visible[3]
    test = get_dataset("got10k", got10k_root)
    assert test.split == "test"
    sequence = test["GOT-10k_Test_000001"]
    assert len(sequence) == 5 and sequence.ground_truth.shape == (1, 4)
    np.testing.assert_array_equal(sequence.init_box, [10, 12, 30, 20])
    assert files.value(sequence.frame(4)) == 5


def test_got10k_errors(got10k_root):
    folder = got10k_root / "val" / "GOT-10k_Val_000001"
    (folder / "cover.label").write_text("8\n8\nseven\n")
    with pytest.raises(ValueError, match=r"cover.label, line 3: expected integer"):
        get_dataset("got10k", got10k_root, "val")[0]
    with pytest.raises(ValueError, match="has no split 'dev'"):
        get_dataset("got10k", got10k_root, "dev")


def test_trackingnet_zero_based_frames(tmp_path, files):
    root = tmp_path / "TrackingNet"
    files.text(root / "TEST" / "anno" / "vid_b.txt", "1,2,3,4\n")
    files.text(root / "TEST" / "anno" / "vid_a.txt", "5,6,7,8\n")
    for name in ("vid_a", "vid_b"):
        for index in range(7):
            files.image(root / "TEST" / "frames" / name / f"{index}.jpg", index)
    dataset = get_dataset("trackingnet", root, "test")
    assert dataset.split == "TEST" and dataset.sequence_names == ["vid_a", "vid_b"]
    sequence = dataset["vid_a"]
    assert len(sequence) == 7
    assert [_basename(f) for f in sequence.frames[:3]] == ["0.jpg", "1.jpg", "2.jpg"]
    assert files.value(sequence.frame(6)) == 6


def test_uav123_table_and_shared_folders(tmp_path, files):
    table = uav123.sequence_table()
    assert len(table) == 123
    assert table["bird1_2"] == ("bird1", 775, 1477)
    assert table["car1_2"] == ("car1", 751, 1627)
    assert table["uav1_3"] == ("uav1", 2473, 3469)
    assert sum(folder == "group3" for folder, _, _ in table.values()) == 4
    root = tmp_path / "UAV123"
    gt = np.tile([[10.0, 20, 30, 40]], (703, 1))
    gt[5] = np.nan
    files.boxes(root / "anno" / "UAV123" / "bird1_2.txt", gt)
    files.image(root / "data_seq" / "UAV123" / "bird1" / "000775.jpg", 9)
    dataset = get_dataset("uav123", root)
    assert len(dataset) == 123
    sequence = dataset["bird1_2"]
    assert len(sequence) == 703 and sequence.dataset == "uav123"
    assert _basename(sequence.frames[0]) == "000775.jpg"
    assert _basename(sequence.frames[-1]) == "001477.jpg"
    assert files.value(sequence.frame(0)) == 9
    assert not sequence.valid_mask()[5] and sequence.valid_mask().sum() == 702
    files.boxes(root / "anno" / "UAV123" / "bird1_3.txt", gt)
    with pytest.raises(ValueError, match=r"bird1_3.txt: expected 865 boxes"):
        dataset["bird1_3"]


def test_otb_special_cases(tmp_path, files):
    table = otb.sequence_table()
    assert len(table) == 100
    root = tmp_path / "OTB100"
    rows = np.tile([[1.0, 2, 3, 4]], (700, 1))
    rows[:, 0] = np.arange(700)
    files.boxes(root / "Tiger1" / "groundtruth_rect.txt", rows[:354], separator="\t")
    dataset = get_dataset("otb", root)
    tiger = dataset["Tiger1"]
    assert len(tiger) == 349 and _basename(tiger.frames[0]) == "0006.jpg"
    np.testing.assert_array_equal(tiger.init_box, [5, 2, 3, 4])
    files.boxes(root / "David" / "groundtruth_rect.txt", rows[:471], separator=" ")
    david = dataset["David"]
    assert _basename(david.frames[0]) == "0300.jpg"
    assert _basename(david.frames[-1]) == "0770.jpg"
    files.boxes(root / "Jogging" / "groundtruth_rect.1.txt", rows[:307])
    files.boxes(root / "Jogging" / "groundtruth_rect.2.txt", rows[:307] + 1)
    jogging_1, jogging_2 = dataset["Jogging_1"], dataset["Jogging_2"]
    assert jogging_1.frames == jogging_2.frames
    np.testing.assert_array_equal(jogging_2.ground_truth - jogging_1.ground_truth, 1)
    files.boxes(root / "Board" / "groundtruth_rect.txt", rows[:698])
    assert _basename(dataset["Board"].frames[0]) == "00001.jpg"
    files.boxes(root / "Diving" / "groundtruth_rect.txt", rows[:200])
    with pytest.raises(ValueError, match=r"Diving/groundtruth_rect.txt: expected 215"):
        dataset["Diving"]
    with pytest.raises(FileNotFoundError, match="OTB sequence folder of 'Woman'"):
        dataset["Woman"]


def test_otb_reads_a_real_sequence(sequences_dir):
    sequence = get_dataset("otb", sequences_dir).select(["Crossing"])[0]
    assert len(sequence) == 120 and sequence.frame(0).shape == (240, 360, 3)
    np.testing.assert_array_equal(sequence.init_box, [205, 151, 17, 50])


def test_nfs_format_and_length_fixes(tmp_path, files):
    root = tmp_path / "NfS"

    def annotation(count):
        return "".join(
            f'1 {10 + i} 20 {40 + i} 60 {i + 1} 0 0 0 "person"\n' for i in range(count)
        )

    files.text(root / "ball" / "30" / "ball.txt", annotation(40))  # 240 fps rows
    files.text(root / "car" / "30" / "car.txt", annotation(6))  # one row too many
    for name in ("ball", "car"):
        for index in range(1, 6):
            files.image(root / name / "30" / name / f"{index:05d}.jpg", index)
    dataset = get_dataset("nfs", root)
    assert dataset.sequence_names == ["ball", "car"]
    ball = dataset["ball"]
    assert len(ball) == 5
    np.testing.assert_array_equal(ball.ground_truth[1], [18, 20, 30, 40])  # row 8
    assert len(dataset["car"]) == 5
    np.testing.assert_array_equal(dataset["car"].ground_truth[0], [10, 20, 30, 40])
    files.text(root / "car" / "30" / "car.txt", annotation(2) + "1 2 3\n")
    with pytest.raises(ValueError, match=r"car.txt, line 3: expected 'id xmin"):
        dataset["car"]


def test_folder_dataset(tmp_path, files):
    for name, count in (("b", 3), ("a", 2)):
        files.boxes(tmp_path / name / "groundtruth_rect.txt", [[1, 2, 3, 4]] * count)
        for index in range(1, count + 1):
            files.image(tmp_path / name / "img" / f"{index:04d}.jpg", index)
    (tmp_path / "not_a_sequence").mkdir()
    dataset = get_dataset("folder", tmp_path)
    assert dataset.sequence_names == ["a", "b"] and dataset.result_name == "folder"
    assert [len(s) for s in dataset] == [2, 3]
    with pytest.raises(ValueError, match=r"Unknown sequences .*\['c'\]"):
        dataset.select(["a", "c"])
    with pytest.raises(KeyError, match="no sequence 'c'"):
        dataset["c"]


def test_registry_errors(tmp_path):
    assert {"lasot", "got10k", "trackingnet", "uav123", "otb", "nfs", "folder"} <= set(
        list_datasets()
    )
    with pytest.raises(ValueError, match="Unknown dataset 'vot'"):
        get_dataset("vot", tmp_path)
    with pytest.raises(FileNotFoundError, match="Dataset root for 'otb' not found"):
        get_dataset("otb", tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="No sequence folders"):
        get_dataset("folder", tmp_path)


def test_limit_frames(lasot_root, got10k_root):
    sequence = get_dataset("lasot", lasot_root)["cat-1"]
    short = limit_frames(sequence, 3)
    assert len(short) == 3 and short.ground_truth.shape == (3, 4)
    np.testing.assert_array_equal(short.visible, sequence.visible[:3])
    assert limit_frames(sequence, 10) is sequence
    test = get_dataset("got10k", got10k_root)[0]
    assert len(limit_frames(test, 2)) == 2
    assert limit_frames(test, 2).ground_truth.shape == (1, 4)
    val = limit_frames(get_dataset("got10k", got10k_root, "val")[0], 4)
    assert val.attributes["cover"].shape == (4,)
