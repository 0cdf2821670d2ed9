"""Continuous sequences (N, T, F): the built-in ``sines`` mixtures and sequences read from an .npz archive.

Values are used as they are: nothing is rescaled or clipped, and the sequence generators (``model.arch=crnn``)
end in a linear layer, not a tanh, so any scale can be learnt. The networks' default initialisation suits values
of about unit scale; standardise data of another scale (per feature, with the training split's mean and std)
before saving it.

- ``sines``: mixtures of 1 to 3 sines over T = 32 steps, one feature. The first ("dominant") component has
  amplitude in [0.6, 1.0], frequency in [1, 9) cycles per sequence and a random phase; the others amplitude in
  [0.1, 0.3] and any frequency in [1, 9). Every value lies in [-1.6, 1.6]. Label = the dominant frequency's
  band, 4 classes of 2 cycles each. 4,000 train and 1,000 test sequences drawn from a fixed seed (not ``seed``),
  so the split never moves; 'all' is train then test.
- An .npz archive with float x arrays, (N, T, F) (``x_train``[, ``y_train``, ``x_test``, ``y_test``]), loads as
  kind "sequence" (uint8 x arrays stay images; see ``npz.py``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gankit.data.dataset import Dataset, labels_tensor
from gankit.errors import DataError

SINES_LENGTH = 32  # steps per sequence
SINES_TRAIN, SINES_TEST = 4000, 1000
SINES_SEED = 0  # fixed, independent of ``seed``: the train/test split must never move
SINES_BANDS = ((1.0, 3.0), (3.0, 5.0), (5.0, 7.0), (7.0, 9.0))  # cycles per sequence of the dominant sine, by class
SINES_NAMES = tuple(f"{int(lo)}-{int(hi)} cycles" for lo, hi in SINES_BANDS)
DOMINANT_AMPLITUDE = (0.6, 1.0)
MINOR_AMPLITUDE = (0.1, 0.3)
MAX_COMPONENTS = 3


def make_sines(count: int, *, length: int = SINES_LENGTH, features: int = 1,
               seed: int = SINES_SEED) -> tuple[np.ndarray, np.ndarray]:
    """``count`` mixtures of sines, (count, length, features) float32, and their classes (count,) int64.

    Each feature is its own mixture of 1..3 sines whose dominant component lies in the sample's class band, so
    the class is shared by the features. x_t = sum_k a_k sin(2 pi f_k t / length + phi_k), t = 0..length-1.
    """
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, len(SINES_BANDS), size=count)  # (N,)
    bands = np.asarray(SINES_BANDS)[classes]  # (N, 2)
    shape = (count, features, MAX_COMPONENTS)
    freq = rng.uniform(SINES_BANDS[0][0], SINES_BANDS[-1][1], size=shape)
    freq[..., 0] = rng.uniform(bands[:, :1], bands[:, 1:], size=(count, features))  # the dominant sine's band
    amplitude = rng.uniform(*MINOR_AMPLITUDE, size=shape)
    amplitude[..., 0] = rng.uniform(*DOMINANT_AMPLITUDE, size=(count, features))
    components = rng.integers(1, MAX_COMPONENTS + 1, size=(count, features, 1))
    amplitude *= np.arange(MAX_COMPONENTS) < components  # only the first ``components`` sines sound
    phase = rng.uniform(0.0, 2 * np.pi, size=shape)
    t = np.arange(length)[:, None, None, None]  # (T, 1, 1, 1)
    waves = amplitude * np.sin(2 * np.pi * freq * t / length + phase)  # (T, N, F, K)
    x = waves.sum(axis=-1).transpose(1, 0, 2)  # (N, T, F)
    return x.astype(np.float32), classes.astype(np.int64)


def sines(*, split: str) -> Dataset:
    """The ``sines`` data set's ``split`` (see the module docstring)."""
    x, y = make_sines(SINES_TRAIN + SINES_TEST)
    keep = {"train": slice(0, SINES_TRAIN), "test": slice(SINES_TRAIN, None), "all": slice(None)}[split]
    return Dataset(name="sines", x=torch.from_numpy(x[keep]), y=labels_tensor(y[keep]), num_classes=len(SINES_BANDS),
                   kind="sequence", class_names=list(SINES_NAMES))


def is_sequence_array(x: np.ndarray) -> bool:
    """Float x arrays in an .npz hold continuous sequences; uint8 ones hold images."""
    return x.dtype.kind == "f"


def check_sequences(arrays: list[np.ndarray], parts: list[str], path: Path) -> None:
    """DataError naming the file, the array and the fix unless every array is finite float (N, T >= 2, F)."""
    fix = "save float arrays of shape (N, T, F) with numpy.savez (uint8 (N, H, W[, 3]) pixels for images)"
    for part, x in zip(parts, arrays):
        if not is_sequence_array(x):
            raise DataError(f"{path}: x_{part} is {x.dtype}, but another x array is float (sequences); {fix}")
        if x.ndim != 3:
            hint = " (one feature: add a last axis, x[..., None])" if x.ndim == 2 else ""
            raise DataError(f"{path}: x_{part} has shape {x.shape}; float x arrays are continuous sequences and "
                            f"must be 3-D (N, T, F){hint}; {fix}")
        if x.shape[1] < 2:
            raise DataError(f"{path}: x_{part} has shape {x.shape}: T={x.shape[1]} steps, but a sequence needs at "
                            "least 2 (axis 1 is time: (N, T, F))")
        if not np.isfinite(x).all():
            bad = int((~np.isfinite(x)).any(axis=(1, 2)).sum())
            raise DataError(f"{path}: x_{part} has NaN or infinite values in {bad} sequence(s); remove or fill them")
    if len({x.shape[1:] for x in arrays}) > 1:
        shapes = ", ".join(f"x_{part} {x.shape}" for part, x in zip(parts, arrays))
        raise DataError(f"{path}: the splits' sequences differ in (T, F): {shapes}; every split needs the same")


def sequence_dataset(arrays: list[np.ndarray], labels: np.ndarray | None, num_classes: int, *, path: Path,
                     parts: list[str], name: str) -> Dataset:
    """The float (N, T, F) x arrays of ``parts`` (checked) and their labels as one kind-"sequence" Dataset."""
    check_sequences(arrays, parts, path)
    x = torch.from_numpy(np.concatenate(arrays).astype(np.float32))  # (N, T, F)
    if labels is not None and len(labels) != len(x):
        raise DataError(f"{path}: {len(labels)} labels for {len(x)} sequences in {'+'.join(parts)}")
    return Dataset(name=name, x=x, y=labels_tensor(labels), num_classes=num_classes, kind="sequence")
