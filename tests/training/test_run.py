import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_loretrack.sequences import load_sources, parse_source_spec
from keras_loretrack.training import (
    EpochCheckpoint,
    ScalarLogs,
    make_strategy,
    prepare_output,
)
from keras_loretrack.training.recipe_flags import add_training_arguments, make_parser


def read_scalars(folder):
    values = {}
    for path in sorted(pathlib.Path(folder).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                assert value.metadata.plugin_data.plugin_name == "scalars"
                scalar = tf.make_ndarray(value.tensor)
                values.setdefault(value.tag, []).append((event.step, float(scalar)))
    return values


def test_scalar_logs_are_tensorboard_scalars(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    model.fit(
        x,
        y,
        batch_size=4,
        epochs=2,
        validation_data=(x, y),
        callbacks=[ScalarLogs(tmp_path, update_freq=1)],
        verbose=0,
    )
    train = read_scalars(tmp_path / "train")
    assert [step for step, _ in train["epoch_loss"]] == [0, 1]
    np.testing.assert_allclose([v for _, v in train["epoch_learning_rate"]], 0.01)
    assert [step for step, _ in train["batch_loss"]] == [1, 2, 3, 4]
    validation = read_scalars(tmp_path / "validation")
    assert len(validation["epoch_loss"]) == 2 and "epoch_val_loss" not in validation
    with pytest.raises(ValueError, match="update_freq must be None or >= 1"):
        ScalarLogs(tmp_path, update_freq=0)


def test_source_specs(tmp_path):
    assert parse_source_spec("got10k:train=/data/got10k") == (
        "got10k",
        "train",
        "/data/got10k",
    )
    assert parse_source_spec("procedural=3") == ("procedural", None, "3")
    sources, ratios = load_sources(
        ["procedural=2", "procedural:val=1", "photos=3"], [3, 1, 1]
    )
    assert [len(s) for s in sources] == [2, 1, 3] and ratios == [3, 1, 1]
    assert sources[2][0].dataset == "photos" and sources[2][0].num_frames == 1
    with pytest.raises(ValueError, match="NAME\\[:SPLIT\\]=VALUE"):
        parse_source_spec("got10k")
    with pytest.raises(ValueError, match="Unknown data source 'imagenet'"):
        load_sources(["imagenet=/x"])
    with pytest.raises(ValueError, match="2 sources, 1 ratios"):
        load_sources(["procedural=1", "procedural=1"], [1])
    with pytest.raises(ValueError, match="takes a number of sequences, got 'x'"):
        load_sources(["procedural=x"])
    with pytest.raises(ValueError, match="photos=N takes a number"):
        load_sources(["photos=many"])


def test_generated_sources_take_generator_options():
    (videos, photos), _ = load_sources(
        [
            "procedural:val=2,aspect_range=1.1,object_size=0.04:0.1,num_frames=7",
            "photos=2,box_side=0.05:0.1",
        ]
    )
    config = videos[0].attributes["config"]
    assert config["aspect_range"] == 1.1 and config["object_size"] == (0.04, 0.1)
    assert len(videos[1]) == 7 and videos[0].attributes["seed"] == 100_000_000
    height, width = photos[0].frame(0).shape[:2]
    x, y, w, h = photos[0].ground_truth[0]
    assert 0.05 <= np.sqrt(w * h) / min(height, width) <= 0.1 + 1e-9
    with pytest.raises(ValueError, match="KEY one of .*'aspect_range'.*got 'colour=3'"):
        load_sources(["procedural=1,colour=3"])
    with pytest.raises(ValueError, match="KEY one of .*'box_side'"):
        load_sources(["photos=1,aspect_range=1"])
    with pytest.raises(ValueError, match="Option speed of procedural takes a number"):
        load_sources(["procedural=1,speed=fast"])
    with pytest.raises(ValueError, match="object_size must satisfy"):
        load_sources(["procedural=1,object_size=0.3:0.1"])


def test_output_folder_is_not_overwritten(tmp_path):
    paths = prepare_output(str(tmp_path / "run"), resume=False)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    callback = EpochCheckpoint(paths["checkpoints"])
    callback.set_model(model)
    callback.on_epoch_end(0)
    with pytest.raises(ValueError, match="pass --resume to continue it"):
        prepare_output(str(tmp_path / "run"), resume=False)
    assert prepare_output(str(tmp_path / "run"), resume=True) == paths


def test_arguments_and_strategy():
    parser = make_parser("test")
    add_training_arguments(
        parser, epochs=7, batch_size=4, samples_per_epoch=16, data=["procedural=1"]
    )
    args = parser.parse_args(["--output", "x", "--data", "procedural=2"])
    assert (args.epochs, args.batch_size, args.data) == (7, 4, ["procedural=2"])
    assert args.clipnorm == 0.1 and args.backbone_multiplier == 0.1
    assert make_strategy("default").num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="Unknown strategy 'gpu'"):
        make_strategy("gpu")


def test_flags_become_a_frozen_config_with_the_paper_defaults():
    import dataclasses

    from keras_loretrack.losses import paper_defaults as paper
    from keras_loretrack.training import TrainingConfig, training_config

    parser = make_parser("test")
    parser.add_argument("--preset", default="res128")
    add_training_arguments(parser)
    args = parser.parse_args(["--output", "x", "--clipnorm", "0", "--batch-size", "64"])
    config = training_config(args, default_data=["procedural=3"])
    assert config == TrainingConfig(
        output="x", data=("procedural=3",), clipnorm=None, batch_size=64
    )
    assert (config.epochs, config.samples_per_epoch) == (300, 60_000)
    assert config.head_learning_rate == paper.BASE_LEARNING_RATE / 2
    assert config.steps_per_epoch == 60_000 // 64
    assert config.model_overrides() == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 1
