"""Atomic writes: a temporary file next to the target, renamed onto it.

A reader never sees a half-written file, and a job killed mid-write leaves the
previous file (or none), so resuming it is safe. The temporary file is named
`.partial-<pid>-<random>-<name>`: hidden, but saying what it is, for which file
and which process writes it; one left by a killed process is removed by the
next process that writes into that folder.
"""

import contextlib
import json
import os
import re
import tempfile

PARTIAL_PREFIX = ".partial-"
# Longest target name kept whole in a temporary name (file names stop at 255).
_MAX_NAME = 200


def current_umask():
    """The process's file-creation mask (reading it means setting it back)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def process_alive(pid):
    """Whether a process with this id exists (a partial file's writer, say)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
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


# Folders whose temporaries of killed processes this process has removed.
_SWEPT = set()
_PARTIAL = re.compile(re.escape(PARTIAL_PREFIX) + r"(\d+)-")


def remove_stale_partials(folder):
    """Removes the temporary files in `folder` whose writing process is gone.

    Only `.partial-<pid>-...` files are considered, and only those whose
    process no longer runs on this machine; one that cannot be deleted stays.
    `partial_path` calls this once per folder and process, so writing many
    files into one folder stays linear.

    Returns:
        The paths removed.
    """
    removed = []
    for entry in os.listdir(folder) if os.path.isdir(folder) else ():
        match = _PARTIAL.match(entry)
        if match and not process_alive(int(match.group(1))):
            stale = os.path.join(folder, entry)
            with contextlib.suppress(OSError):  # gone already, or not ours to delete
                os.remove(stale)
                removed.append(stale)
    return removed


def partial_path(path):
    """Creates and returns an empty temporary file next to `path`.

    Its name is `.partial-<pid>-<random>-<name>`, ending with `path`'s name (cut
    to its last 200 characters), so it keeps the extension writers such as
    `np.savez` or `cv2.VideoWriter` choose the format by. The folder is created
    if needed; the first call for a folder removes the temporaries that killed
    processes left there (see `remove_stale_partials`).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if folder not in _SWEPT:
        remove_stale_partials(folder)
        _SWEPT.add(folder)
    handle, tmp = tempfile.mkstemp(
        prefix=f"{PARTIAL_PREFIX}{os.getpid()}-",
        suffix="-" + os.path.basename(path)[-_MAX_NAME:],
        dir=folder,
    )
    os.close(handle)
    return tmp


@contextlib.contextmanager
def atomic_output(path):
    """Yields a temporary path in `path`'s folder; renames it onto `path` on success.

    The temporary file comes from `partial_path` (it keeps `path`'s extension)
    and is removed if the block raises. The result gets the usual permissions
    (0666 minus the umask), not `mkstemp`'s 0600.

    Example:
    ```python
    with atomic_output("model.onnx") as tmp:
        onnx.save(proto, tmp)
    ```
    """
    path = os.fspath(path)
    tmp = partial_path(path)
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
