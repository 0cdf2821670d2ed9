"""Reading a user's images for ``gankit translate`` and writing the results, one file per image."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from gankit.data.folder import image_files, is_image_file
from gankit.errors import DataError


def list_inputs(path: str | Path) -> list[Path]:
    """An image file, or the image files under a folder (sorted); a clear error when there are none."""
    path = Path(path).expanduser()
    if path.is_file():
        if not is_image_file(path):
            raise DataError(f"--input {path} is not an image file (.png, .jpg, ...)")
        return [path]
    if not path.is_dir():
        raise DataError(f"--input {path} does not exist; give an image file or a folder of images")
    files = image_files(path)
    if not files:
        raise DataError(f"--input {path}: no image files found (looked for .png .jpg .jpeg .bmp .gif .webp .tif .tiff)")
    return files


GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def read_images(files: list[Path], *, channels: int, size: tuple[int, int] | None, exact: bool = False) -> Tensor:
    """(N, channels, H, W) in [-1, 1]; resized (bicubic) to ``size`` = (H, W) when given, else all must share a size.

    ``exact``: refuse, naming the file, an image whose size is not ``size`` or whose channels (grey or colour)
    are not ``channels``, instead of converting it (an encoder's codes of a resized image mean little)."""
    arrays = [_pixels(file, file, channels=channels, size=size, exact=exact) for file in files]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DataError(f"input images differ in size ({', '.join(map(str, sorted(shapes)))}); "
                        "translate folders of one size, or one image at a time")
    return _to_tensor(np.stack(arrays))


def _to_tensor(pixels: np.ndarray) -> Tensor:
    """uint8 pixels (N, H, W) or (N, H, W, 3) -> (N, C, H, W) floats in [-1, 1]."""
    x = torch.from_numpy(pixels).float()
    x = x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2)  # (N, C, H, W)
    return x / 127.5 - 1


def read_upload(data: bytes, name: str, *, channels: int, size: tuple[int, int]) -> Tensor:
    """One image given as bytes (a file uploaded to ``gankit serve``, read in memory) as (1, channels, H, W) in
    [-1, 1], resized (bicubic) to ``size``; DataError naming ``name`` when the bytes are not an image."""
    return _to_tensor(np.stack([_pixels(io.BytesIO(data), name, channels=channels, size=size, exact=False)]))


def _pixels(source: Path | BinaryIO, name: Path | str, *, channels: int, size: tuple[int, int] | None,
            exact: bool) -> np.ndarray:
    """The uint8 pixels (H, W) or (H, W, 3) of the image in ``source`` (a file or bytes), called ``name`` in errors."""
    try:
        with Image.open(source) as image:
            if exact:
                _check_exact(name, image, channels, size)
            image = image.convert("L" if channels == 1 else "RGB")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.BICUBIC)
            return np.asarray(image, dtype=np.uint8)
    except UnidentifiedImageError:
        raise DataError(f"cannot read image {name}: not an image file Pillow can read (PNG, JPEG, ...)") from None
    except (OSError, Image.DecompressionBombError) as e:
        raise DataError(f"cannot read image {name}: {e}") from None


def _check_exact(file: Path | str, image: Image.Image, channels: int, size: tuple[int, int] | None) -> None:
    grey = image.mode in GREY_MODES
    if grey != (channels == 1):
        have, want = ("grey", "colour (RGB)") if grey else ("colour", "grey (one channel)")
        raise DataError(f"image {file} is {have}; this run takes {want} images. Convert it first "
                        f"(e.g. PIL: Image.open(path).convert({'L' if channels == 1 else 'RGB'!r}))")
    if size is not None and image.size != (size[1], size[0]):
        raise DataError(f"image {file} is {image.size[0]}x{image.size[1]} pixels; this run takes {size[1]}x{size[0]} "
                        "images (its training size). Resize or crop it first")


def write_images(images: Tensor, files: list[Path]) -> None:
    """Each (C, H, W) image in [-1, 1] to its PNG file, written to a temporary name and renamed (never half-written)."""
    for image, file in zip(images, files):
        pixels = ((image.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.stem}.tmp.png")
        Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(tmp)
        os.replace(tmp, file)
