"""The in-memory Dataset value and the tensor transforms every image data set shares."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from gankit.errors import DataError

SPLITS = ("train", "test", "all")
KINDS = ("image", "points", "text", "sequence", "interactions", "video", "voxel")
PAIRINGS = ("paired", "unpaired")


@dataclass
class Dataset:
    """A whole data set in memory, labels (N,) or None, and x by kind: "image" (N, C, H, W) in [-1, 1], "points"
    (N, 2), "text" (N, T) int64 token ids (each sentence ends with <eos>, then padding; ``tokens`` is the
    vocabulary), "sequence" (N, T, F) float32 continuous sequences, "interactions" (N, 2) int64 (user, item) rows of
    an implicit-feedback matrix of ``table`` = (users, items), "video" (N, T, C, H, W) clips in [-1, 1], "voxel" (N, 1, S, S, S)
    occupancy grids in [-1, 1], occupied +1 (gankit/data/voxels.py).

    a: source-domain images (M, C', H, W) for image-to-image translation, or None. With pairing
       "paired", a[i] is the input whose target is x[i] (M == N); with "unpaired", a is an independent
       set of domain-A images (any M).
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor | None
    num_classes: int
    kind: str
    class_names: list[str] | None = None
    a: torch.Tensor | None = None
    pairing: str | None = None
    tokens: list[str] | None = None  # text: the vocabulary, token id -> word (gankit/data/text.py)
    table: tuple[int, int] | None = None  # interactions: (users, items)
    # image + caption pairs (text-to-image, gankit/data/captions.py): (N, T) int64 token ids of each image's
    # caption (<eos>, then <pad>), the words in ``tokens``; None without captions
    captions: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DataError(f"data set {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.y is not None and self.y.shape != self.x.shape[:1]:
            raise DataError(f"data set {self.name!r}: y has shape {tuple(self.y.shape)}, "
                            f"expected ({self.x.shape[0]},) to match x")
        if self.captions is not None and (self.captions.dim() != 2 or len(self.captions) != len(self.x)):
            raise DataError(f"data set {self.name!r}: captions have shape {tuple(self.captions.shape)}, expected "
                            f"({len(self.x)}, T) token ids, one caption per sample")
        self._check_source()

    def _check_source(self) -> None:
        """a and pairing come together; paired rows align; a holds images."""
        if self.pairing is not None and self.pairing not in PAIRINGS:
            raise DataError(f"data set {self.name!r}: pairing must be one of {PAIRINGS} or None, "
                            f"got {self.pairing!r}")
        if (self.a is None) != (self.pairing is None):
            raise DataError(f"data set {self.name!r}: a and pairing must be set together "
                            f"(a is {'None' if self.a is None else 'set'}, pairing={self.pairing!r})")
        if self.a is None:
            return
        if self.kind != "image" or self.a.dim() != 4:
            raise DataError(f"data set {self.name!r}: a must be images (M, C, H, W) of an image data set; "
                            f"got shape {tuple(self.a.shape)} with kind {self.kind!r}")
        if self.pairing == "paired" and len(self.a) != len(self.x):
            raise DataError(f"data set {self.name!r}: paired data needs as many a images as x images; "
                            f"got {len(self.a)} and {len(self.x)}")

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample: (C, H, W) or (2,)."""
        return tuple(self.x.shape[1:])

    @property
    def source_shape(self) -> tuple[int, ...] | None:
        """The shape of one source image a: (C', H, W), or None without a source domain."""
        return None if self.a is None else tuple(self.a.shape[1:])

    def to(self, device: torch.device | str) -> Dataset:
        """A copy with x, y and a on ``device``."""
        y = None if self.y is None else self.y.to(device)
        a = None if self.a is None else self.a.to(device)
        captions = None if self.captions is None else self.captions.to(device)
        return replace(self, x=self.x.to(device), y=y, a=a, captions=captions)


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


def _shuffled_keep(size: int, limit: int, seed: int) -> torch.Tensor:
    """The first ``limit`` of a permutation of range(size) seeded by ``seed``."""
    return torch.from_numpy(np.random.default_rng(seed).permutation(size)[:limit])


def subset(data: Dataset, limit: int, seed: int) -> Dataset:
    """At most ``limit`` samples: the first after a shuffle seeded by ``seed``, so classes stay mixed.

    Paired data keeps the same rows of a and x; unpaired a is cut to ``limit`` on its own by the same rule.
    """
    a = data.a
    if a is not None and data.pairing == "unpaired" and limit < len(a):
        a = a[_shuffled_keep(len(a), limit, seed)]
    if limit >= len(data):
        return replace(data, a=a)
    keep = _shuffled_keep(len(data), limit, seed)
    y = None if data.y is None else data.y[keep]
    if a is not None and data.pairing == "paired":
        a = a[keep]
    captions = None if data.captions is None else data.captions[keep]
    return replace(data, x=data.x[keep], y=y, a=a, captions=captions)


def resize_tensor(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, image_size, image_size): centre-crop to square, resize with antialiasing."""
    height, width = images.shape[-2:]
    if (height, width) == (image_size, image_size):
        return images
    if height != width:
        images = TF.center_crop(images, [min(height, width)] * 2)
    images = TF.resize(images, [image_size, image_size], interpolation=InterpolationMode.BILINEAR, antialias=True)
    # Antialias filters can overshoot a little at sharp edges; keep the [-1, 1] contract.
    return images.clamp_(-1.0, 1.0)


def resize_images(data: Dataset, image_size: int) -> Dataset:
    """Centre-crop to square, then resize to image_size with antialiasing (bilinear); x and a alike."""
    a = None if data.a is None else resize_tensor(data.a, image_size)
    return replace(data, x=resize_tensor(data.x, image_size), a=a)


def _convert(images: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, channels, H, W): gray repeated to RGB, RGB to ITU-R 601 luma."""
    if images.shape[1] == channels:
        return images
    if channels == 3:
        return TF.grayscale_to_rgb(images)
    return TF.rgb_to_grayscale(images, num_output_channels=1)


def convert_channels(data: Dataset, channels: int) -> Dataset:
    """Gray -> RGB by repetition, RGB -> gray by ITU-R 601 luma (linear, so valid on [-1, 1] values); x and a."""
    a = None if data.a is None else _convert(data.a, channels)
    return replace(data, x=_convert(data.x, channels), a=a)
