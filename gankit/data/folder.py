"""Image folders: class sub-folders become labels, loose images are unlabelled."""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from gankit.data.dataset import Dataset, labels_tensor, pixels_to_tensor
from gankit.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "F"})
MAX_DEFAULT_SIZE = 64
MIN_SIZE = 4
MAX_LISTED = 10


def is_image_file(path: Path) -> bool:
    """A visible file with an image extension; everything else (.txt, .DS_Store, ...) is ignored."""
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


def image_files(folder: Path) -> list[Path]:
    """Image files anywhere under ``folder`` (hidden folders skipped), sorted by path."""
    def hidden(path: Path) -> bool:
        return any(part.startswith(".") for part in path.relative_to(folder).parts)
    return sorted(p for p in folder.rglob("*") if not hidden(p) and is_image_file(p))


def warn_skipped(folder: Path) -> None:
    """Name the visible files that are not read because their extension is not an image's."""
    skipped = sorted(p for p in folder.rglob("*") if p.is_file() and not is_image_file(p)
                     and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if skipped:
        names = ", ".join(str(p.relative_to(folder)) for p in skipped[:MAX_LISTED])
        more = f" and {len(skipped) - MAX_LISTED} more" if len(skipped) > MAX_LISTED else ""
        warnings.warn(f"{folder}: ignored {len(skipped)} non-image file(s): {names}{more} "
                      f"(only {' '.join(IMAGE_EXTENSIONS)} are read)", stacklevel=3)


def scan_folder(folder: Path) -> tuple[list[Path], list[int] | None, list[str] | None]:
    """(files, labels, class names): sub-folders are classes (sorted); loose images are unlabelled."""
    warn_skipped(folder)
    entries = sorted(folder.iterdir())
    loose = [p for p in entries if is_image_file(p)]
    classes = [d for d in entries if d.is_dir() and not d.name.startswith(".") and image_files(d)]
    if loose and classes:
        raise DataError(f"{folder} mixes {len(loose)} loose images with class sub-folders "
                        f"({', '.join(d.name for d in classes[:MAX_LISTED])}); move the loose images into a "
                        "sub-folder (labelled) or the sub-folders' images up (unlabelled)")
    if not loose and not classes:
        raise DataError(f"no images found in {folder} (looked for {' '.join(IMAGE_EXTENSIONS)})")
    if loose:
        return loose, None, None
    files: list[Path] = []
    labels: list[int] = []
    for index, class_folder in enumerate(classes):
        members = image_files(class_folder)
        files += members
        labels += [index] * len(members)
    return files, labels, [d.name for d in classes]


def default_folder_size(first: Path, *, ab_halves: bool = False) -> int:
    """The first image's smaller side rounded down to a power of two, within [4, 64]; with ``ab_halves``,
    the smaller side of its B half (a side-by-side AB image is 2W x H)."""
    try:
        with Image.open(first) as image:
            width, height = image.size
    except (OSError, ValueError, SyntaxError):
        return MAX_DEFAULT_SIZE  # unreadable: the reader reports it, so the size is never used
    side = min(width // 2 if ab_halves else width, height)
    return max(MIN_SIZE, min(MAX_DEFAULT_SIZE, 1 << (max(side, 1).bit_length() - 1)))


def read_image(path: Path, mode: str, size: int) -> tuple[np.ndarray | None, bool]:
    """(pixels (size, size[, 3]) uint8 or None when unreadable, whether the source was grayscale)."""
    try:
        with Image.open(path) as image:
            gray = image.mode in GRAY_MODES
            upright = ImageOps.exif_transpose(image).convert(mode)
            # Centre crop to square, then resize; Pillow's resampling antialiases when shrinking.
            fitted = ImageOps.fit(upright, (size, size), method=Image.Resampling.BICUBIC)
            return np.asarray(fitted, dtype=np.uint8), gray
    except (OSError, ValueError, SyntaxError, EOFError):  # PIL's UnidentifiedImageError is an OSError
        return None, False


def read_images(files: list[Path], *, mode: str, size: int, folder: Path) -> tuple[np.ndarray, bool]:
    """(N, size, size[, 3]) uint8 images and whether all were grayscale; DataError naming bad files."""
    # Decoding releases the GIL, so threads give a real speed-up on big folders.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = list(pool.map(lambda path: read_image(path, mode, size), files))
    bad = [str(path.relative_to(folder)) for path, (pixels, _) in zip(files, results) if pixels is None]
    if bad:
        more = f" and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise DataError(f"{len(bad)} file(s) in {folder} are not readable images: "
                        f"{', '.join(bad[:MAX_LISTED])}{more}. Remove or fix them")
    return np.stack([pixels for pixels, _ in results]), all(gray for _, gray in results)


def read_folder(folder: Path, *, name: str, image_size: int | None, channels: int | None) -> Dataset:
    """An image folder as a Dataset; channels default to 3 unless every image is grayscale."""
    files, labels, class_names = scan_folder(folder)
    size = image_size if image_size is not None else default_folder_size(files[0])
    pixels, all_gray = read_images(files, mode="L" if channels == 1 else "RGB", size=size, folder=folder)
    if channels is None and all_gray:
        pixels = pixels[..., 0]  # gray converted to RGB has three equal channels
    return Dataset(name=name, x=pixels_to_tensor(pixels), y=labels_tensor(labels),
                   num_classes=len(class_names) if class_names else 0, kind="image", class_names=class_names)
