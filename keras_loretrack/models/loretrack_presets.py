"""Built-in presets: architecture, crop sizes and crop factors.

`res*` are the ViT-B/16 resolutions of LoReTrack (Dong et al. 2024, arXiv
2405.17660), `ostrack*` the OSTrack baselines with candidate elimination (Ye et
al. 2022), `mini_*` small ViTs trained on a CPU by recipes/miniature_replication.py
(`mini_teacher` then fine-tuned by recipes/train_teacher.py).
"""

VIT_BASE = {
    "patch_size": 16,
    "hidden_dim": 768,
    "num_layers": 12,
    "num_heads": 12,
    "mlp_dim": 3072,
    "layer_norm_epsilon": 1e-6,
    "drop_path_rate": 0.1,
}
OSTRACK_CE = {"candidate_elimination_blocks": [3, 6, 9], "candidate_keep_ratio": 0.7}
VIT_BASE_HEAD = {"head_channels": [256, 128, 64, 32]}


def _vit_base(search_size, search_factor, description, **backbone):
    return {
        "description": description,
        "backbone": {
            **VIT_BASE,
            "search_size": search_size,
            "template_size": search_size // 2,
            **backbone,
        },
        "task": {
            "search_factor": search_factor,
            "template_factor": 2.0,
            **VIT_BASE_HEAD,
        },
    }


def _small(search_size, description):
    return {
        "description": description,
        "backbone": {
            "patch_size": 8,
            "hidden_dim": 96,
            "num_layers": 4,
            "num_heads": 3,
            "mlp_dim": 384,
            "layer_norm_epsilon": 1e-6,
            "drop_path_rate": 0.05,
            "search_size": search_size,
            "template_size": search_size // 2,
        },
        "task": {
            "search_factor": 5.0,
            "template_factor": 2.0,
            "head_channels": [64, 32, 16, 8],
        },
    }


PRESETS = {
    "res384": _vit_base(
        384, 5.0, "LoReTrack teacher, ViT-B/16, search 384 / template 192."
    ),
    "res256": _vit_base(
        256, 5.0, "LoReTrack student, ViT-B/16, search 256 / template 128."
    ),
    "res192": _vit_base(
        192, 5.0, "LoReTrack student, ViT-B/16, search 192 / template 96."
    ),
    "res128": _vit_base(
        128,
        5.0,
        "LoReTrack student, ViT-B/16, search 128 / template 64 (CPU real time).",
    ),
    "res96": _vit_base(
        96, 5.0, "LoReTrack student, ViT-B/16, search 96 / template 48."
    ),
    "ostrack256": _vit_base(
        256,
        4.0,
        "OSTrack-256 baseline with candidate elimination (for its checkpoints).",
        **OSTRACK_CE,
    ),
    "ostrack384": _vit_base(
        384,
        5.0,
        "OSTrack-384 baseline with candidate elimination (for its checkpoints).",
        **OSTRACK_CE,
    ),
    "mini_teacher": _small(
        128,
        "Small ViT (4 blocks, width 96, patch 8) at search 128: CPU-trainable teacher.",
    ),
    "mini_student": _small(
        64,
        "Small ViT (4 blocks, width 96, patch 8) at search 64: CPU-trainable student.",
    ),
}
