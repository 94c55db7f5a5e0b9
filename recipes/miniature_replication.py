"""
Title: LoReTrack in miniature: teacher, plain student, distilled student
Author: keras_loretrack
Description: The paper's main comparison on procedural videos, on 2 CPU cores.

LoReTrack's claim (Dong et al. 2024) is that a low-resolution student trained
with QKV-KD and Disc-KD from a frozen high-resolution twin tracks better than
the same student trained on the tracking losses alone. This recipe checks that
claim in miniature, end to end on a CPU:

1. one fixed set of training pairs is cropped once from procedural videos at the
   teacher's resolution (`mini_teacher`, search 128 / template 64) and shared by
   every run, so all students see identical content;
2. the teacher trains on them with the tracking losses;
3. the plain student (`mini_student`, 64 / 32, same architecture) trains on the
   same crops resized bilinearly to its size, exactly as the distiller resizes
   them;
4. the distilled student (QKV-KD + Disc-KD, the paper's weights) and the two
   ablations (each term alone) train from the frozen teacher on the same data;
5. every model runs one-pass evaluation on held-out procedural test videos
   (`split="test"`) and, with `--sequences`, on a folder of real OTB-layout
   sequences; the table is written to
   `benchmarks/results/miniature_replication.md`.

Students run with several seeds (initialisation and batch order) and the table
shows mean ± std. Nothing is tuned on the test set. The shipped `mini_student`
starts from the distilled seed with the best validation IoU (procedural
`split="val"`) and distils `ship_steps` more steps from the same teacher; the
teacher ships as trained. An untrained student is evaluated too, as the chance
level.

Differences from the paper, forced by the budget: no MAE start (no pretrained
weights here), so the backbone trains at the head's learning rate; about a
thousand steps instead of 300 epochs; a clip norm of 1.0 (0.1 suits fine-tuning
from MAE, not training from scratch). The score head starts at the focal-loss
prior (score 0.01, `CenterHead`), without which the first few hundred steps go
to lowering a 0.5 score on every background cell.

Full run (61 minutes measured on 2 quiet CPU cores), shipping the weights:

    python recipes/miniature_replication.py --budget full --ship \
        --sequences /data/otb_sequences

Smoke run (seconds):

    python recipes/miniature_replication.py --budget small --output /tmp/mini

Every step writes its result atomically and is skipped when it exists, so
rerunning the command after a kill continues where it stopped. The parts live
in `keras_loretrack.training.miniature`.
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
from keras_loretrack.training.miniature.evaluation import (  # noqa: E402
    evaluate_run,
    test_sets,
)
from keras_loretrack.training.miniature.pairs import (  # noqa: E402
    load_pairs,
    prepare_pairs,
)
from keras_loretrack.training.miniature.report import write_report  # noqa: E402
from keras_loretrack.training.miniature.runs import (  # noqa: E402
    best_distilled,
    finetune_student,
    read_history,
    run_done,
    save_untrained,
    ship,
    train_student,
    train_teacher,
)
from keras_loretrack.training.recipe_flags import make_parser  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = "data,teacher,students,finetune,evaluate,report"

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
    "--ship",
    action="store_true",
    help="copy the teacher and the chosen distilled student into "
    "keras_loretrack/presets/ (mini_teacher, mini_student)",
)
args = parser.parse_args()

budget = BUDGETS[args.budget]
stages = set(args.stages.split(","))
command = "python recipes/miniature_replication.py " + shlex.join(sys.argv[1:])
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
if stages & {"teacher", "students", "finetune"}:
    pairs = load_pairs(data_dir)

"""
## Teacher, then students

Each run lives in `<output>/runs/<name>/` and is skipped once finished. The
main comparison (plain and distilled, seed by seed) comes first, then the
ablations.
"""

if "teacher" in stages:
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
## The shipped student

The distilled seed with the best validation IoU distils `ship_steps` more
steps from the same teacher.
"""

if "finetune" in stages:
    finetune_student(
        os.path.join(run_root, best_distilled(runs), "preset"),
        teacher_preset=teacher_preset,
        budget=budget,
        pairs=pairs,
        learning_rate=args.learning_rate,
        run_dir=os.path.join(run_root, "shipped"),
    )
if run_done(os.path.join(run_root, "shipped")):
    runs["shipped"] = ("shipped", read_history(os.path.join(run_root, "shipped")))

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
            command=command,
            budget_name=args.budget,
            budget=budget,
            learning_rate=args.learning_rate,
            runs=runs,
            evaluations=evaluations,
            sets=sets,
        )
    )

"""
## Shipping the presets

The teacher and the chosen student are copied into the package, where
`from_preset("mini_teacher")` and `from_preset("mini_student")` find them.
"""

if args.ship:
    ship(runs, run_root)
