"""The in-memory Dataset value and the tensor transforms every image data set shares."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from gankit.errors import DataError

SPLITS = ("train", "test", "all")
KINDS = ("image", "points")


@dataclass
class Dataset:
    """A whole data set in memory: images (N, C, H, W) in [-1, 1] or points (N, 2), labels (N,) or None."""

    name: str
    x: torch.Tensor
    y: torch.Tensor | None
    num_classes: int
    kind: str
    class_names: list[str] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DataError(f"data set {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.y is not None and self.y.shape != self.x.shape[:1]:
            raise DataError(f"data set {self.name!r}: y has shape {tuple(self.y.shape)}, "
                            f"expected ({self.x.shape[0]},) to match x")

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample: (C, H, W) or (2,)."""
        return tuple(self.x.shape[1:])

    def to(self, device: torch.device | str) -> Dataset:
        """A copy with x and y on ``device``."""
        y = None if self.y is None else self.y.to(device)
        return replace(self, x=self.x.to(device), y=y)


def check_split(split: str) -> None:
    """Raise DataError unless ``split`` is a known split name."""
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")


def pixels_to_tensor(pixels: np.ndarray, *, max_value: float = 255.0) -> torch.Tensor:
    """(N, H, W) or (N, H, W, 3) pixels in 0..max_value -> float32 (N, C, H, W) in [-1, 1]."""
    if pixels.ndim == 3:
        pixels = pixels[:, None]  # (N, 1, H, W)
    elif pixels.ndim == 4 and pixels.shape[-1] in (1, 3):
        pixels = pixels.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    else:
        raise DataError(f"images must be (N, H, W) or (N, H, W, 3); got shape {pixels.shape}")
    x = torch.from_numpy(np.ascontiguousarray(pixels)).to(torch.float32)
    return x.mul_(2.0 / max_value).sub_(1.0)


def labels_tensor(labels: np.ndarray | None) -> torch.Tensor | None:
    """Integer labels -> int64 (N,), or None."""
    return None if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.int64).reshape(-1)


def subset(data: Dataset, limit: int, seed: int) -> Dataset:
    """At most ``limit`` samples: the first after a shuffle seeded by ``seed``, so classes stay mixed."""
    if limit >= len(data):
        return data
    keep = torch.from_numpy(np.random.default_rng(seed).permutation(len(data))[:limit])
    y = None if data.y is None else data.y[keep]
    return replace(data, x=data.x[keep], y=y)


def resize_images(data: Dataset, image_size: int) -> Dataset:
    """Centre-crop to square, then resize to image_size with antialiasing (bilinear)."""
    height, width = data.x.shape[-2:]
    if (height, width) == (image_size, image_size):
        return data
    x = data.x
    if height != width:
        x = TF.center_crop(x, [min(height, width)] * 2)
    x = TF.resize(x, [image_size, image_size], interpolation=InterpolationMode.BILINEAR, antialias=True)
    # Antialias filters can overshoot a little at sharp edges; keep the [-1, 1] contract.
    return replace(data, x=x.clamp_(-1.0, 1.0))


def convert_channels(data: Dataset, channels: int) -> Dataset:
    """Gray -> RGB by repetition, RGB -> gray by ITU-R 601 luma (linear, so valid on [-1, 1] values)."""
    current = data.x.shape[1]
    if current == channels:
        return data
    if channels == 3:
        return replace(data, x=TF.grayscale_to_rgb(data.x))
    return replace(data, x=TF.rgb_to_grayscale(data.x, num_output_channels=1))
