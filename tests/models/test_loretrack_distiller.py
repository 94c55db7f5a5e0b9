import cv2
import keras
import numpy as np
import pytest

from keras_loretrack import LoReTrack
from keras_loretrack.losses import (
    discriminative_distillation_loss,
    qkv_distillation_loss,
    tracking_loss,
)
from keras_loretrack.models.loretrack_distiller import LoReTrackDistiller
from tests.presets import TINY_TEST


def tiny_pair(student_size=32, **student_overrides):
    teacher = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    student = LoReTrack.from_preset(
        TINY_TEST,
        load_weights=False,
        search_size=student_size,
        template_size=student_size // 2,
        **student_overrides,
    )
    return student, teacher


def test_distillation_overfits_one_batch_and_only_the_student_learns(tiny_batch):
    keras.utils.set_random_seed(0)
    student, teacher = tiny_pair()
    distiller = LoReTrackDistiller(student, teacher)
    assert not teacher.trainable
    assert len(distiller.trainable_variables) == len(student.trainable_variables)
    distiller.compile(optimizer=keras.optimizers.Adam(2e-3))
    x, y = tiny_batch()
    teacher_before = [w.numpy().copy() for w in teacher.weights]
    student_before = [w.numpy().copy() for w in student.trainable_weights]
    history = distiller.fit(x, y, batch_size=4, epochs=25, verbose=0).history
    names = ("loss", "focal", "giou", "l1", "iou", "disc", "qkv", "mask_fraction")
    assert sorted(history) == sorted(names)
    for name in names:
        assert np.all(np.isfinite(history[name])), name
    for name in ("loss", "focal", "giou", "l1"):
        assert np.mean(history[name][-3:]) < 0.8 * np.mean(history[name][:3]), name
    # Teacher weights, BatchNorm statistics included, are bit-identical.
    for before, weight in zip(teacher_before, teacher.weights):
        np.testing.assert_array_equal(weight.numpy(), before, err_msg=weight.path)
    changed = [
        not np.array_equal(w.numpy(), before)
        for before, w in zip(student_before, student.trainable_weights)
    ]
    assert all(changed)


def test_distillation_terms_alone_fall(tiny_batch):
    keras.utils.set_random_seed(1)
    student, teacher = tiny_pair()
    distiller = LoReTrackDistiller(
        student,
        teacher,
        focal_weight=0.0,
        giou_weight=0.0,
        l1_weight=0.0,
        disc_weight=1.0,
        qkv_weight=1.0,
    )
    distiller.compile(optimizer=keras.optimizers.Adam(3e-3), run_eagerly=True)
    x, y = tiny_batch()
    history = distiller.fit(x, y, batch_size=4, epochs=8, verbose=0).history
    for name in ("loss", "disc", "qkv"):
        assert np.mean(history[name][-2:]) < 0.7 * history[name][0], name


def test_losses_are_the_weighted_sum_of_the_public_terms(tiny_batch):
    student, teacher = tiny_pair()
    distiller = LoReTrackDistiller(
        student, teacher, qkv_blocks=(0, -1), disc_weight=0.3, qkv_weight=0.2
    )
    x, y = tiny_batch(seed=1)
    student_outputs = student.distillation_model((0, 1))(
        distiller.student_inputs(x), training=False
    )
    teacher_outputs = teacher.distillation_model((0, 1))(x, training=False)
    got = distiller.compute_losses(y["box"], student_outputs, teacher_outputs)

    track = tracking_loss(y["box"], student_outputs)
    disc = discriminative_distillation_loss(
        student_outputs["search_features"], teacher_outputs["search_features"]
    )
    qkv = 0.0
    for block in (0, 1):
        qkv += float(
            qkv_distillation_loss(
                {
                    k: student_outputs[f"block{block}_{k}"]
                    for k in ("query", "key", "value")
                },
                {
                    k: teacher_outputs[f"block{block}_{k}"]
                    for k in ("query", "key", "value")
                },
                student_grid=2,
                teacher_grid=4,
            )["loss"]
        )
    want = float(track["loss"]) + 0.3 * float(disc["loss"]) + 0.2 * qkv
    np.testing.assert_allclose(float(got["loss"]), want, rtol=1e-5)
    np.testing.assert_allclose(float(got["qkv"]), qkv, rtol=1e-5)
    np.testing.assert_allclose(float(got["disc"]), float(disc["loss"]), rtol=1e-6)
    for key in ("focal", "giou", "l1", "iou"):
        np.testing.assert_allclose(float(got[key]), float(track[key]), rtol=1e-6)


def test_student_sees_the_teacher_crops_resized_like_cv2_linear(tiny_batch):
    student, teacher = tiny_pair()
    distiller = LoReTrackDistiller(student, teacher)
    x, _ = tiny_batch(size=2)
    resized = distiller.student_inputs(x)
    for name, size in (("template", 16), ("search", 32)):
        want = np.stack(
            [
                cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
                for image in x[name]
            ]
        )
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(resized[name]), want, atol=1e-5
        )
    outputs = distiller(x)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(outputs["boxes"]),
        keras.ops.convert_to_numpy(student(resized)["boxes"]),
        rtol=1e-6,
    )


def test_qkv_off_and_evaluate(tiny_batch):
    student, teacher = tiny_pair()
    distiller = LoReTrackDistiller(student, teacher, qkv_blocks=())
    distiller.compile(optimizer="adam")
    x, y = tiny_batch()
    result = distiller.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert result["qkv"] == 0.0
    assert np.isfinite(result["loss"]) and 0.0 <= result["iou"] <= 1.0


def test_config_round_trip_and_saving(tmp_path, tiny_batch):
    student, teacher = tiny_pair()
    distiller = LoReTrackDistiller(
        student, teacher, qkv_blocks=(0,), temperature=2.0, disc_inside_weight=0.75
    )
    config = distiller.get_config()
    restored = LoReTrackDistiller.from_config(config)
    assert restored.get_config() == config
    assert not restored.teacher.trainable and restored.student.trainable
    assert restored.student.search_size == 32 and restored.teacher.search_size == 64
    assert restored.temperature == 2.0 and restored.block_pairs == [(0, 0)]

    x, _ = tiny_batch(size=1)
    path = tmp_path / "distiller.keras"
    distiller.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, LoReTrackDistiller)
    assert not loaded.teacher.trainable
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)["score_map"]),
        keras.ops.convert_to_numpy(distiller(x)["score_map"]),
        rtol=1e-6,
    )

    distiller.save_to_preset(tmp_path / "student")
    preset = LoReTrack.from_preset(tmp_path / "student")
    assert preset.search_size == 32
    small = distiller.student_inputs(x)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(preset(small)["score_map"]),
        keras.ops.convert_to_numpy(student(small)["score_map"]),
    )


def test_errors_name_the_problem(tiny_batch):
    student, teacher = tiny_pair()
    wide = LoReTrack.from_preset("mini_student", load_weights=False)
    with pytest.raises(ValueError, match="same hidden_dim .* got 96 and 32"):
        LoReTrackDistiller(wide, teacher)
    with pytest.raises(ValueError, match="teacher must be a LoReTrack model"):
        LoReTrackDistiller(student, keras.Sequential())
    with pytest.raises(ValueError, match=r"student's blocks 0..1 .* got 5"):
        LoReTrackDistiller(student, teacher, qkv_blocks=(5,))
    distiller = LoReTrackDistiller(student, teacher)
    x, _ = tiny_batch(size=1)
    with pytest.raises(ValueError, match=r"teacher's resolution 64x64, got \(32, 32\)"):
        distiller.student_inputs({"template": x["template"], "search": x["template"]})
    with pytest.raises(ValueError, match="keys \\['search', 'template'\\]"):
        distiller.student_inputs({"search": x["search"]})


def test_precomputed_teacher_targets_replace_the_teacher(tiny_batch):
    x, y = tiny_batch(seed=2)
    trajectories = []
    for precomputed in (False, True):
        keras.utils.set_random_seed(3)
        student, teacher = tiny_pair()
        distiller = LoReTrackDistiller(student, teacher)
        distiller.compile(optimizer=keras.optimizers.Adam(1e-3))
        inputs = dict(x)
        if precomputed:
            targets = distiller.teacher_targets(x)
            assert sorted(targets) == sorted(
                ["search_features", "block1_query", "block1_key", "block1_value"]
            )
            # Stored at half precision, as a cache on disk would hold them.
            inputs["teacher_outputs"] = {
                k: keras.ops.convert_to_numpy(v).astype("float16")
                for k, v in targets.items()
            }
            # The teacher must not run: break it.
            distiller.teacher_features = None
        history = distiller.fit(
            inputs, y, batch_size=4, epochs=3, shuffle=False, verbose=0
        ).history
        trajectories.append(history)
    for name in ("loss", "disc", "qkv", "mask_fraction"):
        np.testing.assert_allclose(
            trajectories[1][name], trajectories[0][name], rtol=2e-3, err_msg=name
        )


def test_precomputed_teacher_targets_must_be_complete(tiny_batch):
    student, teacher = tiny_pair()
    distiller = LoReTrackDistiller(student, teacher)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_batch(size=4)
    targets = distiller.teacher_targets(x)
    del targets["block1_value"]
    with pytest.raises(ValueError, match=r"lacks \['block1_value'\]"):
        distiller.evaluate({**x, "teacher_outputs": targets}, y, verbose=0)
