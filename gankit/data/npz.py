"""Image data sets stored as .npz archives (x_train, y_train[, x_test, y_test]) or fetched by torchvision."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from gankit.data.dataset import Dataset, labels_tensor, pixels_to_tensor
from gankit.data.sequences import is_sequence_array, sequence_dataset
from gankit.errors import DataError

ENV_VAR = "GANKIT_DATA"


def cache_folder() -> Path:
    """~/.cache/gankit/data, resolved at call time so a changed HOME is honoured."""
    return Path.home() / ".cache" / "gankit" / "data"


def search_folders(root: str | None) -> list[Path]:
    """Where a named .npz is looked for, in order: root, $GANKIT_DATA, ~/.cache/gankit/data."""
    folders = [Path(root).expanduser()] if root else []
    if os.environ.get(ENV_VAR):
        folders.append(Path(os.environ[ENV_VAR]).expanduser())
    return folders + [cache_folder()]


def find_file(file_name: str, folders: list[Path]) -> Path | None:
    """The first ``folder / file_name`` that exists, or None."""
    return next((folder / file_name for folder in folders if (folder / file_name).is_file()), None)


def split_parts(split: str, has_test: bool) -> list[str]:
    """Which archive parts a split reads; 'all' is train plus test when the archive has one."""
    if split == "all":
        return ["train", "test"] if has_test else ["train"]
    return [split]


def _labels(archive: np.lib.npyio.NpzFile, parts: list[str], path: Path) -> np.ndarray | None:
    """Concatenated labels for ``parts``; None when the archive holds none."""
    present = [f"y_{part}" in archive for part in parts]
    if not any(present):
        return None
    if not all(present):
        raise DataError(f"{path}: labels y_* exist for some of the splits {parts} but not all; "
                        "add the missing ones or remove them all")
    return np.concatenate([archive[f"y_{part}"] for part in parts])


def _num_classes(archive: np.lib.npyio.NpzFile) -> int:
    """Classes = largest label + 1 over every split, so train and test agree."""
    labels = [archive[key] for key in ("y_train", "y_test") if key in archive]
    return int(max(int(y.max(initial=-1)) for y in labels)) + 1 if labels else 0


def open_npz(path: Path) -> np.lib.npyio.NpzFile:
    """An .npz archive opened without pickle support, or a DataError that says what is wrong with the file."""
    if not zipfile.is_zipfile(path):  # else np.load falls back to pickle and reports a confusing error
        raise DataError(f"{path} is not an .npz archive (not a zip file); write it with numpy.savez")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read {path} as .npz: {err}") from err


def read_npz(path: Path, *, name: str, split: str) -> Dataset:
    """Read images (uint8 (N, H, W) or (N, H, W, 3)) or continuous sequences (float (N, T, F)) and optional int
    labels from an .npz archive."""
    with open_npz(path) as archive:
        if "x_train" not in archive:
            raise DataError(f"{path} has no array x_train (found: {', '.join(archive.files)}); "
                            "expected x_train, y_train[, x_test, y_test]")
        if split == "test" and "x_test" not in archive:
            raise DataError(f"{path} has no x_test array, so split='test' is unavailable; use split='train'")
        parts = split_parts(split, "x_test" in archive)
        pixels = [archive[f"x_{part}"] for part in parts]
        if any(is_sequence_array(p) for p in pixels):  # float x: continuous sequences (N, T, F), see sequences.py
            return sequence_dataset(pixels, _labels(archive, parts, path), _num_classes(archive), path=path,
                                    parts=parts, name=name)
        if any(p.dtype != np.uint8 for p in pixels):
            dtypes = ", ".join(str(p.dtype) for p in pixels)
            raise DataError(f"{path}: x arrays must be uint8 pixels 0..255 (or float (N, T, F) sequences); got {dtypes}")
        labels, num_classes = _labels(archive, parts, path), _num_classes(archive)
    x = pixels_to_tensor(np.concatenate(pixels))
    if labels is not None and len(labels) != len(x):
        raise DataError(f"{path}: {len(labels)} labels for {len(x)} images in split {split!r}")
    return Dataset(name=name, x=x, y=labels_tensor(labels), num_classes=num_classes, kind="image")


def download_torchvision(name: str, class_name: str, *, split: str) -> Dataset:
    """Load (downloading on first use) a torchvision data set into ~/.cache/gankit/data/torchvision."""
    import torchvision.datasets  # imported here: slow, and only needed when no .npz is found

    dataset_class = getattr(torchvision.datasets, class_name)
    folder = cache_folder() / "torchvision"
    pixels, labels = [], []
    for part in split_parts(split, has_test=True):
        source = dataset_class(str(folder), train=part == "train", download=True)
        pixels.append(np.asarray(source.data))  # MNIST-like: (N, 28, 28); CIFAR: (N, 32, 32, 3)
        labels.append(np.asarray(source.targets))
    return Dataset(name=name, x=pixels_to_tensor(np.concatenate(pixels)),
                   y=labels_tensor(np.concatenate(labels)), num_classes=10, kind="image")


def load_named_npz(name: str, file_name: str, class_name: str, *, split: str, root: str | None) -> Dataset:
    """A named data set: a local .npz if one is found, else a torchvision download, else a DataError."""
    folders = search_folders(root)
    path = find_file(file_name, folders)
    if path is not None:
        return read_npz(path, name=name, split=split)
    try:
        return download_torchvision(name, class_name, split=split)
    except Exception as err:  # noqa: BLE001 - any download failure (DNS, timeout, HTTP, checksum) has one fix
        searched = ", ".join(str(folder) for folder in folders)
        raise DataError(
            f"data set {name!r} not found: no {file_name} in {searched}, and the torchvision download into "
            f"{cache_folder() / 'torchvision'} failed ({type(err).__name__}: {str(err).strip()}). "
            f"To fix: put {file_name} (arrays x_train, y_train[, x_test, y_test]) in a folder and set "
            f"{ENV_VAR}=<folder> or pass data.root=<folder>, or go online so torchvision can download it."
        ) from err


def download_archive(url: str, target: Path, *, data: str, root: str | None, missing: str, fix: str) -> None:
    """Download and extract the archive at ``url`` into ``target``, or a DataError: data set ``data`` not found
    (``missing`` in the data folders), the download failed, and how to ``fix`` it offline."""
    try:
        from torchvision.datasets.utils import download_and_extract_archive

        download_and_extract_archive(url, download_root=str(target))
    except Exception as err:  # noqa: BLE001 - offline, DNS, HTTP: one fix
        searched = ", ".join(str(folder) for folder in search_folders(root))
        raise DataError(f"data set {data!r} not found: {missing} in {searched}, and the download of {url} failed "
                        f"({type(err).__name__}). To fix: {fix}, or go online.") from None
