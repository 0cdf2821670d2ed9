"""Voxel data (kind "voxel"): occupancy grids from .npz files and from meshes (ModelNet10's .off files).

A voxel sample is (1, S, S, S) float32, occupied +1 and empty -1, axis order (x, y, z) with z up (ModelNet's
convention; the renderer in ``gankit/voxelviz.py`` draws z up).

- A voxel .npz holds ``voxels_train`` (N, S, S, S) occupancy in [0, 1] (bool, 0/1 integers or floats; > 0.5 counts
  as occupied where it is thresholded), optionally ``voxels_test`` of the same S and int labels ``y_train`` /
  ``y_test``. Anything else is refused with a DataError that names the array, its shape and the fix.
- ``modelnet10`` (Wu et al. 2015, 3D ShapeNets; 3D-GAN trains on it): the archive is downloaded from Princeton
  once, every .off mesh voxelised (``voxelise``: surface sampled finer than a voxel, then the inside filled) and
  cached as ``modelnet10-<S>.npz`` in ~/.cache/gankit/data (or read from data.root / $GANKIT_DATA when put there).
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from gankit.data.dataset import Dataset, labels_tensor
from gankit.data.npz import cache_folder, download_archive, find_file, open_npz, search_folders, split_parts
from gankit.errors import DataError

MIN_VOXELS = 8  # the smallest grid side read
MODELNET10_URL = "http://3dvision.princeton.edu/projects/2014/3DShapeNets/ModelNet10.zip"
MODELNET10_CLASSES = ("bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table",
                      "toilet")
VOXEL_PAD = 1  # empty voxels kept around a voxelised mesh on every side


def occupancy_tensor(occupancy: np.ndarray, *, where: str) -> torch.Tensor:
    """(N, S, S, S) occupancy in [0, 1] -> (N, 1, S, S, S) float32 in [-1, 1] (occupied +1), or a DataError."""
    check_voxel_shape(occupancy.shape, where)
    if occupancy.dtype.kind not in "buif":
        raise DataError(f"{where}: voxels must be bool, integer or float occupancy in [0, 1]; got dtype {occupancy.dtype}")
    values = occupancy.astype(np.float32, copy=False)
    if values.size and (not np.isfinite(values).all() or values.min() < 0 or values.max() > 1):
        raise DataError(f"{where}: voxel occupancy must lie in [0, 1] (1 = occupied); got values in "
                        f"[{values.min()}, {values.max()}]. To fix: save (voxels > threshold) or rescale to [0, 1]")
    return torch.from_numpy(np.ascontiguousarray(values))[:, None].mul(2).sub(1)  # (N, 1, S, S, S)


def check_voxel_shape(shape: tuple[int, ...], where: str) -> None:
    """A DataError unless ``shape`` is (N, S, S, S) with N >= 1 and S >= MIN_VOXELS."""
    shape = tuple(shape)
    hint = ""
    if len(shape) == 5 and shape[1] == 1:
        hint = " (drop the channel axis: voxels[:, 0])"
    elif len(shape) == 4 and len(set(shape[1:])) > 1:
        hint = " (the grid must be cubic: pad or crop every side to the same S)"
    if len(shape) != 4 or len(set(shape[1:])) != 1 or shape[1] < MIN_VOXELS or shape[0] < 1:
        raise DataError(f"{where}: voxels must be an array (N, S, S, S) of N >= 1 cubic occupancy grids with S >= "
                        f"{MIN_VOXELS}; got shape {shape}{hint}")


def is_voxel_npz(path: Path) -> bool:
    """Whether ``path`` is an .npz archive of voxels (it has a ``voxels_train`` array)."""
    if path.suffix.lower() != ".npz" or not zipfile.is_zipfile(path):
        return False
    with open_npz(path) as archive:
        return "voxels_train" in archive.files


def read_voxel_npz(path: Path, *, name: str, split: str) -> Dataset:
    """Read ``voxels_train`` [``voxels_test``, ``y_train``, ``y_test``] (see the module docstring) as kind "voxel"."""
    with open_npz(path) as archive:
        if split == "test" and "voxels_test" not in archive:
            raise DataError(f"{path} has no voxels_test array, so split='test' is unavailable; use split='train'")
        parts = split_parts(split, "voxels_test" in archive)
        grids = {part: archive[f"voxels_{part}"] for part in parts}
        labels = {part: archive[f"y_{part}"] for part in parts if f"y_{part}" in archive}
        all_labels = [archive[key] for key in ("y_train", "y_test") if key in archive]
    sizes = {part: x.shape[1:] for part, x in grids.items()}
    for part, x in grids.items():
        check_voxel_shape(x.shape, f"{path}: voxels_{part}")
    if len(set(sizes.values())) > 1:
        raise DataError(f"{path}: voxels_train and voxels_test must have the same grid size; got {sizes}")
    if labels and len(labels) != len(parts):
        raise DataError(f"{path}: labels y_* exist for some of the splits {parts} but not all; add the missing ones "
                        "or remove them all")
    for part, y in labels.items():
        if y.shape != (len(grids[part]),):
            raise DataError(f"{path}: y_{part} has shape {y.shape}; expected ({len(grids[part])},), one label per grid")
    x = occupancy_tensor(np.concatenate(list(grids.values())), where=str(path))
    y = labels_tensor(np.concatenate(list(labels.values()))) if labels else None
    num_classes = int(max(int(part.max(initial=-1)) for part in all_labels)) + 1 if all_labels else 0
    return Dataset(name=name, x=x, y=y, num_classes=num_classes, kind="voxel")


# ---------------------------------------------------------------- meshes

def read_off(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """An Object File Format mesh -> vertices (V, 3) float64 and triangles (T, 3) int64 (polygons fanned).

    Reads ModelNet's files whose first line runs the counts into the keyword ("OFF490 518 0")."""
    words = [line.split("#", 1)[0].split() for line in path.read_text(encoding="ascii", errors="replace").splitlines()]
    tokens = [word for line in words for word in line]
    if not tokens or not tokens[0].startswith("OFF"):
        raise DataError(f"{path} is not an OFF mesh: it must begin with the keyword OFF")
    tokens = ([tokens[0][3:]] if len(tokens[0]) > 3 else []) + tokens[1:]
    try:
        n_vertices, n_faces = int(tokens[0]), int(tokens[1])
        vertices = np.array(tokens[3:3 + 3 * n_vertices], dtype=np.float64).reshape(n_vertices, 3)
        triangles, at = [], 3 + 3 * n_vertices
        for _ in range(n_faces):
            count = int(tokens[at])
            corners = [int(v) for v in tokens[at + 1:at + 1 + count]]
            triangles += [(corners[0], corners[k], corners[k + 1]) for k in range(1, count - 1)]
            at += 1 + count
    except (IndexError, ValueError) as err:
        raise DataError(f"{path}: malformed OFF mesh ({type(err).__name__}: {err})") from None
    faces = np.array(triangles, dtype=np.int64).reshape(-1, 3)
    if faces.size and (faces.min() < 0 or faces.max() >= n_vertices):
        raise DataError(f"{path}: a face refers to a vertex outside 0..{n_vertices - 1}")
    return vertices, faces


def surface_points(vertices: np.ndarray, triangles: np.ndarray, spacing: float) -> np.ndarray:
    """Points on every triangle on a barycentric lattice no coarser than ``spacing`` along any edge: (P, 3)."""
    corners = vertices[triangles]  # (T, 3, 3)
    edges = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=2).max(axis=1)  # (T,) longest edge
    steps = np.maximum(1, np.ceil(edges / spacing)).astype(np.int64)
    points = [vertices]
    for n in np.unique(steps):
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = i + j <= n
        weights = np.stack([i[keep], j[keep], n - i[keep] - j[keep]], axis=1) / n  # (K, 3) barycentric
        points.append(np.einsum("kc,tcd->tkd", weights, corners[steps == n]).reshape(-1, 3))
    return np.concatenate(points)


def voxelise(vertices: np.ndarray, triangles: np.ndarray, size: int, pad: int = VOXEL_PAD) -> np.ndarray:
    """A mesh as a solid (S, S, S) bool occupancy grid: centred, scaled so its longest side spans S - 2 pad voxels
    (proportions kept), the surface sampled at a third of a voxel, then every enclosed cavity filled."""
    if len(vertices) == 0 or len(triangles) == 0:
        raise DataError("cannot voxelise an empty mesh (no vertices or no faces)")
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    scale = (size - 2 * pad) / max(float((high - low).max()), 1e-12)  # voxels per mesh unit
    grid_vertices = (vertices - (low + high) / 2) * scale + size / 2  # the centre at the grid's centre
    points = surface_points(grid_vertices, triangles, spacing=1 / 3)
    index = np.floor(np.clip(points, pad, size - pad - 1e-6)).astype(np.int64)  # the far faces bound their voxels
    occupancy = np.zeros((size, size, size), dtype=bool)
    occupancy[index[:, 0], index[:, 1], index[:, 2]] = True
    return ndimage.binary_fill_holes(occupancy)


# ---------------------------------------------------------------- ModelNet10

def modelnet10(size: int, *, split: str, root: str | None) -> Dataset:
    """ModelNet10 voxelised at S = ``size``: ``modelnet10-<S>.npz`` where found, else made from the archive."""
    file_name = f"modelnet10-{size}.npz"
    path = find_file(file_name, search_folders(root))
    if path is None:
        meshes = _modelnet10_folder(root)
        path = cache_folder() / file_name
        write_voxel_npz(path, **voxelise_modelnet(meshes, size))
    data = read_voxel_npz(path, name="modelnet10" if size == 32 else f"modelnet10-{size}", split=split)
    return Dataset(name=data.name, x=data.x, y=data.y, num_classes=len(MODELNET10_CLASSES), kind="voxel",
                   class_names=list(MODELNET10_CLASSES))


def _modelnet10_folder(root: str | None) -> Path:
    """The extracted ModelNet10 folder (<class>/train|test/*.off): in a data folder, else downloaded once."""
    for folder in search_folders(root):
        if (folder / "ModelNet10" / "chair" / "train").is_dir():
            return folder / "ModelNet10"
    target = cache_folder()
    download_archive(MODELNET10_URL, target, data="modelnet10", root=root,
                     missing="no modelnet10-<S>.npz or ModelNet10/ folder",
                     fix="unzip ModelNet10.zip into a folder and set GANKIT_DATA=<folder> or data.root=<folder>, or put "
                         "a voxel .npz there (voxels_train, y_train[, voxels_test, y_test])")
    return target / "ModelNet10"


def voxelise_modelnet(folder: Path, size: int) -> dict[str, np.ndarray]:
    """Every mesh of ModelNet10's layout (<class>/train|test/*.off) voxelised: the arrays of a voxel .npz."""
    arrays: dict[str, np.ndarray] = {}
    for part in ("train", "test"):
        grids, labels = [], []
        for label, name in enumerate(MODELNET10_CLASSES):
            for mesh in sorted((folder / name / part).glob("*.off")):
                grids.append(voxelise(*read_off(mesh), size))
                labels.append(label)
        if not grids:
            raise DataError(f"{folder}: no .off meshes in <class>/{part}/ (expected ModelNet10's layout, classes "
                            f"{', '.join(MODELNET10_CLASSES)})")
        arrays[f"voxels_{part}"], arrays[f"y_{part}"] = np.stack(grids), np.array(labels, dtype=np.int64)
    return arrays


def write_voxel_npz(path: Path, **arrays: np.ndarray) -> None:
    """Save a voxel .npz atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

