"""2D Gaussian mixtures used to measure mode collapse (PacGAN, Lin et al. 2018; VEEGAN)."""
from __future__ import annotations

import itertools

import numpy as np
import torch

from gankit.data.dataset import SPLITS, Dataset, labels_tensor

RING8_RADIUS = 1.0
GRID25_VALUES = (-4.0, -2.0, 0.0, 2.0, 4.0)
DEFAULT_POINTS = 50_000


def ring_centres(modes: int, radius: float) -> np.ndarray:
    """(modes, 2) centres equally spaced on a circle, the first at angle 0."""
    angles = 2.0 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_centres(values: tuple[float, ...]) -> np.ndarray:
    """(len(values)**2, 2) centres on the grid values x values, row-major in (x, y)."""
    return np.array(list(itertools.product(values, values)), dtype=np.float64)


# name -> (mode centres (modes, 2), per-coordinate std); metrics read these to count covered modes.
MIXTURES: dict[str, tuple[np.ndarray, float]] = {
    "ring8": (ring_centres(8, RING8_RADIUS), 0.01),
    "grid25": (grid_centres(GRID25_VALUES), 0.05),
}


def sample_mixture(name: str, *, split: str, count: int | None, seed: int) -> Dataset:
    """Draw ``count`` points (default 50,000) from mixture ``name``; each split is an independent draw."""
    centres, std = MIXTURES[name]
    # Seeding with (seed, split index) keeps train and test draws independent but reproducible.
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    count = DEFAULT_POINTS if count is None else count
    modes = rng.integers(0, len(centres), size=count)
    points = centres[modes] + std * rng.standard_normal((count, 2))  # (N, 2)
    x = torch.from_numpy(points).to(torch.float32)
    return Dataset(name=name, x=x, y=labels_tensor(modes), num_classes=len(centres), kind="points")
