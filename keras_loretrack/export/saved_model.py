"""The Keras SavedModel export both the TFLite and the ONNX paths start from.

`keras.export.ExportArchive` writes the model's batch-1 forward as a
SavedModel whose one signature takes `template` and `search` (float32 NHWC,
ImageNet-normalised) and returns the three head maps. Converting this
artifact is the route that works for Keras 3 models here: TFLite's
`from_concrete_functions` and `from_keras_model` yield broken models from
them (NaN outputs or a TypeError), and Keras' own LiteRT export asks for Flex
ops.
"""

from keras_loretrack.data.crops import CropGeometry
from keras_loretrack.tracking.file_metadata import INPUT_NAMES, OUTPUT_NAMES

SIGNATURE_KEY = "serving_default"


def input_shapes(model):
    """The batch-1 input shapes of a `LoReTrack`: {"template": ..., "search": ...}."""
    geometry = CropGeometry.of(model)
    return {
        "template": (1, geometry.template_size, geometry.template_size, 3),
        "search": (1, geometry.search_size, geometry.search_size, 3),
    }


def export_saved_model(model, directory):
    """Writes `model`'s forward as a SavedModel with a fixed input signature.

    Args:
        model: `LoReTrack`.
        directory: str. Where to write the SavedModel.

    Returns:
        str, the signature key (`serving_default`).
    """
    import keras
    import tensorflow as tf

    shapes = input_shapes(model)
    signature = [
        tf.TensorSpec(shapes[name], tf.float32, name=name) for name in INPUT_NAMES
    ]

    def serve(template, search):
        outputs = model({"template": template, "search": search}, training=False)
        return {name: outputs[name] for name in OUTPUT_NAMES}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SIGNATURE_KEY, serve, input_signature=signature)
    archive.write_out(directory, verbose=False)
    return SIGNATURE_KEY
