"""Video data (kind "video": x is (N, T, C, H, W) in [-1, 1]): Moving MNIST built from MNIST, and folders of videos.

Rules worth knowing:
- ``moving-mnist`` (Srivastava et al. 2015's construction): each clip holds ``data.digits`` MNIST digits (1 or 2),
  each scaled to 28/64 of the frame (14 px in a 32 px frame, 28 px in a 64 px one, as in the original 64 px set),
  starting at a random place with a random direction at 0.1 x (frame - digit) pixels a frame, bouncing off the
  edges; two digits overlap by their maximum. Frames ``data.frames`` (default 16), size ``data.image_size``
  (default 32). Train: 10,000 clips of MNIST's training digits; test: 1,000 clips of its test digits; the clips
  of a split come from a fixed seed (not ``seed``). Label: the digit (one digit), or 10 a + b (two digits).
- A folder of videos (.gif .mp4 .avi .mov .webm .mkv, read with imageio / imageio-ffmpeg), or, when
  ``data.frames`` is set, a folder of frame folders (each sub-folder one video, its images in name order; without
  ``data.frames`` such a folder is an image folder with class sub-folders). Each video is cut into consecutive
  clips of ``data.frames`` frames (default 16); a shorter video is an error. The frames of one video must share
  one size; videos of different sizes need ``data.image_size``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from gankit.data.dataset import Dataset, convert_channels, pixels_to_tensor, resize_tensor
from gankit.errors import DataError

VIDEO_SUFFIXES = (".gif", ".mp4", ".avi", ".mov", ".webm", ".mkv")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
DEFAULT_FRAMES = 16
MOVING_MNIST_SIZE = 32  # the natural frame size here (the original set: 64; the GPU profile uses it)
MOVING_MNIST_CLIPS = {"train": 10_000, "test": 1_000}
MOVING_MNIST_SEED = 0  # fixed, independent of ``seed``: the clips of a split never move
DIGIT_SCALE = 28 / 64  # digit size / frame size of the original Moving MNIST
SPEED = 0.1  # pixels a frame, as a fraction of the room a digit has to move in (the original's step length)


@dataclass(frozen=True)
class VideoOptions:
    """The ``data.*`` keys of video data sets: frames per clip, digits per clip (Moving MNIST)."""

    frames: int | None = None  # null: 16
    digits: int = 1

    def __post_init__(self) -> None:
        if self.frames is not None and (not isinstance(self.frames, int) or self.frames < 2):
            raise DataError(f"data.frames={self.frames!r}: a clip needs an int >= 2 frames (or null for 16)")
        if self.digits not in (1, 2):
            raise DataError(f"data.digits={self.digits!r}: Moving MNIST clips hold 1 or 2 digits")

    @property
    def length(self) -> int:
        """Frames per clip."""
        return self.frames if self.frames is not None else DEFAULT_FRAMES


def digit_size(frame_size: int) -> int:
    """The side of a Moving MNIST digit in a frame of ``frame_size`` px (28 in 64, 14 in 32)."""
    return max(4, round(frame_size * DIGIT_SCALE))


def bounce(start: np.ndarray, velocity: np.ndarray, frames: int, room: int) -> np.ndarray:
    """(N, 2) start corners and velocities -> (N, frames, 2) integer corners bouncing inside [0, room]."""
    steps = start[:, None] + velocity[:, None] * np.arange(frames)[None, :, None]  # unfolded straight lines
    period = 2 * room if room > 0 else 1
    folded = np.mod(steps, period)
    return np.rint(np.where(folded > room, period - folded, folded)).astype(np.int64)  # reflect at the walls


def render(digits: np.ndarray, corners: np.ndarray, frame_size: int) -> np.ndarray:
    """digits (N, K, s, s) uint8, corners (N, K, T, 2) -> clips (N, T, frame_size, frame_size) uint8 (max overlay)."""
    n, k, s, _ = digits.shape
    frames = corners.shape[2]
    clips = np.zeros((n, frames, frame_size, frame_size), dtype=np.uint8)
    for i in range(n):
        for j in range(k):
            for t in range(frames):
                top, left = corners[i, j, t]
                window = clips[i, t, top:top + s, left:left + s]
                np.maximum(window, digits[i, j], out=window)
    return clips


def moving_mnist(mnist: Dataset, *, split: str, frame_size: int, options: VideoOptions, limit: int | None,
                 seed: int) -> Dataset:
    """Moving MNIST clips (N, T, 1, S, S) from one MNIST split (see the module's rules)."""
    count, k, frames = MOVING_MNIST_CLIPS["test" if split == "test" else "train"], options.digits, options.length
    if split == "all":
        count += MOVING_MNIST_CLIPS["test"]
    size = digit_size(frame_size)
    room = frame_size - size
    rng = np.random.default_rng([MOVING_MNIST_SEED, ("train", "test", "all").index(split), k, frames, frame_size])
    picks = rng.integers(0, len(mnist), size=(count, k))  # which digits
    start = rng.uniform(0, room, size=(count, k, 2))
    angle = rng.uniform(0, 2 * np.pi, size=(count, k))
    velocity = SPEED * room * np.stack([np.sin(angle), np.cos(angle)], axis=-1)  # (count, k, 2) px a frame
    keep = np.arange(count)
    if limit is not None and limit < count:
        keep = np.sort(np.random.default_rng(seed).permutation(count)[:limit])
    small = resize_tensor(mnist.x[torch.from_numpy(picks[keep].reshape(-1))], size)  # (n k, 1, s, s) in [-1, 1]
    digits = ((small[:, 0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy().reshape(len(keep), k, size, size)
    corners = bounce(start[keep].reshape(-1, 2), velocity[keep].reshape(-1, 2), frames, room)
    clips = render(digits, corners.reshape(len(keep), k, frames, 2), frame_size)  # (n, T, S, S)
    labels = mnist.y[torch.from_numpy(picks[keep])]  # (n, k)
    y = labels[:, 0] if k == 1 else labels[:, 0] * 10 + labels[:, 1]
    names = [str(d) for d in range(10)] if k == 1 else [f"{a}{b}" for a in range(10) for b in range(10)]
    x = pixels_to_tensor(clips.reshape(-1, frame_size, frame_size)).view(len(keep), frames, 1, frame_size, frame_size)
    return Dataset(name="moving-mnist", x=x, y=y, num_classes=len(names), kind="video", class_names=names)


def is_video_folder(path: Path, options: VideoOptions | None) -> bool:
    """A folder holding video files, or (with data.frames set) sub-folders of frames."""
    if not path.is_dir():
        return False
    if any(f.suffix.lower() in VIDEO_SUFFIXES for f in path.iterdir() if f.is_file()):
        return True
    return options is not None and options.frames is not None and any(p.is_dir() for p in path.iterdir())


def read_video(path: Path) -> np.ndarray:
    """One video file or frame folder -> (T, H, W, 3) uint8; DataError when its frames differ in size."""
    import imageio.v3 as iio

    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.suffix.lower() in FRAME_SUFFIXES)
        frames = [np.asarray(iio.imread(f)) for f in files]
        where = [f.name for f in files]
    else:
        try:
            frames = list(iio.imiter(path))
        except Exception as err:  # noqa: BLE001 - any decoder failure has one fix
            raise DataError(f"video {path} could not be read ({type(err).__name__}: {err}); convert it to .mp4 or "
                            ".gif, or give a folder of its frames") from None
        where = [f"frame {i}" for i in range(len(frames))]
    if not frames:
        raise DataError(f"video {path} holds no frames ({', '.join(FRAME_SUFFIXES)} images or a readable video)")
    rgb = [_to_rgb(f) for f in frames]
    sizes = {f.shape[:2] for f in rgb}
    if len(sizes) > 1:
        first = rgb[0].shape[:2]
        odd = next(i for i, f in enumerate(rgb) if f.shape[:2] != first)
        raise DataError(f"video {path} has frames of inconsistent sizes: {where[0]} is {first[1]}x{first[0]}, "
                        f"{where[odd]} is {rgb[odd].shape[1]}x{rgb[odd].shape[0]} (width x height); every frame of "
                        "a video must have one size: re-export the video or resize its frames")
    return np.stack(rgb)


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    """A decoded frame (H, W), (H, W, 3) or (H, W, 4) -> (H, W, 3) uint8."""
    frame = frame[..., None].repeat(3, axis=-1) if frame.ndim == 2 else frame[..., :3]
    return frame.astype(np.uint8)


def read_video_folder(folder: Path, *, name: str, image_size: int | None, options: VideoOptions) -> Dataset:
    """Every video of ``folder`` cut into clips of ``options.length`` frames, (N, T, C, H, W) in [-1, 1]."""
    entries = sorted(p for p in folder.iterdir()
                     if (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES) or (p.is_dir() and options.frames))
    clips, sizes, gray = [], {}, True
    for entry in entries:
        video = read_video(entry)  # (T, H, W, 3)
        if len(video) < options.length:
            raise DataError(f"video {entry} has {len(video)} frames, fewer than data.frames={options.length}; "
                            "use a smaller data.frames or drop the video")
        sizes[entry.name] = video.shape[1:3]
        gray = gray and bool((video[..., :1] == video).all())
        frames = torch.from_numpy(video).permute(0, 3, 1, 2).float().div(127.5).sub(1)  # (T, 3, H, W)
        if image_size is not None:
            frames = resize_tensor(frames, image_size)
        whole = len(video) // options.length * options.length
        clips.append(frames[:whole].view(-1, options.length, *frames.shape[1:]))  # (clips, T, 3, H, W)
    if not clips:
        raise DataError(f"video folder {folder} holds no videos ({', '.join(VIDEO_SUFFIXES)}, or frame folders "
                        "with data.frames set)")
    if image_size is None and len(set(sizes.values())) > 1:
        listed = ", ".join(f"{n}: {w}x{h}" for n, (h, w) in list(sizes.items())[:4])
        raise DataError(f"the videos in {folder} have frames of different sizes ({listed}, width x height); set "
                        "data.image_size to bring every frame to one square size")
    x = torch.cat(clips)
    return Dataset(name=name, x=x[:, :, :1].contiguous() if gray else x, y=None, num_classes=0, kind="video")


def fit_frames(data: Dataset, image_size: int | None, channels: int | None) -> Dataset:
    """Each frame of every clip centre-cropped to square and resized to ``image_size``, converted to ``channels``
    (None: kept as they are)."""
    n, frames = data.x.shape[:2]
    flat = replace(data, x=data.x.flatten(0, 1), y=None, kind="image")  # (N T, C, H, W): the image transforms
    if image_size is not None:
        flat = replace(flat, x=resize_tensor(flat.x, image_size))
    if channels is not None:
        flat = convert_channels(flat, channels)
    return replace(data, x=flat.x.reshape(n, frames, *flat.x.shape[1:]))


def check_video(x: torch.Tensor, where: str) -> None:
    """DataError unless ``x`` is (N, T, C, H, W) clips."""
    if x.dim() != 5:
        raise DataError(f"{where}: video data must be (N, T, C, H, W) clips, got shape {tuple(x.shape)}")


__all__ = ["VideoOptions", "moving_mnist", "read_video_folder", "read_video", "is_video_folder", "fit_frames",
           "digit_size", "bounce", "check_video", "DEFAULT_FRAMES", "MOVING_MNIST_SIZE"]
