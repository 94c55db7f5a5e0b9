"""Sequences, benchmark datasets, metrics and one-pass evaluation."""

from keras_loretrack.evaluation.analysis import (
    compute_report,
    find_trackers,
    format_table,
    plot_curves,
    write_report,
)
from keras_loretrack.evaluation.annotations import read_boxes, write_boxes
from keras_loretrack.evaluation.datasets import (
    Dataset,
    get_dataset,
    limit_frames,
    list_datasets,
    register_dataset,
)
from keras_loretrack.evaluation.metrics import (
    MetricRules,
    SequenceErrors,
    got10k_frame_ious,
    got10k_summary,
    sequence_curves,
    sequence_errors,
    summarize,
)
from keras_loretrack.evaluation.results import (
    layout_for,
    read_result,
    result_paths,
    tracker_dir,
    write_result,
)
from keras_loretrack.evaluation.runner import (
    parse_shard,
    run_evaluation,
    shard_sequences,
    track_sequence,
)
from keras_loretrack.evaluation.sequence import Sequence, read_rgb
