"""Pictures and meshes of voxel shapes (3D-GAN, Wu et al. 2016): shaded views and marching-cubes .obj files.

Voxels are (N, 1, S, S, S) in [-1, 1] (occupied > 0), axis order (x, y, z) with z up (gankit/data/voxels.py).
``render_voxels`` casts orthographic rays through the trilinearly interpolated occupancy from a camera above and to
the side (elevation 30 degrees, azimuth 45), finds where each ray first enters the shape (occupancy 0.5) and shades
that depth map: Lambert light from its normals, darker with distance. ``write_meshes`` extracts the 0.5 surface with
scikit-image's marching cubes.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError

VIEW_SIZE = 64  # pixels per rendered view
VIEW_REACH = 1.3  # the view spans [-1.3, 1.3] around the grid's centre: all of any shape within the central sphere
SHAPE_COLOUR = (0.30, 0.52, 0.78)
LIGHT = (-0.4, 0.5, 0.77)  # towards the light, in camera coordinates (right, up, towards the camera)
RENDER_CHUNK = 8  # volumes rendered at once (the ray samples are (chunk, 2 * VIEW_SIZE, VIEW_SIZE, VIEW_SIZE, 3))


def check_voxels(volumes: Tensor, what: str = "voxels") -> Tensor:
    """``volumes`` as float (N, 1, S, S, S), or a ConfigError naming the shape it has."""
    if volumes.dim() != 5 or volumes.shape[1] != 1 or len(set(volumes.shape[2:])) != 1:
        raise ConfigError(f"{what}: voxel samples are (N, 1, S, S, S) occupancy grids (a run on a voxel data set such "
                          f"as shapes3d or modelnet10); got shape {tuple(volumes.shape)}")
    return volumes.float()


def camera(elevation: float, azimuth: float) -> tuple[Tensor, Tensor, Tensor]:
    """(right, up, forward) unit vectors in world (x, y, z) coordinates of a camera looking at the origin."""
    el, az = math.radians(elevation), math.radians(azimuth)
    back = torch.tensor([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])  # towards camera
    forward = -back
    right = torch.linalg.cross(forward, torch.tensor([0.0, 0.0, 1.0]))
    right = right / right.norm()
    return right, torch.linalg.cross(right, forward), forward


def _ray_grid(size: int, elevation: float, azimuth: float) -> tuple[Tensor, Tensor]:
    """grid_sample coordinates of every ray sample (K, size, size, 3), and each sample's depth (K,)."""
    right, up, forward = camera(elevation, azimuth)
    pixel = torch.linspace(-VIEW_REACH, VIEW_REACH, size)
    depth = torch.linspace(-math.sqrt(3), math.sqrt(3), 2 * size)  # the cube [-1, 1]^3 lies between these
    world = (pixel[None, None, :, None] * right + (-pixel)[None, :, None, None] * up
             + depth[:, None, None, None] * forward)  # (K, rows, cols, 3): world (x, y, z)
    return world.flip(-1), depth  # grid_sample reads (W, H, D) = (z, y, x) of a volume indexed [x, y, z]


@torch.no_grad()
def render_voxels(volumes: Tensor, size: int = VIEW_SIZE, *, elevation: float = 30.0,
                  azimuth: float = 45.0) -> Tensor:
    """(N, 1, S, S, S) voxels in [-1, 1] -> (N, 3, size, size) shaded views in [-1, 1] on white."""
    volumes = check_voxels(volumes).cpu()
    grid, depth = _ray_grid(size, elevation, azimuth)
    views = []
    for chunk in volumes.split(RENDER_CHUNK):
        occupancy = (chunk.clamp(-1, 1) + 1) / 2  # outside the grid reads 0: empty
        samples = F.grid_sample(occupancy, grid.expand(len(chunk), -1, -1, -1, -1), align_corners=False)
        views.append(_shade(samples[:, 0] > 0.5, depth))  # (B, K, size, size) hits
    return torch.cat(views)


def _shade(hits: Tensor, depth: Tensor) -> Tensor:
    """Hits along each ray (B, K, H, W) -> a shaded picture (B, 3, H, W) in [-1, 1]: white where no ray hits."""
    seen = hits.any(dim=1)  # (B, H, W)
    first = hits.float().argmax(dim=1)  # the first sample inside the shape
    z = depth[first]  # (B, H, W), larger is farther
    pixel = 2 * VIEW_REACH / (hits.shape[-1] - 1)  # one pixel's width in world units (see _ray_grid)
    z_filled = torch.where(seen, z, z.new_tensor(float(depth[-1])))
    dz_dy, dz_dx = torch.gradient(z_filled, dim=(1, 2))  # rows go down the picture, columns right
    normal = torch.stack([dz_dx / pixel, -dz_dy / pixel, torch.ones_like(z)], dim=1)  # camera (right, up, back)
    normal = normal / normal.norm(dim=1, keepdim=True)
    light = torch.tensor(LIGHT) / torch.tensor(LIGHT).norm()
    lambert = (normal * light[None, :, None, None]).sum(dim=1).clamp(min=0)  # (B, H, W)
    fog = 1 - 0.35 * (z - float(depth[0])) / float(depth[-1] - depth[0])
    brightness = (0.45 + 0.55 * lambert) * fog
    colour = brightness[:, None] * torch.tensor(SHAPE_COLOUR)[None, :, None, None]  # (B, 3, H, W) in [0, 1]
    picture = torch.where(seen[:, None], colour, torch.ones_like(colour))
    return picture.mul(2).sub(1)


# ---------------------------------------------------------------- meshes

def mesh(volume: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 0.5 surface of one (S, S, S) occupancy grid in [0, 1]: vertices (V, 3) in [-1, 1]^3, triangles (T, 3).
    An empty (or full) grid has no surface: (0, 3) arrays. The grid is padded so every surface closes."""
    padded = np.pad(volume.astype(np.float32), 1)
    if padded.max() <= 0.5:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    from skimage.measure import marching_cubes

    vertices, faces, _, _ = marching_cubes(padded, level=0.5)
    size = volume.shape[0]
    return (vertices - 1 + 0.5) / size * 2 - 1, faces.astype(np.int64)


def obj_text(meshes: list[tuple[np.ndarray, np.ndarray]], offsets: list[np.ndarray]) -> str:
    """Wavefront OBJ text of several meshes, one object ``shape_<i>`` each, moved by its offset."""
    lines, base = ["# gankit 3D-GAN samples: marching cubes of the voxel occupancy at 0.5"], 1
    for i, ((vertices, faces), offset) in enumerate(zip(meshes, offsets)):
        lines.append(f"o shape_{i}")
        if len(faces) == 0:
            lines.append("# empty: no occupied voxel")
        lines += [f"v {x:.5f} {y:.5f} {z:.5f}" for x, y, z in vertices + offset]
        lines += [f"f {a + base} {b + base} {c + base}" for a, b, c in faces]
        base += len(vertices)
    return "\n".join(lines) + "\n"


def write_meshes(volumes: Tensor, out: Path) -> list[Path]:
    """Voxel samples (N, 1, S, S, S) in [-1, 1] as meshes: ``out`` ending in .obj gets all of them side by side on
    a grid (2.5 units apart), any other ``out`` is a folder of shape_000.obj, shape_001.obj, ... Written atomically."""
    occupancy = (check_voxels(volumes, "--out .obj / DIR").clamp(-1, 1).cpu().numpy()[:, 0] + 1) / 2
    meshes = [mesh(volume) for volume in occupancy]
    if out.suffix.lower() == ".obj":
        columns = max(1, math.ceil(math.sqrt(len(meshes))))
        offsets = [np.array([2.5 * (i % columns), -2.5 * (i // columns), 0.0]) for i in range(len(meshes))]
        _write_text(out, obj_text(meshes, offsets))
        return [out]
    paths = [out / f"shape_{i:03d}.obj" for i in range(len(meshes))]
    for path, one in zip(paths, meshes):
        _write_text(path, obj_text([one], [np.zeros(3)]))
    return paths


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, path)
