"""Hole masks for inpainting (Pathak et al. 2016, Context Encoders): the central block, random blocks, a user's PNG.

A mask is a float tensor (B, 1, H, W) with 1 on the hole (the pixels to fill) and 0 on the context (the pixels
kept). A user's mask is a PNG of the image's size, white (255) on the hole and black (0) elsewhere.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from gankit.errors import DataError

BLOCKS_PER_IMAGE = 4  # random-block masks: this many (possibly overlapping) blocks, together at most 1/4 of the image


def centre_mask(size: int, hole: float = 0.5) -> Tensor:
    """Pathak et al. 2016's default: a central square ``hole`` x the image side (64 of 128 px). (1, 1, H, W)"""
    if not 0 < hole < 1:
        raise DataError(f"recipe_args.hole={hole}: the central hole's side as a fraction of the image's is in (0, 1)")
    side = max(1, round(size * hole))
    start = (size - side) // 2
    mask = torch.zeros(1, 1, size, size)
    mask[..., start:start + side, start:start + side] = 1
    return mask


def block_masks(n: int, size: int, *, generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                blocks: int = BLOCKS_PER_IMAGE) -> Tensor:
    """Pathak et al. 2016's random-block masks: ``blocks`` squares of side size/8 .. size/4 at random places, possibly
    overlapping, so together at most 1/4 of the image is removed. (n, 1, H, W)"""
    low, high = max(1, size // 8), max(1, size // 4)
    sides = torch.randint(low, high + 1, (n, blocks), generator=generator, device=device)  # (n, blocks)
    corner = torch.rand(n, blocks, 2, generator=generator, device=device)  # (n, blocks, 2): where in the free range
    tops = (corner * (size - sides)[..., None] + 0.5).long()  # (n, blocks, 2): row, column of each top-left corner
    rows = torch.arange(size, device=device)
    inside_r = (rows >= tops[..., 0:1]) & (rows < (tops[..., 0] + sides)[..., None])  # (n, blocks, H)
    inside_c = (rows >= tops[..., 1:2]) & (rows < (tops[..., 1] + sides)[..., None])  # (n, blocks, W)
    holes = (inside_r[..., :, None] & inside_c[..., None, :]).any(dim=1)  # (n, H, W)
    return holes[:, None].float()


def read_mask(path: str | Path, size: tuple[int, int]) -> Tensor:
    """A user's hole mask (1, 1, H, W) from a PNG of exactly ``size`` = (H, W): white (255) on the hole, black kept.

    Anything else is refused, naming the file: an unreadable file, another size (resizing would blur the edge), grey
    levels between black and white, or a mask with no hole."""
    path = Path(path).expanduser()
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L"), dtype=np.uint8)  # (H, W); colour masks are read as their grey
    except (OSError, UnidentifiedImageError) as e:
        raise DataError(f"cannot read the mask {path}: {e}. Give a PNG, white (255) on the hole, black (0) "
                        "elsewhere") from None
    if pixels.shape != tuple(size):
        raise DataError(f"the mask {path} is {pixels.shape[1]}x{pixels.shape[0]} pixels; this run fills images of "
                        f"{size[1]}x{size[0]} (its training size). Draw the mask at that size")
    levels = np.unique(pixels)
    if not set(levels.tolist()) <= {0, 255}:
        odd = [int(v) for v in levels if v not in (0, 255)]
        raise DataError(f"the mask {path} is not binary: it has {len(odd)} grey level(s) other than 0 and 255 (e.g. "
                        f"{odd[:3]}). Save it with black (0) for kept pixels and white (255) for the hole only, "
                        "without anti-aliasing")
    if not (pixels == 255).any():
        raise DataError(f"the mask {path} has no hole: paint the pixels to fill white (255)")
    return torch.from_numpy(pixels == 255).float()[None, None]


def check_hole(mask: Tensor, n: int, size: tuple[int, int]) -> Tensor:
    """A mask given as a tensor, (H, W), (1, H, W), (1, 1, H, W) or (n, 1, H, W), 1 on the hole and 0 elsewhere,
    as float (1 or n, 1, H, W); a clear error when its size is not ``size`` = (H, W) or its values are not 0 and 1."""
    mask = torch.as_tensor(mask)
    while mask.dim() < 4:
        mask = mask[None]
    if mask.shape[1] != 1 or tuple(mask.shape[2:]) != tuple(size) or mask.shape[0] not in (1, n):
        raise DataError(f"the mask has shape {tuple(mask.shape)}; for {n} image(s) of {size[0]}x{size[1]} give "
                        f"(H, W) = {tuple(size)}, or (1 or {n}, 1, {size[0]}, {size[1]})")
    if not ((mask == 0) | (mask == 1)).all():
        raise DataError("the mask is not binary: give 1 on the hole and 0 on the pixels to keep, nothing between")
    if not (mask == 1).flatten(1).any(dim=1).all():
        raise DataError("the mask has no hole (for some image): set the pixels to fill to 1")
    return mask.float()


__all__ = ["BLOCKS_PER_IMAGE", "centre_mask", "block_masks", "read_mask", "check_hole"]
