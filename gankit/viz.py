"""Pictures of samples: image grids, 2D scatter plots, GIF latent walks."""
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


def picture(samples: Tensor, nrow: int | None = None, reference: Tensor | None = None) -> Tensor:
    """Images become a grid, points a scatter plot. Returns (3, H, W) uint8."""
    if samples.dim() == 4:
        return to_grid(samples, nrow)
    return scatter_image(samples, reference)


def save_png(image: Tensor, path: Path) -> None:
    """Save a (3, H, W) uint8 image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(path)


def save_gif(frames: list[Tensor], path: Path, duration_ms: int = 120) -> None:
    """Save (3, H, W) uint8 frames as a looping GIF."""
    pics = [Image.fromarray(f.permute(1, 2, 0).numpy()) for f in frames]
    pics[0].save(path, save_all=True, append_images=pics[1:], duration=duration_ms, loop=0)
