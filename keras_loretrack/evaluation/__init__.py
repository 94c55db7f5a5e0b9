"""Metrics, result files, the one-pass runner and analysis.

What a video is (`Sequence`, box files, the benchmark readers) lives in
`keras_loretrack.sequences`; its names are re-exported here.
"""

from keras_loretrack.evaluation.analysis import (
    compute_report,
    find_trackers,
    format_table,
    plot_curves,
    write_report,
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
from keras_loretrack.evaluation.scoring import evaluate_tracker
from keras_loretrack.sequences import (
    Dataset,
    Sequence,
    get_dataset,
    limit_frames,
    list_datasets,
    read_boxes,
    read_rgb,
    register_dataset,
    write_boxes,
)
