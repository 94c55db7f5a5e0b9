"""
Title: LoReTrack in miniature: teacher, plain student, distilled student
Author: keras_loretrack
Description: The paper's main comparison on procedural videos and still photos, on CPU.

LoReTrack's claim (Dong et al. 2024) is that a low-resolution student trained
with QKV-KD and Disc-KD from a frozen high-resolution twin tracks better than
the same student trained on the tracking losses alone. This recipe checks that
claim in miniature, end to end on a CPU:

1. one fixed set of training pairs is cropped once at the teacher's resolution
   (`mini_teacher`, search 128 / template 64), half from procedural videos and
   half from still photographs (static-image pairs, as OSTrack uses COCO), and
   shared by every run, so all students see identical content;
2. the teacher trains on them with the tracking losses, or an already
   trained teacher is taken as it is (`--trained-teacher`);
3. the plain student (`mini_student`, 64 / 32, same architecture) trains on the
   same crops resized bilinearly to its size, exactly as the distiller resizes
   them;
4. the distilled student (QKV-KD + Disc-KD, the paper's weights), the two
   ablations (each term alone) and Disc-KD alone at two thresholds that split
   the teacher's tokens (see "Disc-KD's mask" below) train from the frozen
   teacher on the same data;
5. every model runs one-pass evaluation on held-out procedural test videos
   (`split="test"`) and, with `--sequences`, on a folder of real OTB-layout
   sequences; the table is written to
   `benchmarks/results/miniature_replication.md`.

Students run with several seeds (initialisation and batch order) and the table
shows mean ± std. Nothing is tuned on the test set. An untrained student is
evaluated too, as the chance level. The shipped `mini_student` comes from this
recipe's first budget (commit 36b6841: procedural pairs only, a 1200-step
teacher). The shipped `mini_teacher`, trained far longer on fresh pairs by
`train_teacher.py` (see its docstring), can stand in for step 2
(`--trained-teacher mini_teacher`): a teacher whose validation curve has
flattened, which a replication-sized teacher run does not reach.

Differences from the paper, forced by the budget: no MAE start (no pretrained
weights here), so the backbone trains at the head's learning rate; about a
thousand steps instead of 300 epochs; a clip norm of 1.0 (0.1 suits fine-tuning
from MAE, not training from scratch). The score head starts at the focal-loss
prior (score 0.01, `CenterHead`), without which the first few hundred steps go
to lowering a 0.5 score on every background cell.

Full run (students two at a time, one thread each; the committed table):

    python recipes/miniature_replication.py --stages data,teacher \
        --trained-teacher mini_teacher
    for i in 1 2; do
        python recipes/miniature_replication.py --stages students --threads 1 &
    done; wait
    python recipes/miniature_replication.py --stages evaluate,report \
        --sequences /data/otb_sequences

Smoke run (seconds):

    python recipes/miniature_replication.py --budget small --output /tmp/mini

Every step writes its result atomically and is skipped when it exists, so
rerunning the command after a kill continues where it stopped; processes
sharing `--output` split the student runs between them. The parts live in
`keras_loretrack.training.miniature`.
"""

"""
## Setup
"""

import os  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import shlex  # noqa: E402
import sys  # noqa: E402

from tqdm import tqdm  # noqa: E402

from keras_loretrack import LoReTrack  # noqa: E402
from keras_loretrack.data.crops import CropGeometry  # noqa: E402
from keras_loretrack.training.miniature.budgets import (  # noqa: E402
    BUDGETS,
    student_plan,
)
from keras_loretrack.training.miniature.disc_mask import (  # noqa: E402
    describe_mask,
)
from keras_loretrack.training.miniature.evaluation import (  # noqa: E402
    evaluate_run,
    test_sets,
)
from keras_loretrack.training.miniature.pairs import (  # noqa: E402
    load_pairs,
    prepare_pairs,
)
from keras_loretrack.training.miniature.report import (  # noqa: E402
    record_command,
    write_report,
)
from keras_loretrack.training.miniature.runs import (  # noqa: E402
    adopt_teacher,
    read_history,
    run_done,
    save_untrained,
    train_student,
    train_teacher,
)
from keras_loretrack.training.recipe_flags import make_parser  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = "data,teacher,students,evaluate,report"

parser = make_parser("Miniature LoReTrack replication on procedural videos.")
parser.add_argument(
    "--budget",
    choices=sorted(BUDGETS),
    default="full",
    help="training pairs, steps and seeds (`full`: the committed table; the "
    "others are quick checks)",
)
parser.add_argument(
    "--output",
    default=os.path.join(REPO, "runs", "miniature"),
    help="folder for the data, runs and presets (resumable)",
)
parser.add_argument(
    "--report",
    default=None,
    help="Markdown table (default benchmarks/results/miniature_replication.md "
    "for --budget full, <output>/miniature_replication.md otherwise)",
)
parser.add_argument(
    "--teacher-preset", default="mini_teacher", help="architecture of the teacher"
)
parser.add_argument(
    "--student-preset", default="mini_student", help="architecture of the students"
)
parser.add_argument(
    "--trained-teacher",
    default=None,
    help="a trained teacher (preset name or folder, e.g. the shipped "
    "mini_teacher) used instead of training one in the `teacher` stage",
)
parser.add_argument(
    "--learning-rate", type=float, default=1e-3, help="AdamW learning rate"
)
parser.add_argument(
    "--sequences",
    default=os.environ.get("LORETRACK_SEQUENCES"),
    help="folder of OTB-layout real sequences, also evaluated when given "
    "($LORETRACK_SEQUENCES sets a default)",
)
parser.add_argument(
    "--stages", default=STAGES, help="comma-separated subset of the default"
)
parser.add_argument(
    "--threads",
    type=int,
    default=None,
    help="TensorFlow threads of this process (default: all cores); 1 when "
    "several processes share the cores",
)
args = parser.parse_args()
if args.threads is not None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

budget = BUDGETS[args.budget]
stages = set(args.stages.split(","))
command = "python recipes/miniature_replication.py " + shlex.join(sys.argv[1:])
commands = record_command(args.output, command)
data_dir = os.path.join(args.output, "data")
run_root = os.path.join(args.output, "runs")
teacher_dir = os.path.join(run_root, "teacher")
teacher_preset = os.path.join(teacher_dir, "preset")

"""
## Data: one fixed set of pairs at the teacher's resolution

The standard pipeline crops the pairs once at the teacher's `CropGeometry`;
every run then reads them from memory, resized to its own size.
"""

if "data" in stages:
    geometry = CropGeometry.of(
        LoReTrack.from_preset(args.teacher_preset, load_weights=False)
    )
    prepare_pairs(budget, geometry, data_dir)
pairs = None
if stages & {"teacher", "students", "report"}:
    pairs = load_pairs(data_dir)

"""
## Teacher, then students

Each run lives in `<output>/runs/<name>/` and is skipped once finished. The
teacher is trained on the shared pairs, or, with `--trained-teacher`, an
already trained one is taken as it is. The main comparison (plain and
distilled, seed by seed) comes first, then the ablations. The crops are fixed,
so the frozen teacher's targets are computed once for all distilled runs.
"""

if "teacher" in stages and args.trained_teacher:
    adopt_teacher(args.trained_teacher, budget=budget, pairs=pairs, run_dir=teacher_dir)
elif "teacher" in stages:
    train_teacher(
        args.teacher_preset,
        budget=budget,
        pairs=pairs,
        learning_rate=args.learning_rate,
        run_dir=teacher_dir,
    )
plan = student_plan(budget)
if "students" in stages:
    for name, variant, seed in tqdm(plan, desc="students"):
        train_student(
            args.student_preset,
            variant,
            seed,
            teacher_preset=teacher_preset,
            budget=budget,
            pairs=pairs,
            learning_rate=args.learning_rate,
            run_dir=os.path.join(run_root, name),
        )
runs = {
    name: (variant, read_history(os.path.join(run_root, name)))
    for name, variant in [("teacher", "teacher")] + [p[:2] for p in plan]
    if run_done(os.path.join(run_root, name))
}

"""
## Evaluation

Every finished run, and an untrained student for scale, tracks the procedural
test videos (and the real sequences of `--sequences`) once.
"""

evaluations, sets = {}, {}
if "evaluate" in stages:
    random_dir = os.path.join(run_root, "random")
    save_untrained(args.student_preset, random_dir)
    runs["random"] = ("random", read_history(random_dir))
    sets = test_sets(budget, args.sequences)
    for name in tqdm(runs, desc="evaluate"):
        evaluations[name] = evaluate_run(os.path.join(run_root, name), sets)

"""
## Disc-KD's mask

LoReTrack's rule marks a teacher token discriminative when its mean squared
final-norm feature reaches 0.20. The report compares that with the energies
the trained teacher's tokens actually have on training crops.

## Report
"""

if "report" in stages and evaluations:
    report = args.report or (
        os.path.join(REPO, "benchmarks", "results", "miniature_replication.md")
        if args.budget == "full"
        else os.path.join(args.output, "miniature_replication.md")
    )
    print(
        write_report(
            report,
            commands=commands,
            budget_name=args.budget,
            budget=budget,
            learning_rate=args.learning_rate,
            runs=runs,
            evaluations=evaluations,
            sets=sets,
            mask=describe_mask(LoReTrack.from_preset(teacher_preset), pairs["train"]),
        )
    )
