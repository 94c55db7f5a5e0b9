"""LoReTrack in miniature: the parts of `recipes/miniature_replication.py`.

- `budgets`: how much each replication spends, and the student variants.
- `pairs`: one fixed set of teacher-resolution pairs (videos and still photos)
  shared by every run.
- `runs`: teacher and students, each in its run folder, claimable by one of
  several processes.
- `disc_mask`: the teacher's final-feature energies that Disc-KD's mask reads.
- `evaluation`: one-pass scores of every run on held-out sequences.
- `report`: the Markdown table, its verdict and the curves.
"""
