"""Texture sources for the texture GANs (SGAN, PSGAN, Markovian GAN): one image file, or a built-in procedural
texture, and the random crops the recipes draw from them at every step.

A texture data set is an image data set whose images are large texture sources (N, C, H, W), not samples: the
texture recipes (gankit/recipes/texture.py) cut fresh random crops of ``recipe_args.crop`` px out of them for every
batch, so the number of distinct crops is effectively unlimited even for a single photograph.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

from gankit import distributed as noise
from gankit.data.dataset import Dataset, pixels_to_tensor
from gankit.data.folder import GRAY_MODES
from gankit.errors import DataError

BRICKS_SIZE = 128  # px, the side of each built-in brick-wall image
BRICKS_COUNT = {"train": 16, "test": 8}  # independent realisations of the same texture process
BRICKS_SEED = {"train": 0, "test": 1}  # fixed: the test walls are other draws, never the training ones
BRICK_WIDTH, BRICK_HEIGHT, MORTAR = 24, 12, 2  # px


def read_texture_image(path: Path, *, name: str, channels: int | None) -> Dataset:
    """One image file as a texture source (1, C, H, W) at its own resolution (no resizing: that would change
    the texture's scale); gray files stay one channel unless ``channels`` asks for 3."""
    try:
        with Image.open(path) as image:
            gray = image.mode in GRAY_MODES
            upright = ImageOps.exif_transpose(image).convert("L" if (channels == 1 or (gray and channels is None))
                                                             else "RGB")
            pixels = np.asarray(upright, dtype=np.uint8)[None]  # (1, H, W[, 3])
    except (OSError, ValueError, SyntaxError, EOFError):  # PIL's UnidentifiedImageError is an OSError
        raise DataError(f"{path} is not a readable image (Pillow cannot decode it); pass a .png/.jpg texture "
                        "photo, or a folder of them") from None
    return Dataset(name=name, x=pixels_to_tensor(pixels), y=None, num_classes=0, kind="image")


def brick_wall(rng: np.random.Generator, size: int = BRICKS_SIZE) -> np.ndarray:
    """One procedural brick wall (size, size, 3) uint8: running bond with a random offset, each brick its own
    shade of red, grey mortar, and pixel noise (a stationary, periodic texture: a known target for the texture
    GANs that needs no files)."""
    rows, cols = np.mgrid[0:size, 0:size]
    rows, cols = rows + rng.integers(0, 2 * BRICK_HEIGHT), cols + rng.integers(0, BRICK_WIDTH)
    course = rows // BRICK_HEIGHT
    shifted = cols + (course % 2) * (BRICK_WIDTH // 2)  # every other course is offset by half a brick
    brick = shifted // BRICK_WIDTH  # (size, size) index of the brick within its course
    mortar = (rows % BRICK_HEIGHT < MORTAR) | (shifted % BRICK_WIDTH < MORTAR)
    shades = rng.uniform(0.75, 1.15, size=(course.max() + 1, brick.max() + 1))  # one shade per brick
    base = np.array([165.0, 70.0, 50.0]) * shades[course, brick][..., None]  # (size, size, 3)
    image = np.where(mortar[..., None], np.array([185.0, 180.0, 170.0]), base)
    image += rng.normal(0.0, 9.0, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def bricks(split: str) -> Dataset:
    """The built-in texture: BRICKS_COUNT[split] brick walls of BRICKS_SIZE px; 'all' is train then test."""
    parts = ["train", "test"] if split == "all" else [split]
    walls = [brick_wall(np.random.default_rng([BRICKS_SEED[part], i]))
             for part in parts for i in range(BRICKS_COUNT[part])]
    return Dataset(name="bricks", x=pixels_to_tensor(np.stack(walls)), y=None, num_classes=0, kind="image")


def check_texture_size(shape: tuple[int, ...], crop: int, name: str) -> None:
    """DataError unless texture sources of ``shape`` (C, H, W) hold a ``crop`` x ``crop`` px crop."""
    height, width = shape[-2:]
    if min(height, width) < crop:
        raise DataError(f"texture source {name!r} is {width}x{height} px, smaller than the {crop} px crops the "
                        f"texture GAN trains on (recipe_args.crop={crop}); use a larger image, or a smaller "
                        "recipe_args.crop (a multiple of 16), or for a folder of images data.image_size >= the crop "
                        "(a folder is read at most 64 px unless data.image_size says more)")


def random_crops(images: Tensor, count: int, size: int, *, generator: torch.Generator | None = None) -> Tensor:
    """``count`` random ``size`` x ``size`` crops (count, C, size, size) of ``images`` (N, C, H, W): each from a
    random image at a random place (gankit.distributed's noise stream unless ``generator`` is given)."""
    n, _, height, width = images.shape
    device = images.device
    pick = noise.randint(n, count, device=device, generator=generator)  # (count,)
    top = (noise.rand(count, device=device, generator=generator) * (height - size + 1)).long()
    left = (noise.rand(count, device=device, generator=generator) * (width - size + 1)).long()
    steps = torch.arange(size, device=device)
    rows, cols = top[:, None] + steps, left[:, None] + steps  # (count, size) each
    # Advanced indices around the channel slice put the indexed dims first: (count, size, size, C).
    return images[pick[:, None, None], :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


__all__ = ["read_texture_image", "bricks", "brick_wall", "check_texture_size", "random_crops"]
