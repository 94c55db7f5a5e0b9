"""Atomic writes of exported files: a temporary file next to the target, renamed."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_output(path):
    """Yields a temporary path in `path`'s folder; renames it onto `path` on success.

    The temporary file is removed if the block raises. The result gets the
    usual permissions (0666 minus the umask), not `mkstemp`'s 0600.

    Example:
    ```python
    with atomic_output("model.onnx") as tmp:
        onnx.save(proto, tmp)
    ```
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    handle, tmp = tempfile.mkstemp(prefix=".export-", suffix=suffix, dir=directory)
    os.close(handle)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
