"""Pictures of samples: image grids, line plots of sequences, 2D scatter plots, GIF latent walks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid


def to_grid(images: Tensor, nrow: int | None = None) -> Tensor:
    """(N, C, H, W) in [-1, 1] -> (3, H', W') uint8 grid."""
    nrow = nrow or max(int(np.ceil(np.sqrt(images.shape[0]))), 1)
    grid = make_grid(images.detach().float().cpu().clamp(-1, 1), nrow=nrow, padding=1, normalize=True, value_range=(-1, 1))
    return (grid * 255).round().to(torch.uint8)


def scatter_image(points: Tensor, reference: Tensor | None = None, size: int = 480) -> Tensor:
    """A scatter plot of (N, 2) points (real data in grey behind) as a (3, H, W) uint8 image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(size / 100, size / 100), dpi=100)
    if reference is not None:
        ax.scatter(*reference[:2000].cpu().T.numpy(), s=2, c="0.75", label="real")
    ax.scatter(*points.detach().float().cpu().T.numpy(), s=2, c="tab:red", label="generated")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return torch.from_numpy(rgb).permute(2, 0, 1)


SEQUENCE_COLOURS = ((0.84, 0.15, 0.16), (0.12, 0.47, 0.71), (0.17, 0.63, 0.17), (1.0, 0.5, 0.05))  # one per feature


def line_cells(sequences: Tensor, height: int = 48) -> Tensor:
    """(N, T, F) sequences -> (N, 3, height, width) line plots in [-1, 1], drawn straight into pixels: one line per
    feature on white, a grey zero line, one vertical scale for all N (the batch's range, zero always inside) so
    amplitudes compare across cells. width = 3 T, within [96, 288]; the curve is linear between steps."""
    x = sequences.detach().float().cpu().nan_to_num()
    n, length, features = x.shape
    width = min(max(3 * length, 96), 288)
    low, high = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    pad = 0.06 * (high - low) if high > low else 1.0
    low, high = low - pad, high + pad

    def to_row(value):  # noqa: ANN001, ANN202  (a float or a tensor) -> pixel row, the top row for ``high``
        return (high - value) / (high - low) * (height - 1)

    position = torch.linspace(0, length - 1, width)  # (W,) time at each pixel column
    left = position.floor().long().clamp(max=length - 1)
    right = (left + 1).clamp(max=length - 1)
    curve = torch.lerp(x[:, left], x[:, right], (position - left)[None, :, None])  # (N, W, F)
    ends = torch.stack([curve, torch.cat([curve[:, 1:], curve[:, -1:]], dim=1)])  # each column joins the next one's
    rows = to_row(ends)  # (2, N, W, F)
    top, bottom = rows.min(dim=0).values.round() - 0.5, rows.max(dim=0).values.round() + 0.5
    grid = torch.arange(height, dtype=torch.float32)[None, :, None, None]  # (1, H, 1, 1)
    ink = (grid >= top[:, None]) & (grid <= bottom[:, None])  # (N, H, W, F)
    cells = torch.ones(n, height, width, 3)
    cells[:, int(round(to_row(0.0)))] = 0.8  # the zero line
    for f in range(features):
        cells[ink[..., f]] = torch.tensor(SEQUENCE_COLOURS[f % len(SEQUENCE_COLOURS)])
    return cells.permute(0, 3, 1, 2).mul(2).sub(1)  # (N, 3, H, W)


def picture(samples: Tensor, nrow: int | None = None, reference: Tensor | None = None) -> Tensor:
    """Images become a grid, continuous sequences (N, T, F) a grid of line plots, points a scatter plot.
    Returns (3, H, W) uint8."""
    if samples.dim() == 4:
        return to_grid(samples, nrow)
    if samples.dim() == 3:
        return to_grid(line_cells(samples), nrow)
    return scatter_image(samples, reference)


def save_png(image: Tensor, path: Path) -> None:
    """Save a (3, H, W) uint8 image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(path)


def save_gif(frames: list[Tensor], path: Path, duration_ms: int = 120) -> None:
    """Save (3, H, W) uint8 frames as a looping GIF."""
    pics = [Image.fromarray(f.permute(1, 2, 0).numpy()) for f in frames]
    pics[0].save(path, save_all=True, append_images=pics[1:], duration=duration_ms, loop=0)
