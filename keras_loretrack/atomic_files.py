"""Atomic writes: a temporary file next to the target, renamed onto it.

A reader never sees a half-written file, and a job killed mid-write leaves the
previous file (or none), so resuming it is safe.
"""

import contextlib
import json
import os
import tempfile


def current_umask():
    """The process's file-creation mask (reading it means setting it back)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def process_alive(pid):
    """Whether a process with this id exists (a partial file's writer, say)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_writable(path, label="output"):
    """Raises OSError unless a file can be created next to `path`, before any work.

    Creates the folder if needed and a probe file in it, so read-only disks,
    pseudo file systems (`/proc`) and paths under a regular file all fail here,
    naming `path`.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"The {label} {path} is a folder, expected a file")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-probe-", dir=folder)
        os.close(handle)
        os.remove(probe)
    except OSError as error:
        raise OSError(
            f"Cannot write the {label} {path}: {error.strerror or error}"
        ) from None


@contextlib.contextmanager
def atomic_output(path):
    """Yields a temporary path in `path`'s folder; renames it onto `path` on success.

    The folder is created if needed. The temporary file keeps `path`'s
    extension (writers such as `np.savez` or `savefig` choose the format by
    it) and is removed if the block raises. The result gets the usual
    permissions (0666 minus the umask), not `mkstemp`'s 0600.

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
    handle, tmp = tempfile.mkstemp(prefix=".partial-", suffix=suffix, dir=directory)
    os.close(handle)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    """Writes `text` (UTF-8) to `path` atomically."""
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)


def write_json(path, payload, **dump_options):
    """Writes `payload` as JSON (indent 2 unless given) to `path` atomically."""
    dump_options.setdefault("indent", 2)
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, **dump_options)
