"""LoReTrack in miniature: the parts of `recipes/miniature_replication.py`.

- `budgets`: how much each replication spends, and the student variants.
- `pairs`: one fixed set of teacher-resolution pairs shared by every run.
- `runs`: teacher, students, the shipped student, each in its run folder.
- `evaluation`: one-pass scores of every run on held-out sequences.
- `report`: the Markdown table, its verdict and the curves.
"""
