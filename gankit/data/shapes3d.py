"""``shapes3d``: a built-in labelled set of procedural voxel shapes for 3D-GAN (Wu et al. 2016), made offline.

Five classes, equally often (label = index mod 5): box, sphere, cylinder, cone and torus, each at a random size,
position and rotation (uniform over rotations), as solid occupancy grids of S^3 voxels (S = 16, 32 or 64: the
names ``shapes3d``, ``shapes3d-32``, ``shapes3d-64``). The grid spans [-1, 1]^3; every shape lies inside the
central [-0.95, 0.95]^3 (its bounding sphere does), so none is cut by the border. 4,000 train and 1,000 test
shapes, each drawn from its own fixed seed (``SHAPES_SEED``, the split, the index; never the run's ``seed``), so a
split never moves and a ``limit`` builds only the kept shapes. Samples are kind "voxel": (N, 1, S, S, S) float32,
occupied +1, empty -1.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy.spatial.transform import Rotation

from gankit.data.dataset import SPLITS, Dataset, labels_tensor
from gankit.data.voxels import occupancy_tensor

SHAPE_NAMES = ("box", "sphere", "cylinder", "cone", "torus")
SHAPES_SEED = 0  # fixed, independent of ``seed``: the train/test split must never move
SHAPES_PER_SPLIT = {"train": 4000, "test": 1000}
SHAPES_SIZES = (16, 32, 64)
INSIDE = 0.95  # every shape's bounding sphere lies in [-INSIDE, INSIDE]^3


# Each shape: (draw its size parameters, radius of its bounding sphere, is a local point (P, 3) inside?)
def _box(rng: np.random.Generator) -> tuple[float, Callable[[np.ndarray], np.ndarray]]:
    half = rng.uniform(0.3, 0.7, size=3)  # half-extents
    return float(np.linalg.norm(half)), lambda p: (np.abs(p) <= half).all(axis=1)


def _sphere(rng: np.random.Generator) -> tuple[float, Callable[[np.ndarray], np.ndarray]]:
    radius = rng.uniform(0.35, 0.8)
    return radius, lambda p: (p ** 2).sum(axis=1) <= radius ** 2


def _cylinder(rng: np.random.Generator) -> tuple[float, Callable[[np.ndarray], np.ndarray]]:
    radius, half_height = rng.uniform(0.3, 0.55), rng.uniform(0.35, 0.8)  # axis z
    return (float(np.hypot(radius, half_height)),
            lambda p: (p[:, 0] ** 2 + p[:, 1] ** 2 <= radius ** 2) & (np.abs(p[:, 2]) <= half_height))


def _cone(rng: np.random.Generator) -> tuple[float, Callable[[np.ndarray], np.ndarray]]:
    radius, half_height = rng.uniform(0.45, 0.75), rng.uniform(0.45, 0.85)  # base at z = -h, apex at z = +h

    def inside(p: np.ndarray) -> np.ndarray:
        reach = radius * (half_height - p[:, 2]) / (2 * half_height)  # the radius at height z
        return (np.abs(p[:, 2]) <= half_height) & (np.hypot(p[:, 0], p[:, 1]) <= reach)
    return float(np.hypot(radius, half_height)), inside


def _torus(rng: np.random.Generator) -> tuple[float, Callable[[np.ndarray], np.ndarray]]:
    ring, tube = rng.uniform(0.45, 0.65), rng.uniform(0.15, 0.25)  # ring radius, tube radius; axis z
    return ring + tube, lambda p: (np.hypot(p[:, 0], p[:, 1]) - ring) ** 2 + p[:, 2] ** 2 <= tube ** 2


SHAPES = (_box, _sphere, _cylinder, _cone, _torus)  # in the order of SHAPE_NAMES


def voxel_centres(size: int) -> np.ndarray:
    """(S^3, 3) centres of an S^3 grid spanning [-1, 1]^3, in the arrays' (x, y, z) index order."""
    axis = (np.arange(size) + 0.5) / size * 2 - 1
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)


def draw_shape(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One solid shape of class ``label`` at a random size, rotation and position: (S, S, S) bool occupancy."""
    bound, inside = SHAPES[label](rng)
    scale = min(1.0, INSIDE / bound)  # the largest draws are shrunk to fit
    rotation = Rotation.random(random_state=rng).as_matrix()  # local -> world
    centre = rng.uniform(-1, 1, size=3) * (INSIDE - bound * scale)
    local = (voxel_centres(size) - centre) @ rotation / scale  # world = R local * scale + centre
    return inside(local).reshape(size, size, size)


def shape_keys(split: str, limit: int | None, seed: int) -> list[tuple[str, int]]:
    """(split part, index) of each shape kept, in order: all of them, or with ``limit`` the ones ``subset`` keeps."""
    parts = ["train", "test"] if split == "all" else [split]
    keys = [(part, i) for part in parts for i in range(SHAPES_PER_SPLIT[part])]
    if limit is not None and limit < len(keys):
        keys = [keys[i] for i in np.random.default_rng(seed).permutation(len(keys))[:limit]]  # as subset() picks
    return keys


def draw_keyed(size: int, keys: list[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Occupancy (N, S, S, S) bool and labels (N,) int64 of the shapes ``keys``, each from its own fixed seed."""
    labels = np.array([i % len(SHAPES) for _, i in keys], dtype=np.int64)
    grids = [draw_shape(int(label), size, np.random.default_rng([SHAPES_SEED, SPLITS.index(part), i]))
             for (part, i), label in zip(keys, labels)]
    return (np.stack(grids) if grids else np.zeros((0, size, size, size), dtype=bool)), labels


@lru_cache(maxsize=4)
def _whole_split(size: int, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Every shape of split ``part``, drawn once per process (a run loads its data, its evaluator's, its evaluation's)."""
    occupancy, labels = draw_keyed(size, shape_keys(part, None, 0))
    occupancy.setflags(write=False)
    return occupancy, labels


def shapes3d(size: int, *, split: str, limit: int | None = None, seed: int = 0) -> Dataset:
    """The procedural shapes of ``split`` at S = ``size`` (kind "voxel"; see the module docstring)."""
    parts = ["train", "test"] if split == "all" else [split]
    if limit is None or limit >= sum(SHAPES_PER_SPLIT[part] for part in parts):
        drawn = [_whole_split(size, part) for part in parts]
        occupancy, labels = np.concatenate([o for o, _ in drawn]), np.concatenate([y for _, y in drawn])
    else:
        occupancy, labels = draw_keyed(size, shape_keys(split, limit, seed))
    name = "shapes3d" if size == SHAPES_SIZES[0] else f"shapes3d-{size}"
    return Dataset(name=name, x=occupancy_tensor(occupancy, where=name), y=labels_tensor(labels),
                   num_classes=len(SHAPE_NAMES), kind="voxel", class_names=list(SHAPE_NAMES))
