"""Two-domain data for image-to-image translation (pix2pix, CycleGAN, StarGAN, SRGAN) and domain selection.

Sources ``load_dataset`` reads here (a = domain A, the source; x = domain B, the target):
- an .npz with a_train, b_train[, a_test, b_test] (uint8 (N, H, W) or (N, H, W, 3)), paired or unpaired;
  with pairing=None only the b images are read (as x), so an unconditional GAN trains on them.
- an AB folder (the official pix2pix data sets): each image is 2W x H, A on the left, B on the right; the
  images lie in the folder itself or in train/ and test/ (else val/) sub-folders picked by the split.
- a two-folder layout: A/ and B/, or trainA/ trainB/ testA/ testB/ by split (the CycleGAN data sets), or
  the two sub-folders named in ``domains``; with pairing=paired the files are matched by name (stem).
- a labelled data set with domains=[A, B] and pairing=unpaired: a = images of class A, x = of class B.
With pairing=None, ``domains`` keeps only the listed classes, relabelled 0..k-1 in the given order (StarGAN).
Both sides of a folder are read at one size (default: the B side's natural size, as for image folders);
an archive keeps its size, the A side resized to the B side's when they differ.
"""
from __future__ import annotations

import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from gankit.data.dataset import PAIRINGS, Dataset, pixels_to_tensor, resize_tensor
from gankit.data.folder import (GRAY_MODES, IMAGE_EXTENSIONS, default_folder_size,
                                image_files, is_image_file, read_images, warn_skipped)
from gankit.data.npz import open_npz, split_parts
from gankit.errors import DataError, unknown

MAX_NAMED = 5  # files named in an error message
AB_TEST_FOLDERS = ("test", "val")  # the pix2pix data sets: test/ when present, else val/


def check_pairing(pairing: str | None, domains: Any) -> None:
    """Reject a bad pairing or domains value, naming the field and the fix."""
    if pairing is not None and pairing not in PAIRINGS:
        raise DataError(f"pairing must be one of {', '.join(PAIRINGS)} (or None for one domain); got {pairing!r}")
    if domains is None:
        return
    if not isinstance(domains, (list, tuple)) or not domains:
        raise DataError(f"domains must be a non-empty list of classes or sub-folders, e.g. [3, 8] or "
                        f"[horses, zebras]; got {domains!r}")
    if pairing is not None and len(domains) != 2:
        raise DataError(f"domains must name the two domains [A, B] when pairing={pairing!r}; got {list(domains)}")


def _subfolders(folder: Path) -> str:
    """The visible sub-folder names of ``folder``, for error messages."""
    names = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    return ", ".join(names) if names else "none"


def is_pair_npz(path: Path) -> bool:
    """An .npz archive holding a_train (and so A/B images) rather than x_train."""
    if not path.is_file() or path.suffix.lower() != ".npz" or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return "a_train.npy" in archive.namelist()


def reads_pairs(path: Path, pairing: str | None, domains: list | None) -> bool:
    """Whether ``path`` is read here; otherwise it is a plain .npz or image folder (possibly labelled)."""
    if is_pair_npz(path):
        return True
    if not path.is_dir() or pairing is None:
        return False
    # Unpaired domains that are not sub-folders are classes of a labelled folder (e.g. [0, 1]).
    return pairing == "paired" or domains is None or all((path / str(d)).is_dir() for d in domains)


def read_pairs(path: Path, *, name: str, split: str, image_size: int | None, channels: int | None,
               pairing: str | None, domains: list | None) -> Dataset:
    """An a/b .npz archive, an AB folder or a two-folder layout as a two-domain Dataset."""
    if not path.is_dir():
        if domains is not None:
            raise DataError(f"{path} is an a/b archive (domain A = a_*, B = b_*), so data.domains={list(domains)} "
                            "has nothing to pick; set data.domains=null")
        return read_pair_npz(path, name=name, split=split, image_size=image_size, pairing=pairing)
    warn_skipped(path)
    sides = _two_folders(path, split, domains)
    if sides is not None:
        return _read_two_folders(sides, path, name=name, image_size=image_size, channels=channels, pairing=pairing)
    return _read_ab_folder(_ab_files(path, split), path, name=name, image_size=image_size, channels=channels,
                           pairing=pairing)


# ---------------------------------------------------------------- .npz archives

def _npz_side(archive: np.lib.npyio.NpzFile, side: str, parts: list[str], path: Path) -> torch.Tensor:
    """The concatenated uint8 images {side}_{part} as (N, C, H, W) in [-1, 1]."""
    pixels = [archive[f"{side}_{part}"] for part in parts]
    if any(p.dtype != np.uint8 for p in pixels):
        raise DataError(f"{path}: {side}_* arrays must be uint8 pixels 0..255; got "
                        f"{', '.join(str(p.dtype) for p in pixels)}")
    return pixels_to_tensor(np.concatenate(pixels))


def read_pair_npz(path: Path, *, name: str, split: str, image_size: int | None, pairing: str | None) -> Dataset:
    """a_* (domain A) and b_* (domain B) arrays; pairing=None reads only the b images, as x."""
    with open_npz(path) as archive:
        if "b_train" not in archive:
            raise DataError(f"{path} has a_train but no b_train (found: {', '.join(archive.files)}); "
                            "a paired archive holds a_train, b_train[, a_test, b_test]")
        has_test = "a_test" in archive and "b_test" in archive
        if split == "test" and not has_test:
            raise DataError(f"{path} has no a_test and b_test arrays, so split='test' is unavailable; "
                            "use split='train'")
        parts = split_parts(split, has_test)
        x = _npz_side(archive, "b", parts, path)
        a = None if pairing is None else _npz_side(archive, "a", parts, path)
    if a is None:
        return Dataset(name=name, x=x, y=None, num_classes=0, kind="image")
    if pairing == "paired" and len(a) != len(x):
        raise DataError(f"{path}: {len(a)} a images but {len(x)} b images in split {split!r}; "
                        "paired data needs one a per b (or use data.pairing=unpaired)")
    return Dataset(name=name, x=x, y=None, num_classes=0, kind="image", a=_match_size(a, x, image_size, path),
                   pairing=pairing)


def _match_size(a: torch.Tensor, x: torch.Tensor, image_size: int | None, path: Path) -> torch.Tensor:
    """Resize a to x's size when the archive stores the two domains at different sizes."""
    if a.shape[-2:] == x.shape[-2:]:
        return a
    if image_size is None and x.shape[-1] != x.shape[-2]:
        raise DataError(f"{path}: a images are {tuple(a.shape[-2:])} but b images {tuple(x.shape[-2:])}; "
                        "set data.image_size to bring both to one square size")
    return resize_tensor(a, image_size if image_size is not None else x.shape[-1])


# ---------------------------------------------------------------- two sub-folders (A/B, trainA/trainB ...)

def _two_folders(folder: Path, split: str, domains: list | None) -> list[tuple[Path, Path]] | None:
    """(A folder, B folder) per part of the split, or None when ``folder`` has no two-folder layout."""
    if domains is not None:
        names = [str(d) for d in domains]
        missing = [n for n in names if not (folder / n).is_dir()]
        if missing:
            raise DataError(f"{folder} has no sub-folder {missing[0]!r} named in data.domains={list(domains)} "
                            f"(sub-folders: {_subfolders(folder)}); set data.domains to two of them")
        _single_split(folder, split, f"{names[0]}/ and {names[1]}/")
        return [(folder / names[0], folder / names[1])]
    if (folder / "trainA").is_dir() or (folder / "testA").is_dir():  # the CycleGAN layout
        parts = {"train": ["train"], "test": ["test"], "all": ["train", "test"]}[split]
        if split == "all" and not (folder / "testA").is_dir():
            parts = ["train"]
        for part in parts:
            for side in (f"{part}A", f"{part}B"):
                if not (folder / side).is_dir():
                    raise DataError(f"{folder} has no sub-folder {side}/ for split {split!r} "
                                    f"(sub-folders: {_subfolders(folder)}); add it or pick another split")
        return [(folder / f"{part}A", folder / f"{part}B") for part in parts]
    if (folder / "A").is_dir() and (folder / "B").is_dir():
        _single_split(folder, split, "A/ and B/")
        return [(folder / "A", folder / "B")]
    return None


def _single_split(folder: Path, split: str, layout: str) -> None:
    """A layout without train/test parts serves split train and all, not test."""
    if split == "test":
        raise DataError(f"{folder} has a single split ({layout}), so split='test' is unavailable; use split='train' "
                        "or 'all', or lay the data out in train and test parts")


def _side_files(side: Path) -> list[Path]:
    """The images of one domain folder (searched recursively); DataError when it has none."""
    files = image_files(side)
    if not files:
        raise DataError(f"domain folder {side} holds no images (looked for {' '.join(IMAGE_EXTENSIONS)}); "
                        "put the domain's images there")
    return files


def _match_names(a_files: list[Path], b_files: list[Path], a_dir: Path, b_dir: Path) -> tuple[list[Path], list[Path]]:
    """The two sides' files paired by name without suffix, in sorted order; DataError naming the unpaired."""
    def by_stem(files: list[Path], side: Path) -> dict[str, Path]:
        """Name (relative path without suffix) -> file."""
        return {f.relative_to(side).with_suffix("").as_posix(): f for f in files}
    a_stems, b_stems = by_stem(a_files, a_dir), by_stem(b_files, b_dir)
    alone = [f"{a_dir.name}/{s}" for s in sorted(set(a_stems) - set(b_stems))]
    alone += [f"{b_dir.name}/{s}" for s in sorted(set(b_stems) - set(a_stems))]
    if alone:
        more = f" and {len(alone) - MAX_NAMED} more" if len(alone) > MAX_NAMED else ""
        raise DataError(f"paired folders {a_dir} and {b_dir}: {len(alone)} file(s) have no partner of the same "
                        f"name in the other folder: {', '.join(alone[:MAX_NAMED])}{more}; add or remove them, "
                        "or use data.pairing=unpaired")
    if len(a_stems) < len(a_files) or len(b_stems) < len(b_files):
        raise DataError(f"paired folders {a_dir} and {b_dir}: two files share a name without suffix "
                        "(e.g. 1.png and 1.jpg); rename them so each pair is unambiguous")
    stems = sorted(a_stems)
    return [a_stems[s] for s in stems], [b_stems[s] for s in stems]


def _read_side(files: list[Path], *, size: int, channels: int | None, folder: Path) -> torch.Tensor:
    """(N, C, size, size) in [-1, 1]; C = channels, else 1 when every image is gray, else 3."""
    pixels, all_gray = read_images(files, mode="L" if channels == 1 else "RGB", size=size, folder=folder)
    return pixels_to_tensor(pixels[..., 0] if channels is None and all_gray else pixels)


def _read_two_folders(sides: list[tuple[Path, Path]], folder: Path, *, name: str, image_size: int | None,
                      channels: int | None, pairing: str) -> Dataset:
    """Domain A from the first folder of each part, domain B (x) from the second."""
    a_files: list[Path] = []
    b_files: list[Path] = []
    for a_dir, b_dir in sides:
        a_part, b_part = _side_files(a_dir), _side_files(b_dir)
        if pairing == "paired":
            a_part, b_part = _match_names(a_part, b_part, a_dir, b_dir)
        a_files += a_part
        b_files += b_part
    size = image_size if image_size is not None else default_folder_size(b_files[0])
    a = _read_side(a_files, size=size, channels=channels, folder=folder)
    x = _read_side(b_files, size=size, channels=channels, folder=folder)
    return Dataset(name=name, x=x, y=None, num_classes=0, kind="image", a=a, pairing=pairing)


# ---------------------------------------------------------------- AB folders (side-by-side pairs)

def _ab_files(folder: Path, split: str) -> list[Path]:
    """The AB images of the split: loose in ``folder``, or in its train/ and test/ (else val/) sub-folders."""
    parts = {part: folder / part for part in ("train", *AB_TEST_FOLDERS)
             if (folder / part).is_dir() and image_files(folder / part)}
    if not parts:
        loose = [p for p in sorted(folder.iterdir()) if is_image_file(p)]
        if not loose:
            raise DataError(f"{folder} holds no pairs: expected side-by-side AB images (in the folder or in "
                            "train/ test/ val/), sub-folders A/ B/ or trainA/ trainB/ testA/ testB/, or "
                            f"data.domains=[A, B] naming two sub-folders (sub-folders: {_subfolders(folder)})")
        _single_split(folder, split, "loose AB images")
        return loose
    test = next((parts[p] for p in AB_TEST_FOLDERS if p in parts), None)
    chosen = {"train": [parts.get("train")], "test": [test], "all": [parts.get("train"), test]}[split]
    if split != "all" and chosen[0] is None:
        wanted = "train/" if split == "train" else "test/ or val/"
        raise DataError(f"{folder} has no {wanted} sub-folder of AB images for split {split!r} "
                        f"(sub-folders: {_subfolders(folder)}); add it or pick another split")
    return [f for part in chosen if part is not None for f in image_files(part)]


def _split_ab(path: Path, mode: str, size: int) -> tuple[np.ndarray, np.ndarray, bool] | str:
    """(A half, B half) each fitted to (size, size[, 3]) uint8, whether gray; or why the file is unusable."""
    try:
        with Image.open(path) as image:
            gray = image.mode in GRAY_MODES
            upright = ImageOps.exif_transpose(image).convert(mode)
    except (OSError, ValueError, SyntaxError, EOFError):
        return "not a readable image"
    width, height = upright.size
    if width % 2:
        return f"odd width {width} (an AB image is 2W x H: A on the left half, B on the right)"
    halves = (upright.crop((0, 0, width // 2, height)), upright.crop((width // 2, 0, width, height)))
    a, b = (np.asarray(ImageOps.fit(half, (size, size), method=Image.Resampling.BICUBIC), dtype=np.uint8)
            for half in halves)
    return a, b, gray


def _read_ab_folder(files: list[Path], folder: Path, *, name: str, image_size: int | None, channels: int | None,
                    pairing: str) -> Dataset:
    """Split every AB image into its A half (a) and B half (x)."""
    size = image_size if image_size is not None else default_folder_size(files[0], ab_halves=True)
    mode = "L" if channels == 1 else "RGB"
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:  # decoding releases the GIL
        results = list(pool.map(lambda path: _split_ab(path, mode, size), files))
    bad = [f"{path.relative_to(folder)}: {why}" for path, why in zip(files, results) if isinstance(why, str)]
    if bad:
        more = f" and {len(bad) - MAX_NAMED} more" if len(bad) > MAX_NAMED else ""
        raise DataError(f"{len(bad)} AB image(s) in {folder} cannot be split into A and B halves: "
                        f"{'; '.join(bad[:MAX_NAMED])}{more}. Fix or remove them")
    a, b, gray = (np.stack(column) for column in zip(*results))
    if channels is None and gray.all():
        a, b = a[..., 0], b[..., 0]  # gray converted to RGB has three equal channels
    return Dataset(name=name, x=pixels_to_tensor(b), y=None, num_classes=0, kind="image",
                   a=pixels_to_tensor(a), pairing=pairing)


# ---------------------------------------------------------------- domains of a labelled data set

def _class_names(data: Dataset) -> list[str]:
    """The class names, or the labels as text when the data set has none."""
    return list(data.class_names) if data.class_names else [str(k) for k in range(data.num_classes)]


def _class_index(data: Dataset, domain: Any) -> int:
    """The label a data.domains entry names: an int label, or a name matched against the class names."""
    names = _class_names(data)
    if isinstance(domain, int) and not isinstance(domain, bool):
        if 0 <= domain < data.num_classes:
            return domain
        raise DataError(f"data.domains entry {domain} is not a class of {data.name!r}: labels are "
                        f"0..{data.num_classes - 1} ({', '.join(names)})")
    if str(domain) in names:
        return names.index(str(domain))
    raise DataError(f"data.domains entry {domain!r} of {data.name!r}: {unknown('class', str(domain), names)}")


def _labels(data: Dataset, domains: list, why: str) -> list[int]:
    """The distinct labels ``domains`` names; DataError when the data set has no labels."""
    if data.y is None:
        raise DataError(f"data.domains={list(domains)} {why}, but {data.name!r} has no labels (an unlabelled .npz "
                        "or loose images); use a labelled data set or sub-folders A/ B/, or set data.domains=null")
    labels = [_class_index(data, d) for d in domains]
    if len(set(labels)) < len(labels):
        raise DataError(f"data.domains={list(domains)} names a class of {data.name!r} twice; list each once")
    return labels


def keep_classes(data: Dataset, domains: list) -> Dataset:
    """Only the classes in ``domains``, relabelled 0..k-1 in the given order (StarGAN's multi-domain data)."""
    labels = _labels(data, domains, "keeps classes")
    remap = torch.full((data.num_classes,), -1, dtype=torch.int64)
    remap[labels] = torch.arange(len(labels))
    new_y = remap[data.y]  # (N,), -1 where the class is dropped
    keep = new_y >= 0
    counts = torch.bincount(new_y[keep], minlength=len(labels))
    if (counts == 0).any():
        empty = [str(d) for d, count in zip(domains, counts.tolist()) if count == 0]
        raise DataError(f"data.domains class(es) {', '.join(empty)} of {data.name!r} have no samples in this split; "
                        "drop them from data.domains")
    names = _class_names(data)
    return replace(data, x=data.x[keep], y=new_y[keep], num_classes=len(labels),
                   class_names=[names[k] for k in labels])


def two_classes(data: Dataset, domains: list | None) -> Dataset:
    """Unpaired domains from a labelled data set: a = images of class domains[0], x = of class domains[1]."""
    if domains is None:
        listed = f"two of its classes: {', '.join(_class_names(data))}" if data.y is not None else "two classes"
        raise DataError(f"{data.name!r} is one data set, so pairing='unpaired' needs its domains: set "
                        f"data.domains=[A, B] to {listed} (or give sub-folders A/ B/ or an a/b .npz)")
    class_a, class_b = _labels(data, domains, "splits the data into domains")
    a, x = data.x[data.y == class_a], data.x[data.y == class_b]
    for side, images, domain in (("A", a, domains[0]), ("B", x, domains[1])):
        if len(images) == 0:
            raise DataError(f"domain {side} (class {domain!r}) of {data.name!r} has no images in this split; "
                            "pick another class in data.domains")
    return replace(data, x=x, y=None, num_classes=0, class_names=None, a=a, pairing="unpaired")


def select_domains(data: Dataset, *, pairing: str | None, domains: list | None) -> Dataset:
    """Apply pairing and domains to a single-domain data set; a two-domain one (the registered facades) keeps
    its pairs, is used unpaired, or drops a when pairing is None."""
    if data.a is not None:
        if pairing is None:
            return replace(data, a=None, pairing=None)
        return replace(data, pairing=pairing)
    if pairing == "paired":
        raise DataError(f"{data.name!r} is one set of images, so pairing='paired' has no pairs: give an a/b .npz, "
                        "an AB folder or sub-folders A/ B/ with matching names; for two classes of a labelled "
                        "data set use pairing='unpaired' with data.domains=[A, B]")
    if pairing == "unpaired":
        return two_classes(data, domains)
    return data if domains is None else keep_classes(data, domains)
