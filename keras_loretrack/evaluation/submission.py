"""Submission archives for the GOT-10k and TrackingNet evaluation servers.

Both test splits withhold their ground truth (only the first box is given):
results are scored by uploading a zip. The archives follow the conventions of
the got10k toolkit (`ExperimentGOT10k._record` and `report`) and of
pytracking's `pack_got10k_results.py` / `pack_trackingnet_results.py`:

- GOT-10k (http://got-10k.aitestunion.com/submit_instructions): one folder per
  test sequence at the top level of the zip,
  `GOT-10k_Test_000001/GOT-10k_Test_000001_001.txt` (boxes `x,y,w,h`, comma
  separated, one line per frame, the first being the initial box) and
  `GOT-10k_Test_000001/GOT-10k_Test_000001_time.txt` (seconds per frame, the
  server's speed figure). `_001` is the first run; the toolkit runs a
  deterministic tracker (this one) once, so one run is submitted.
- TrackingNet (the evaluation server linked from tracking-net.org): one
  `<video>.txt` per test video at the top level, `x,y,w,h` comma separated,
  one line per frame.

The input is what `loretrack eval` (`run_evaluation`) writes:
`<results>/<tracker>/got10k_test/<seq>/<seq>_001.txt` with `<seq>_time.txt`,
and `<results>/<tracker>/trackingnet_test/<seq>.txt`. Every sequence of the
split must have a finished result with one finite box per frame, checked
against the dataset itself; otherwise nothing is written.

Example:
```python
summary = pack_submission("got10k", "results", "/data/GOT10k", "submission.zip")
```
"""

import dataclasses
import os
import zipfile

import numpy as np

from keras_loretrack.atomic_files import atomic_output
from keras_loretrack.evaluation.results import read_result, result_paths

# The temporary-file prefix of `atomic_output`: left behind by a killed write.
_TEMPORARY_PREFIX = ".partial-"
# A fixed timestamp, so that packing the same results gives the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class SubmissionError(ValueError):
    """The results cannot be submitted as they are (the message names why)."""


@dataclasses.dataclass(frozen=True)
class Server:
    """What one evaluation server takes.

    Attributes:
        dataset: str. The registered dataset name.
        split: str. The split the server scores.
        layout: str. The results layout `loretrack eval` writes for it.
        times: bool. Whether per-frame times are part of the submission.
        url: str. Where to upload.
    """

    dataset: str
    split: str
    layout: str
    times: bool
    url: str

    @property
    def result_name(self):
        """The results sub-folder of the split (`Dataset.result_name`)."""
        return f"{self.dataset}_{self.split.lower()}"


SERVERS = {
    "got10k": Server(
        "got10k",
        "test",
        "got10k",
        True,
        "http://got-10k.aitestunion.com/submit_instructions",
    ),
    "trackingnet": Server(
        "trackingnet",
        "TEST",
        "pytracking",
        False,
        "the TrackingNet evaluation server (see tracking-net.org)",
    ),
}


def get_server(dataset_name):
    """The `Server` of "got10k" or "trackingnet"."""
    if dataset_name not in SERVERS:
        raise ValueError(
            f"No evaluation server archive for {dataset_name!r}; expected one of "
            f"{sorted(SERVERS)}"
        )
    return SERVERS[dataset_name]


def find_results(results_dir, dataset_name, tracker_name=None):
    """The folder holding a tracker's results on the server's split.

    Args:
        results_dir: str. The `--results` root given to `loretrack eval`, or
            the split's results folder itself (`.../<tracker>/got10k_test`).
        dataset_name: str. "got10k" or "trackingnet".
        tracker_name: str or None. The tracker sub-folder; None: the only
            tracker with results on the split.

    Raises:
        FileNotFoundError: no such results folder.
        ValueError: several trackers qualify and none was named.
    """
    server = get_server(dataset_name)
    results_dir = os.fspath(results_dir)
    if not os.path.isdir(results_dir):
        raise FileNotFoundError(f"Results folder not found: {results_dir}")
    if tracker_name is not None:
        folder = os.path.join(results_dir, tracker_name, server.result_name)
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"No {server.result_name} results of tracker {tracker_name!r}: "
                f"{folder} is not a folder"
            )
        return folder
    if os.path.basename(os.path.normpath(results_dir)) == server.result_name:
        return results_dir
    trackers = sorted(
        name
        for name in os.listdir(results_dir)
        if os.path.isdir(os.path.join(results_dir, name, server.result_name))
    )
    if not trackers:
        raise FileNotFoundError(
            f"No {server.result_name} results under {results_dir} (loretrack eval "
            f"writes <results>/<tracker>/{server.result_name}/)"
        )
    if len(trackers) > 1:
        raise ValueError(
            f"Several trackers have {server.result_name} results under "
            f"{results_dir}: {', '.join(trackers)}; name one (--tracker-name)"
        )
    return os.path.join(results_dir, trackers[0], server.result_name)


def _first_bad_row(values):
    rows = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
    return None if len(rows) == 0 else int(rows[0])


def read_sequence_result(directory, name, num_frames, server):
    """One sequence's checked result.

    Returns:
        (boxes float64 (N, 4), times float64 (N,) or None).

    Raises:
        SubmissionError: the result is missing, unfinished, malformed, has a
            row count other than `num_frames` or a non-finite value.
    """
    paths = result_paths(directory, name, server.layout)
    if not os.path.isfile(paths.boxes):
        folder = os.path.dirname(paths.boxes)
        unfinished = os.path.isdir(folder) and any(
            f.startswith(_TEMPORARY_PREFIX) for f in os.listdir(folder)
        )
        if server.layout == "got10k" and unfinished:
            raise SubmissionError(
                f"{name}: unfinished result (only temporary files in {folder}); "
                "run loretrack eval again to finish it"
            )
        raise SubmissionError(
            f"{name}: no result ({paths.boxes} is missing); run loretrack eval "
            "to finish the split"
        )
    try:
        result = read_result(directory, name, server.layout)
    except (OSError, ValueError) as error:
        raise SubmissionError(f"{name}: {error}") from None
    boxes = result["boxes"]
    if len(boxes) != num_frames:
        raise SubmissionError(
            f"{name}: partial result, {len(boxes)} boxes for {num_frames} frames "
            f"in {paths.boxes} (a --max-frames run?); track the whole sequence"
        )
    row = _first_bad_row(boxes)
    if row is not None:
        raise SubmissionError(
            f"{name}: box of frame {row} is not finite ({boxes[row].tolist()}) in "
            f"{paths.boxes}; the server needs a box on every frame"
        )
    times = result["times"]
    if server.times:
        if times is None:
            raise SubmissionError(f"{name}: no time file ({paths.times} is missing)")
        row = _first_bad_row(times)
        if row is not None:
            raise SubmissionError(
                f"{name}: time of frame {row} is not finite in {paths.times}"
            )
    return boxes, times


def _box_text(boxes):
    return "".join(",".join(f"{v:.4f}" for v in row) + "\n" for row in boxes)


def _time_text(times):
    return "".join(f"{t:.8f}\n" for t in times)


def archive_members(server, results):
    """The archive's (name, text) pairs, folders as (name + "/", None).

    Args:
        server: `Server`.
        results: list of (sequence name, boxes, times).
    """
    members = []
    for name, boxes, times in results:
        if server.layout == "got10k":
            members.append((f"{name}/", None))
            members.append((f"{name}/{name}_001.txt", _box_text(boxes)))
            members.append((f"{name}/{name}_time.txt", _time_text(times)))
        else:
            members.append((f"{name}.txt", _box_text(boxes)))
    return members


def write_archive(output, members):
    """Writes `members` (see `archive_members`) to the zip `output` atomically."""
    with atomic_output(output) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, text in members:
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                if text is None:
                    info.external_attr = (0o40755 << 16) | 0x10
                    archive.writestr(info, b"")
                else:
                    info.external_attr = 0o644 << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, text.encode("ascii"))


def _check_output(output):
    output = os.fspath(output)
    if not output.lower().endswith(".zip"):
        raise ValueError(f"The submission archive must be a .zip file, got {output}")
    if os.path.isdir(output):
        raise ValueError(f"The submission archive {output} is a folder")
    return output


def _check_outside(output, directory):
    target = os.path.realpath(output)
    inside = os.path.realpath(directory)
    if os.path.commonpath([target, inside]) == inside:
        raise ValueError(
            f"The submission archive {output} would be written inside the results "
            f"it packs ({directory}); choose another path"
        )


def pack_submission(dataset_name, results_dir, root, output, tracker_name=None):
    """Checks a tracker's test-split results and writes the server's zip.

    Args:
        dataset_name: str. "got10k" or "trackingnet".
        results_dir: str. See `find_results`.
        root: str. The dataset root (the one given to `loretrack eval`): the
            sequence list and frame counts are read from it.
        output: str. The `.zip` to write (replaced atomically if it exists;
            never inside the results folder).
        tracker_name: str or None. See `find_results`.

    Returns:
        dict with "output", "directory" (the results packed), "sequences",
        "frames" and "url" (where to upload).

    Raises:
        SubmissionError: a sequence's result is missing, partial, malformed or
            not finite (the message names the first such sequence).
        FileNotFoundError, ValueError: bad paths or names.
    """
    from keras_loretrack.sequences import get_dataset

    server = get_server(dataset_name)
    output = _check_output(output)
    directory = find_results(results_dir, dataset_name, tracker_name)
    _check_outside(output, directory)
    dataset = get_dataset(server.dataset, root, server.split)
    results = []
    for name in dataset.sequence_names:
        try:
            num_frames = len(dataset[name])
        except (OSError, ValueError) as error:
            raise SubmissionError(f"{name}: cannot read the dataset: {error}") from None
        boxes, times = read_sequence_result(directory, name, num_frames, server)
        results.append((name, boxes, times))
    write_archive(output, archive_members(server, results))
    return {
        "output": output,
        "directory": directory,
        "sequences": len(results),
        "frames": sum(len(boxes) for _, boxes, _ in results),
        "url": server.url,
    }
