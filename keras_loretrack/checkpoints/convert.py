"""Convert an official checkpoint into a preset directory, validating it first.

The converted Keras model and a reference run on the same inputs and the largest
absolute difference per output is printed before the preset is written. The
reference is `numpy_forward`: the official network computed in float64 straight
from the checkpoint's tensors in their PyTorch layouts, so it needs neither Keras nor
PyTorch and shares no code with the model (the test suite checks it against an
independent PyTorch implementation). Inputs are random frames normalised like the
tracker's crops.
"""

from dataclasses import dataclass, field

import numpy as np

from keras_loretrack.checkpoints.numpy_forward import backbone_forward, tracker_forward
from keras_loretrack.checkpoints.official_mapping import (
    MAE_LAYOUT,
    LoadReport,
    find_state_dict,
    load_official_weights,
    tracker_state_dict,
)
from keras_loretrack.checkpoints.torch_reader import load_torch_checkpoint
from keras_loretrack.data.crops import normalize
from keras_loretrack.models import LoReTrack

HEAD_OUTPUTS = ("score_map", "size_map", "offset_map", "boxes")


@dataclass
class ConversionResult:
    """What `convert_checkpoint` did.

    Attributes:
        report: `LoadReport`. Loaded, missing, unexpected and re-gridded keys.
        differences: dict. Output name → largest |Keras - reference| (empty
            without validation).
        output_dir: str. The preset directory written.
    """

    report: LoadReport
    differences: dict = field(default_factory=dict)
    output_dir: str = ""


def validation_inputs(model, batch_size=1, seed=0):
    """Random frames normalised like tracker crops, sized for `model`."""
    rng = np.random.default_rng(seed)
    return {
        name: normalize(rng.integers(0, 256, (batch_size, size, size, 3), np.uint8))
        for name, size in (
            ("template", model.template_size),
            ("search", model.search_size),
        )
    }


def validate_conversion(model, checkpoint, atol=1e-4, batch_size=1, seed=0):
    """Differences between `model` and the reference, with what each may reach.

    Args:
        model: `LoReTrack` with the checkpoint's weights loaded.
        checkpoint: dict. The loaded checkpoint (or its state dict).
        atol: float. Accepted difference on the head outputs; on the search
            features it is scaled by their largest magnitude (at least 1).
        batch_size: int. Validation batch.
        seed: int. Seed of the random input frames.

    Returns:
        dict output name → (largest |Keras - reference|, accepted). Always
        `search_features`; with a head in the checkpoint (tracker layout) also
        `score_map`, `size_map`, `offset_map`, `boxes` and `argmax_mismatches`
        (samples whose score argmax cell differs, accepted 0).
    """
    state_dict, layout = find_state_dict(checkpoint)
    backbone = model.backbone
    state, _ = tracker_state_dict(
        state_dict, layout, backbone.template_grid, backbone.feature_size
    )
    inputs = validation_inputs(model, batch_size, seed)
    options = {
        "num_heads": backbone.num_heads,
        "layer_norm_epsilon": backbone.layer_norm_epsilon,
        "candidate_elimination_blocks": backbone.candidate_elimination_blocks,
        "candidate_keep_ratio": backbone.candidate_keep_ratio,
    }
    template, search = inputs["template"], inputs["search"]
    if layout == MAE_LAYOUT:
        reference = {
            "search_features": backbone_forward(state, template, search, **options)
        }
        outputs = backbone.feature_model()(inputs, training=False)
    else:
        reference = tracker_forward(state, template, search, **options)
        outputs = model.distillation_model(blocks=())(inputs, training=False)
    outputs = {name: np.asarray(outputs[name]) for name in reference}
    feature_scale = max(1.0, float(np.max(np.abs(reference["search_features"]))))
    checks = {}
    for name, expected in reference.items():
        allowed = atol * feature_scale if name == "search_features" else atol
        checks[name] = (float(np.max(np.abs(outputs[name] - expected))), allowed)
    if "score_map" in reference:
        cells = [
            out["score_map"].reshape(batch_size, -1).argmax(axis=1)
            for out in (outputs, reference)
        ]
        checks["argmax_mismatches"] = (float(np.sum(cells[0] != cells[1])), 0.0)
    return checks


def convert_checkpoint(
    checkpoint_path,
    preset,
    output_dir,
    validate=True,
    atol=1e-4,
    strict=True,
    seed=0,
    print_fn=print,
):
    """Converts an official `.pth` / `.pth.tar` checkpoint into a preset directory.

    Args:
        checkpoint_path: str. OSTrack / LoReTrack tracker checkpoint (`net`) or MAE
            ViT-B weights (`model`).
        preset: str. Built-in preset (or preset directory) giving the architecture:
            `res256`, `res128`, ... for LoReTrack, `ostrack256` / `ostrack384` for
            OSTrack CE checkpoints. Position tables are re-gridded to it.
        output_dir: str. Preset directory to write (replaced atomically).
        validate: bool. Compare against the NumPy reference before saving.
        atol: float. Largest accepted difference: on the head outputs as is, on
            the search features relative to their largest magnitude.
        strict: bool. Refuse checkpoints that lack a key the model needs.
        seed: int. Seed of the validation inputs.
        print_fn: callable. Where progress lines go.

    Returns:
        `ConversionResult`.

    Raises:
        CheckpointError: unreadable checkpoint, missing key or wrong shape.
        ValueError: validation found a difference above `atol`; nothing is saved.

    Example:
    ```python
    convert_checkpoint("LoReTrack_256.pth.tar", "res256", "presets/loretrack_256")
    model = LoReTrack.from_preset("presets/loretrack_256")
    ```
    """
    print_fn(f"reading {checkpoint_path}")
    checkpoint = load_torch_checkpoint(checkpoint_path)
    model = LoReTrack.from_preset(preset, load_weights=False)
    report = load_official_weights(model, checkpoint, strict=strict)
    print_fn(report.summary())
    result = ConversionResult(report=report, output_dir=str(output_dir))
    if validate:
        print_fn("validating against the NumPy float64 reference on random crops")
        checks = validate_conversion(model, checkpoint, atol=atol, seed=seed)
        for name, (difference, allowed) in checks.items():
            print_fn(
                f"  max |keras - reference| {name}: {difference:.3g} "
                f"(accepted {allowed:.3g})"
            )
        result.differences = {name: value for name, (value, _) in checks.items()}
        failed = [
            name for name, (value, allowed) in checks.items() if not value <= allowed
        ]
        if failed:
            raise ValueError(
                f"validation failed for {failed}: differences {result.differences} "
                f"exceed what is accepted (atol {atol}); no preset written"
            )
    model.save_to_preset(output_dir)
    print_fn(f"wrote preset {output_dir}")
    return result
