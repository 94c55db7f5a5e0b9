"""Optional dependencies, imported with an error that names the extra to install."""

import importlib


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message says which extra has it."""


def require(module, extra, purpose):
    """Imports `module`, or raises `MissingExtraError` naming the pip extra.

    Args:
        module: str. Dotted module name, e.g. "tf2onnx" or "onnxruntime.quantization".
        extra: str. The keras-loretrack extra that installs it, e.g. "export".
        purpose: str. What needs it, e.g. "ONNX export"; starts the message.

    Returns:
        The imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = module.split(".")[0]
        raise MissingExtraError(
            f"{purpose} needs {package}, which is not installed "
            f'({error}): pip install "keras-loretrack[{extra}]"'
        ) from None
