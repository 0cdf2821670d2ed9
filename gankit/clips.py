"""Animated grids of video clips: GIF (Pillow, through imageio) and MP4 (imageio-ffmpeg, H.264)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from torch import Tensor

from gankit.errors import ConfigError

ANIMATIONS = (".gif", ".mp4")
FPS = 8


def clip_grid_frames(clips: Tensor, nrow: int | None = None) -> np.ndarray:
    """(N, T, C, H, W) clips in [-1, 1] -> (T, H', W', 3) uint8: frame t of every clip in one grid, for each t."""
    from gankit.viz import to_grid

    if clips.dim() != 5:
        raise ConfigError(f"an animation needs clips (N, T, C, H, W); got shape {tuple(clips.shape)}")
    nrow = nrow or max(math.ceil(math.sqrt(len(clips))), 1)
    frames = [to_grid(clips[:, t], nrow).permute(1, 2, 0).numpy() for t in range(clips.shape[1])]
    return np.stack(frames)


def _even(frames: np.ndarray) -> np.ndarray:
    """Pad height and width to even sizes (H.264's 4:2:0 chroma needs them)."""
    _, h, w, _ = frames.shape
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))


def write_clips(clips: Tensor, out: Path, *, fps: int = FPS) -> None:
    """Write ``clips`` as one animated grid to ``out`` (.gif or .mp4), atomically (a temporary file, then rename)."""
    import imageio.v2 as imageio

    suffix = out.suffix.lower()
    if suffix not in ANIMATIONS:
        raise ConfigError(f"--out {out}: an animation is written as {' or '.join(ANIMATIONS)}; got {suffix or 'no suffix'!r}")
    frames = clip_grid_frames(clips.detach().float().cpu())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{suffix}")
    if suffix == ".gif":
        imageio.mimwrite(tmp, list(frames), format="GIF", duration=1000 / fps, loop=0)
    else:
        imageio.mimwrite(tmp, list(_even(frames)), format="FFMPEG", fps=fps, codec="libx264", quality=8,
                         macro_block_size=1)
    os.replace(tmp, out)


__all__ = ["write_clips", "clip_grid_frames", "ANIMATIONS", "FPS"]
