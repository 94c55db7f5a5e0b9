"""A SavedModel signature frozen to constants and grappler-optimised, lean on memory.

tf2onnx's `tf_loader.from_saved_model` keeps the loaded SavedModel, the
frozen function (built by importing the frozen graph into a new function,
then pruning it: more copies of every weight), its `GraphDef` and a copy
imported into a session alive while grappler optimises yet another copy; at
ViT-B size that stack peaked at 8.6 GB. Here the frozen `GraphDef` is taken
before any function is built from it, each step drops what the next does not
need (and hands the freed heap back to the system) before grappler runs with
tf2onnx's settings (`benchmarks/results/export_memory.md`).
"""

import ctypes
import gc

from keras_loretrack.export.saved_model import SIGNATURE_KEY


def release_memory():
    """Collects garbage and returns free heap pages to the system (glibc)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the pages stay with the process
        pass


def _signature_graph(saved_model_dir):
    """The serving signature frozen to a `GraphDef`, with tf2onnx's names."""
    import tensorflow as tf
    from tensorflow.python.framework import convert_to_constants

    imported = tf.saved_model.load(saved_model_dir, tags=["serve"])
    function = imported.signatures[SIGNATURE_KEY]
    captures = function.graph.function_captures.by_val_internal.values()
    captured = {t.name for t in captures}
    inputs = [
        t.name
        for t in function.inputs
        if t.dtype != tf.dtypes.resource and t.name not in captured
    ]
    specs = tf.nest.flatten(function.structured_input_signature)
    renames = dict(zip(inputs, [s.name for s in specs if isinstance(s, tf.TensorSpec)]))
    outputs = [t.name for t in function.outputs if t.dtype != tf.dtypes.resource]
    renames.update(zip(outputs, sorted(function.structured_outputs)))
    # `convert_variables_to_constants_v2` without its last step, which imports
    # the frozen graph into a new function (two more copies of every weight);
    # tf2onnx's large-model path calls the same two private functions.
    converter = convert_to_constants._FunctionConverterDataInEager(
        func=function, lower_control_flow=False, aggressive_inlining=True
    )
    graph_def, _ = convert_to_constants._replace_variables_by_constants(
        converter_data=converter
    )
    return graph_def, inputs, outputs, renames


def _grappler(graph_def_box, inputs, outputs):
    """tf2onnx's grappler pass (constant folding, function inlining, dependency
    pruning) on the `GraphDef` in `graph_def_box`, which it empties."""
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
    from tensorflow.python.grappler import tf_optimizer

    config = config_pb2.ConfigProto()
    config.graph_options.infer_shapes = True
    rewrite = config.graph_options.rewrite_options
    rewrite.optimizers[:] = ["constfold", "function", "dependency"]
    rewrite.experimental_disable_folding_quantization_emulation = True
    with tf.Graph().as_default():
        meta_graph = tf.compat.v1.train.export_meta_graph(graph_def=graph_def_box.pop())
    release_memory()
    fetch = meta_graph_pb2.CollectionDef()
    fetch.node_list.value.extend(inputs + outputs)
    meta_graph.collection_def["train_op"].CopyFrom(fetch)
    return tf_optimizer.OptimizeGraph(config, meta_graph)


def frozen_signature(saved_model_dir):
    """The serving signature of a SavedModel as an optimised, frozen `GraphDef`.

    Returns:
        (graph_def, input names, output names, tensors to rename): what
        tf2onnx's `from_saved_model(..., return_tensors_to_rename=True)`
        returns for the signature `SIGNATURE_KEY`.
    """
    import tensorflow as tf

    with tf.device("/cpu:0"):
        graph_def, inputs, outputs, renames = _signature_graph(saved_model_dir)
        box = [graph_def]
        del graph_def  # only the box holds it now: `_grappler` lets it go
        release_memory()  # the loaded SavedModel and the frozen function
        optimized = _grappler(box, inputs, outputs)
    release_memory()
    return optimized, inputs, outputs, renames
