"""Activations written for export."""

import math

from keras import ops


def gelu_erf(x):
    """Exact GELU in its erf form, 0.5·x·(1 + erf(x/√2)).

    Keras' exact `gelu` lowers to an `Erfc` op that tf2onnx cannot convert; this
    form converts, and still fuses into a single TFLite GELU.
    """
    return 0.5 * x * (1.0 + ops.erf(x * (1.0 / math.sqrt(2.0))))
