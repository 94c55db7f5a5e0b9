"""Preset directories: writing them, and building models from names or folders.

A preset directory holds `config.json` (the registered class name and its
config), `model.weights.h5` and `metadata.json` (Keras and package versions,
parameter count, date).
"""

import copy
import datetime
import inspect
import json
import os
import re
import shutil

import keras
import numpy as np

from keras_loretrack.atomic_files import current_umask, process_alive
from keras_loretrack.models.loretrack_presets import PRESETS
from keras_loretrack.models.position_regrid import regrid_position_table
from keras_loretrack.version import __version__

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
PACKAGED_PRESETS_DIR = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "presets"
)
# Weights never change across these arguments, so they never block a direct load.
WEIGHTLESS_BACKBONE_ARGS = (
    "name",
    "trainable",
    "drop_path_rate",
    "qkv_blocks",
    "attention_blocks",
    "candidate_elimination_blocks",
    "candidate_keep_ratio",
)


def builtin_presets():
    """Built-in preset names and their descriptions."""
    return {name: spec["description"] for name, spec in PRESETS.items()}


def user_presets_dir():
    """Where converted built-in presets are looked for: $LORETRACK_HOME/presets."""
    home = os.environ.get(
        "LORETRACK_HOME", os.path.join(os.path.expanduser("~"), ".keras_loretrack")
    )
    return os.path.join(home, "presets")


def _builtin_task_config(name):
    spec = PRESETS[name]
    return {
        "name": "lo_re_track",
        "backbone": {
            "class_name": "LoReTrackBackbone",
            "module": None,
            "registered_name": "keras_loretrack>LoReTrackBackbone",
            "config": {
                "name": "lo_re_track_backbone",
                **copy.deepcopy(spec["backbone"]),
            },
        },
        **copy.deepcopy(spec["task"]),
    }


def _builtin_weights_dir(name):
    for root in (PACKAGED_PRESETS_DIR, user_presets_dir()):
        directory = os.path.join(root, name)
        if os.path.isfile(os.path.join(directory, WEIGHTS_FILE)):
            return directory
    return None


def _read_preset_dir(directory):
    config_path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise FileNotFoundError(
            f"{directory} is not a preset directory: {CONFIG_FILE} is missing"
        )
    saved = _read_json(config_path)
    if (
        not isinstance(saved, dict)
        or not isinstance(saved.get("config"), dict)
        or not isinstance(saved["config"].get("backbone"), dict)
        or not isinstance(saved["config"]["backbone"].get("config"), dict)
    ):
        raise ValueError(f"{config_path} does not hold a LoReTrack config")
    check_backbone_config(saved["config"]["backbone"]["config"], config_path)
    return saved["config"]


# Backbone fields that must be positive integers for any model to be built.
POSITIVE_INT_FIELDS = (
    "search_size",
    "template_size",
    "patch_size",
    "hidden_dim",
    "num_layers",
    "num_heads",
    "mlp_dim",
)


def check_backbone_config(config, source):
    """Raises ValueError naming `source` and the field if a backbone config is bad."""
    for field in POSITIVE_INT_FIELDS:
        value = config.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"{source}: backbone field {field!r} must be a positive integer, "
                f"got {value!r}"
            )
    for field in ("search_size", "template_size"):
        if config[field] % config["patch_size"]:
            raise ValueError(
                f"{source}: backbone {field}={config[field]} is not a multiple of "
                f"patch_size={config['patch_size']}"
            )
    if config["hidden_dim"] % config["num_heads"]:
        raise ValueError(
            f"{source}: backbone hidden_dim={config['hidden_dim']} is not a multiple "
            f"of num_heads={config['num_heads']}"
        )


def _apply_overrides(cls, task_config, overrides):
    config = copy.deepcopy(task_config)
    backbone_args = set(inspect.signature(cls.backbone_cls.__init__).parameters)
    task_args = set(inspect.signature(cls.__init__).parameters)
    for key, value in overrides.items():
        if key in backbone_args - {"self", "kwargs"}:
            config["backbone"]["config"][key] = value
        elif key in task_args - {"self", "kwargs", "backbone"}:
            config[key] = value
        else:
            raise ValueError(
                f"Unknown preset override {key!r}; expected an argument of "
                f"{cls.backbone_cls.__name__} or {cls.__name__}"
            )
    return config


def _weight_layout(task_config):
    backbone = {
        k: v
        for k, v in task_config["backbone"]["config"].items()
        if k not in WEIGHTLESS_BACKBONE_ARGS
    }
    return backbone, list(task_config.get("head_channels", []))


def load_preset(cls, preset, load_weights, overrides):
    """Builds `cls` from a preset name or directory, see `LoReTrack.from_preset`."""
    preset = os.fspath(preset)
    weights_dir = None
    if os.path.isdir(preset):
        saved_config = _read_preset_dir(preset)
        weights_dir = preset
    elif preset in PRESETS:
        saved_config = _builtin_task_config(preset)
        weights_dir = _builtin_weights_dir(preset)
    else:
        raise ValueError(
            f"Unknown preset {preset!r}: not a directory and not one of "
            f"{sorted(PRESETS)}"
        )
    config = _apply_overrides(cls, saved_config, overrides)
    model = cls.from_config(config)
    if not load_weights:
        return model
    if weights_dir is None or not os.path.isfile(
        os.path.join(weights_dir, WEIGHTS_FILE)
    ):
        if preset in PRESETS:
            raise ValueError(
                f"Preset {preset!r} has no weights in this installation: built-in "
                "ViT-B presets ship without weights. Convert an official checkpoint "
                f"with `loretrack convert CHECKPOINT --preset {preset} --output DIR` "
                f"and load DIR, or place the converted preset in "
                f"{os.path.join(user_presets_dir(), preset)}; pass load_weights=False "
                "for a randomly initialised model."
            )
        raise FileNotFoundError(
            f"Preset directory {preset} has no {WEIGHTS_FILE}; pass "
            "load_weights=False to build the model without weights"
        )
    _load_saved_weights(
        model,
        os.path.join(weights_dir, WEIGHTS_FILE),
        _weight_layout(config) == _weight_layout(saved_config),
        lambda: cls.from_config(_apply_overrides(cls, saved_config, {})),
    )
    return model


def _load_saved_weights(model, weights_path, same_layout, build_saved_model):
    """Loads a weights file into `model`: directly when the saved model had the
    same weight layout, else through a model built as saved (`build_saved_model`)
    whose weights are transferred, re-gridding the position tables."""
    if same_layout:
        _load_weights_file(model, weights_path)
        return
    source = build_saved_model()
    _load_weights_file(source, weights_path)
    transfer_weights(source, model)


def _read_json(path):
    """A JSON file's content; ValueError naming the file if it is not JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None


def load_backbone_preset(cls, preset, load_weights, overrides):
    """A `LoReTrackBackbone` from a backbone preset folder (KerasHub layout:
    `config.json` of the backbone, `model.weights.h5`), or the backbone of a
    task preset (name or folder)."""
    preset = os.fspath(preset)
    config_path = os.path.join(preset, CONFIG_FILE)
    saved = _read_json(config_path) if os.path.isfile(config_path) else None
    if not isinstance(saved, dict) or saved.get("class_name") != cls.__name__:
        from keras_loretrack.models.loretrack import LoReTrack

        return LoReTrack.from_preset(preset, load_weights, **overrides).backbone
    if not isinstance(saved.get("config"), dict):
        raise ValueError(f"{config_path} does not hold a {cls.__name__} config")
    config = {**saved["config"], **overrides}
    check_backbone_config(config, config_path)
    backbone = cls.from_config(config)
    if load_weights:
        weights_path = os.path.join(preset, WEIGHTS_FILE)
        if not os.path.isfile(weights_path):
            raise FileNotFoundError(
                f"Preset directory {preset} has no {WEIGHTS_FILE}; pass "
                "load_weights=False to build the backbone without weights"
            )
        same_layout = _weight_layout({"backbone": {"config": config}}) == (
            _weight_layout({"backbone": {"config": saved["config"]}})
        )
        _load_saved_weights(
            backbone,
            weights_path,
            same_layout,
            lambda: cls.from_config(saved["config"]),
        )
    return backbone


_KERAS_SHAPE_ERROR = re.compile(
    r"variable\.shape=(?P<model>\([^)]*\)), Received: value\.shape=(?P<saved>\([^)]*\))"
    r"\. Target variable: <Variable path=(?P<path>[^,]+),"
)


_BLOCK_NAME = re.compile(r"/(transformer_block(?:_\d+)?)/")


def _saved_weight_names(path):
    """The weight datasets of a Keras `.weights.h5` file."""
    import h5py

    names = []
    try:
        with h5py.File(path, "r") as f:
            f.visititems(
                lambda name, item: (
                    names.append(name) if isinstance(item, h5py.Dataset) else None
                )
            )
    except OSError as error:
        raise ValueError(
            f"{path} is not a readable Keras weights file (truncated or corrupt?): "
            f"{error}"
        ) from None
    return names


def _check_weights_fit(model, path):
    """Raises ValueError if the file holds more or fewer weights than `model`.

    Keras skips saved weights the model has no place for; a config that says
    fewer blocks than the weights hold would then load silently.
    """
    # A compiled model's file also holds its optimizer's state, which a preset
    # load ignores.
    names = [n for n in _saved_weight_names(path) if not n.startswith("optimizer/")]
    if len(names) == len(model.weights):
        return
    saved_blocks = len(
        {m.group(1) for n in names for m in [_BLOCK_NAME.search(n)] if m}
    )
    blocks = getattr(model, "backbone", model).num_layers
    detail = (
        f"they hold {saved_blocks} transformer blocks, the config says "
        f"num_layers={blocks}; "
        if saved_blocks != blocks
        else ""
    )
    raise ValueError(
        f"Weights file {path} does not fit its config ({CONFIG_FILE} beside it or "
        f"the preset's): {detail}the file holds {len(names)} weights, the model "
        f"built from the config has {len(model.weights)}"
    )


def _load_weights_file(model, path):
    _check_weights_fit(model, path)
    try:
        model.load_weights(path)
    except (ValueError, KeyError) as error:
        match = _KERAS_SHAPE_ERROR.search(str(error))
        if match:
            raise ValueError(
                f"Weights file {path} does not fit the model: weight "
                f"{match['path']!r} has saved shape {match['saved']}, model shape "
                f"{match['model']}"
            ) from None
        raise ValueError(
            f"Weights file {path} does not fit the model: {error}"
        ) from None


def _relative_path(variable, model):
    path = variable.path
    prefix = f"{model.name}/"
    return path[len(prefix) :] if path.startswith(prefix) else path


def transfer_weights(source, target):
    """Copies every weight of `source` into `target`, re-gridding position tables.

    Both must have the same architecture; only the two position tables may differ
    in size (their grids are resampled with PyTorch-compatible bicubic).

    Raises:
        ValueError: naming the first weight whose shape does not fit, with both
            shapes.
    """
    source_weights = {_relative_path(w, source): w for w in source.weights}
    target_weights = {_relative_path(w, target): w for w in target.weights}
    missing = sorted(set(target_weights) - set(source_weights))
    unexpected = sorted(set(source_weights) - set(target_weights))
    if missing or unexpected:
        raise ValueError(
            f"Models differ in their weights: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}"
        )
    for path, variable in target_weights.items():
        value = keras.ops.convert_to_numpy(source_weights[path].value)
        if value.shape != tuple(variable.shape):
            if path.endswith("position_embedding/embeddings"):
                value = regrid_position_table(
                    value,
                    int(round(np.sqrt(value.shape[0]))),
                    int(round(np.sqrt(variable.shape[0]))),
                )
            else:
                raise ValueError(
                    f"Weight {path!r} does not fit: saved shape {value.shape}, "
                    f"model shape {tuple(variable.shape)}"
                )
        variable.assign(value)


PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE)


def check_preset_destination(preset_dir):
    """Raises if writing a preset to `preset_dir` would destroy anything else.

    An absent or empty folder, or a preset folder (only the preset's files), may
    be written; any other content is refused, naming it.
    """
    preset_dir = os.fspath(preset_dir)
    if os.path.exists(preset_dir) and not os.path.isdir(preset_dir):
        raise FileExistsError(f"{preset_dir} exists and is not a folder")
    if os.path.isdir(preset_dir):
        others = sorted(set(os.listdir(preset_dir)) - set(PRESET_FILES))
        if others:
            shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            raise FileExistsError(
                f"{preset_dir} holds files that are not part of a preset ({shown}); "
                "a preset is only written to a new or empty folder or over another "
                "preset: choose another folder"
            )
    parent = os.path.dirname(os.path.abspath(preset_dir))
    existing = parent
    while not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"Cannot write a preset under {existing}: not writable")


def _recover_killed_save(parent, name):
    """Cleans up after a `save_preset` of the same preset that was killed.

    Its unfinished `.partial-` folder goes; its `.old-` folder (the previous
    preset, moved aside) goes back into place if the new one never arrived,
    and goes only if it did.
    """
    target = os.path.join(parent, name)
    for entry in sorted(os.listdir(parent)):
        for kind in ("partial", "old"):
            pid = entry.removeprefix(f".{name}.{kind}-")
            if pid == entry or not pid.isdigit() or process_alive(int(pid)):
                continue
            path = os.path.join(parent, entry)
            if kind == "old" and not os.path.exists(target):
                os.rename(path, target)
            else:
                shutil.rmtree(path, ignore_errors=True)


def _save_model_weights(model, path):
    """Writes the model's own weights, never a compiled model's optimizer state.

    Keras' `save_weights` of a compiled model also writes its optimizer's
    slots (AdamW: twice the weights again); a preset is a model, so for a
    compiled one the writer `save_weights` calls skips the optimizer and
    writes the file an uncompiled model would.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        model.save_weights(path)
        return
    from keras.src.saving import saving_lib

    saving_lib.save_weights_only(model, path, objects_to_skip=[optimizer])


def save_preset(model, preset_dir):
    """Writes a preset directory; never destroys anything but an older preset.

    The preset is written completely into `.<name>.partial-<pid>` beside the
    target, then swapped in: an existing preset is renamed aside, the new one
    renamed into place, and only then the old one deleted, so a failure at any
    point leaves the old preset (or nothing) in place. Folders holding anything
    but a preset's files are refused (see `check_preset_destination`).
    """
    preset_dir = os.path.abspath(os.fspath(preset_dir))
    check_preset_destination(preset_dir)
    parent, name = os.path.split(preset_dir)
    os.makedirs(parent, exist_ok=True)
    _recover_killed_save(parent, name)
    needed = sum(int(np.prod(w.shape)) * 4 for w in model.weights) + (1 << 20)
    free = shutil.disk_usage(parent).free
    if free < needed:
        raise OSError(
            f"Not enough free space under {parent} for the preset: "
            f"{needed / 1e6:.1f} MB needed, {free / 1e6:.1f} MB free"
        )
    staging = os.path.join(parent, f".{name}.partial-{os.getpid()}")
    aside = os.path.join(parent, f".{name}.old-{os.getpid()}")
    os.mkdir(staging)
    try:
        config = {
            "module": type(model).__module__,
            "class_name": type(model).__name__,
            "registered_name": keras.saving.get_registered_name(type(model)),
            "config": model.get_config(),
        }
        with open(os.path.join(staging, CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
        _save_model_weights(model, os.path.join(staging, WEIGHTS_FILE))
        metadata = {
            "keras_version": keras.__version__,
            "keras_loretrack_version": __version__,
            "parameter_count": int(model.count_params()),
            "trainable_parameter_count": int(
                sum(np.prod(w.shape) for w in model.trainable_weights)
            ),
            "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        with open(os.path.join(staging, METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=2)
        os.chmod(staging, 0o777 & ~current_umask())
        had_preset = os.path.isdir(preset_dir)
        if had_preset:
            os.rename(preset_dir, aside)
        try:
            os.rename(staging, preset_dir)
        except BaseException:
            if had_preset:
                os.rename(aside, preset_dir)
            raise
        shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
