"""A PyTorch OSTrack / LoReTrack network, the independent reference.

Written from the papers (OSTrack, Ye et al. 2022; LoReTrack, Dong et al. 2024) and
the official code, independent of the package's Keras code: the bench runs it as
the PyTorch fp32 / dynamic-int8 engines, and the checkpoint tests check the Keras
model against it. Module names follow the official release so `state_dict()` has
the official keys (`backbone.blocks.0.attn.qkv.weight`,
`box_head.conv1_ctr.0.weight`, ...), including `cls_token` and the MAE `pos_embed`
that are stored but unused. Widths, depths and sizes are arguments so tests can use
tiny networks. Needs the `torch` extra (`pip install "keras-loretrack[torch]"`).
"""

import math

from keras_loretrack.optional import require

torch = require("torch", "torch", "The PyTorch reference network")
nn = torch.nn
F = torch.nn.functional


def candidate_template_index(template_grid):
    """OSTrack's CTR_POINT template token (flat index) for candidate elimination.

    The release hard-codes row = column = 3 on 7x7 and 8x8 grids, 5 on 12x12 and 6 on
    14x14; that is grid // 2 - 1 on even grids and grid // 2 on odd ones, which is
    the rule used for other grids here.
    """
    center = template_grid // 2 - 1 if template_grid % 2 == 0 else template_grid // 2
    return center * template_grid + center


class PatchEmbed(nn.Module):
    def __init__(self, patch_size, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, images):
        return self.proj(images).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(
            batch, tokens, 3, self.num_heads, dim // self.num_heads
        )
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(batch, tokens, dim)
        return self.proj(out), attn


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_dim, eps, keep_ratio=None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_dim)
        self.keep_ratio = keep_ratio

    def forward(self, x, num_template, template_index, search_index):
        out, attn = self.attn(self.norm1(x))
        x = x + out
        if self.keep_ratio is not None:
            num_search = x.shape[1] - num_template
            keep = math.ceil(self.keep_ratio * num_search)
            if keep < num_search:
                scores = attn[:, :, template_index, num_template:].mean(dim=1)
                order = torch.sort(scores, dim=1, descending=True).indices[:, :keep]
                search = x[:, num_template:]
                kept = search.gather(1, order[..., None].expand(-1, -1, x.shape[2]))
                x = torch.cat([x[:, :num_template], kept], dim=1)
                search_index = search_index.gather(1, order)
        x = x + self.mlp(self.norm2(x))
        return x, search_index


class VisionTransformerTracker(nn.Module):
    def __init__(
        self,
        search_size,
        template_size,
        patch_size=16,
        dim=768,
        depth=12,
        num_heads=12,
        mlp_dim=3072,
        eps=1e-6,
        ce_blocks=(),
        keep_ratio=0.7,
        mae_grid=14,
    ):
        super().__init__()
        self.template_grid = template_size // patch_size
        self.search_grid = search_size // patch_size
        self.patch_embed = PatchEmbed(patch_size, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + mae_grid * mae_grid, dim))
        self.pos_embed_z = nn.Parameter(torch.zeros(1, self.template_grid**2, dim))
        self.pos_embed_x = nn.Parameter(torch.zeros(1, self.search_grid**2, dim))
        self.blocks = nn.ModuleList(
            Block(dim, num_heads, mlp_dim, eps, keep_ratio if i in ce_blocks else None)
            for i in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, template, search):
        z = self.patch_embed(template) + self.pos_embed_z
        x = self.patch_embed(search) + self.pos_embed_x
        num_template, num_search = z.shape[1], x.shape[1]
        tokens = torch.cat([z, x], dim=1)
        batch = tokens.shape[0]
        search_index = torch.arange(num_search).expand(batch, -1)
        template_index = candidate_template_index(self.template_grid)
        for block in self.blocks:
            tokens, search_index = block(
                tokens, num_template, template_index, search_index
            )
        tokens = self.norm(tokens)
        kept = tokens[:, num_template:]
        search_tokens = torch.zeros(batch, num_search, tokens.shape[2])
        search_tokens.scatter_(
            1, search_index[..., None].expand(-1, -1, tokens.shape[2]), kept
        )
        return search_tokens.transpose(1, 2).reshape(
            batch, -1, self.search_grid, self.search_grid
        )


def conv_bn_relu(in_channels, out_channels):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class CenterPredictor(nn.Module):
    def __init__(self, in_channels, channels=(256, 128, 64, 32)):
        super().__init__()
        widths = (in_channels,) + tuple(channels)
        outputs = {"ctr": 1, "offset": 2, "size": 2}
        for branch, out in outputs.items():
            for stage in range(len(channels)):
                setattr(
                    self,
                    f"conv{stage + 1}_{branch}",
                    conv_bn_relu(widths[stage], widths[stage + 1]),
                )
            setattr(
                self,
                f"conv{len(channels) + 1}_{branch}",
                nn.Conv2d(widths[-1], out, kernel_size=1),
            )
        self.num_stages = len(channels)

    def _branch(self, branch, x):
        for stage in range(1, self.num_stages + 2):
            x = getattr(self, f"conv{stage}_{branch}")(x)
        return x

    def forward(self, features):
        score = torch.clamp(
            torch.sigmoid(self._branch("ctr", features)), 1e-4, 1 - 1e-4
        )
        size = torch.clamp(
            torch.sigmoid(self._branch("size", features)), 1e-4, 1 - 1e-4
        )
        offset = self._branch("offset", features)
        grid = score.shape[-1]
        index = score.flatten(1).argmax(dim=1)
        iy = torch.div(index, grid, rounding_mode="floor")
        ix = index % grid
        picked_size = size.flatten(2)[torch.arange(len(index)), :, index]
        picked_offset = offset.flatten(2)[torch.arange(len(index)), :, index]
        boxes = torch.stack(
            [
                (ix + picked_offset[:, 0]) / grid,
                (iy + picked_offset[:, 1]) / grid,
                picked_size[:, 0],
                picked_size[:, 1],
            ],
            dim=1,
        )
        return {
            "score_map": score,
            "size_map": size,
            "offset_map": offset,
            "boxes": boxes,
        }


class OSTrackReference(nn.Module):
    """The tracker network: `backbone` (one-stream ViT) + `box_head` (center head).

    Args:
        search_size: int. Search crop side.
        template_size: int. Template crop side.
        patch_size: int. Patch side.
        dim: int. Token width.
        depth: int. Blocks.
        num_heads: int. Heads.
        mlp_dim: int. MLP hidden width.
        head_channels: tuple of int. Center head conv widths.
        ce_blocks: tuple of int. Candidate elimination blocks (OSTrack CE).
        keep_ratio: float. CE keep ratio.

    Forward takes NCHW `template`, `search` and returns NCHW maps and (B, 4) boxes.
    """

    def __init__(
        self,
        search_size=256,
        template_size=128,
        patch_size=16,
        dim=768,
        depth=12,
        num_heads=12,
        mlp_dim=3072,
        head_channels=(256, 128, 64, 32),
        ce_blocks=(),
        keep_ratio=0.7,
    ):
        super().__init__()
        self.backbone = VisionTransformerTracker(
            search_size,
            template_size,
            patch_size,
            dim,
            depth,
            num_heads,
            mlp_dim,
            ce_blocks=ce_blocks,
            keep_ratio=keep_ratio,
        )
        self.box_head = CenterPredictor(dim, head_channels)

    def forward(self, template, search):
        return self.box_head(self.backbone(template, search))


def randomize_(model, seed=0):
    """Gives every parameter and BatchNorm statistic random, well-scaled values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                tensor.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))
            elif name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
            elif tensor.ndim == 1 and ("norm" in name or ".1." in name):
                if name.endswith("weight"):
                    tensor.copy_(
                        1 + 0.2 * torch.randn(tensor.shape, generator=generator)
                    )
                else:
                    tensor.copy_(0.1 * torch.randn(tensor.shape, generator=generator))
            elif tensor.ndim >= 2 and "pos_embed" not in name and "cls" not in name:
                fan_in = tensor[0].numel()
                tensor.copy_(
                    torch.randn(tensor.shape, generator=generator) / fan_in**0.5
                )
            else:
                tensor.copy_(0.1 * torch.randn(tensor.shape, generator=generator))
    return model


def release_state_dict(model):
    """The state dict as the release stores it: position tables transposed in memory.

    The official code builds `pos_embed_z` / `pos_embed_x` through a transpose, so the
    saved tensors have strides (E·Q, 1, Q) rather than (Q·E, E, 1).
    """
    state = dict(model.state_dict())
    for key in ("backbone.pos_embed_z", "backbone.pos_embed_x"):
        table = state[key]
        state[key] = table.transpose(1, 2).contiguous().transpose(1, 2)
        assert state[key].stride() == (
            table.shape[1] * table.shape[2],
            1,
            table.shape[1],
        )
    return state


def mae_state_dict(model):
    """The backbone weights in MAE's `model` layout (no `backbone.` prefix)."""
    return {
        key[len("backbone.") :]: value
        for key, value in model.state_dict().items()
        if key.startswith("backbone.") and "pos_embed_" not in key
    }


def regrid_like_official(table, target_grid):
    """OSTrack's position-table resize: (1, N, C) → bicubic (align_corners False)."""
    batch, tokens, dim = table.shape
    grid = math.isqrt(tokens)
    image = table.transpose(1, 2).reshape(batch, dim, grid, grid)
    resized = F.interpolate(
        image, size=(target_grid, target_grid), mode="bicubic", align_corners=False
    )
    return resized.flatten(2).transpose(1, 2)
