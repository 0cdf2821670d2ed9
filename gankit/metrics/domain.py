"""Domain evaluators: a small CNN classifier trained on a labelled data set, used offline as a feature network.

Where no Inception weights can be had (or for data Inception knows nothing of, such as 8x8
digits), FID / KID / IS / precision-recall and the class, code and stacked-MNIST accuracies
are computed on one of these instead. Their scores are *not* comparable with papers'
Inception numbers; they are comparable with each other when ``protocol()`` (which names the
cache file's sha256) is the same.

- ``train_evaluator("mnist")`` trains on the train split, measures accuracy on the test split
  (or on a held-out 10% of train when the data set has none) and caches the network with its
  metadata in ``<cache>/<data>-<size>px-<channels>ch.pt``, where <cache> is ``cache_dir``, else
  ``$GANKIT_CACHE/evaluators``, else ``~/.cache/gankit/evaluators``.
- ``load_evaluator("mnist")`` reads it back and refuses a cache whose training data no longer
  matches the data set on disk (a sha256 fingerprint of the train tensors).
- A labelled continuous-sequence data set (N, T, F), such as ``sines``, gets a 1D CNN over time
  (``SequenceNet``) instead, cached as ``<data>-<T>steps-<F>f.pt``; it takes sequences of its own T and F only.
- A labelled voxel data set (N, C, S, S, S), such as ``shapes3d``, gets a 3D CNN (``VoxelNet``), cached as
  ``<data>-<S>vox-<C>ch.pt``; it takes grids of its own S and C only.
"""
from __future__ import annotations

import hashlib
import math
import os
import pickle
import re
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.data import Dataset, load_dataset
from gankit.data.datasets import DATASETS
from gankit.errors import DataError, GankitError
from gankit.metrics.extractor import FeatureExtractor, fit_images, sha256_file
from gankit.metrics.stats import MetricInputError

FORMAT = "gankit.domain_evaluator"
FORMAT_VERSION = 1
CACHE_ENV = "GANKIT_CACHE"
FEATURE_DIM = 128
MAX_WIDTH = 128
BATCH_SIZE = 64
LEARNING_RATE = 3e-3
TARGET_STEPS = 3750  # default epochs = this many optimiser steps, rounded up to whole epochs (MNIST: 4)
SEQUENCE_TARGET_STEPS = 1000  # the same for sequences: sines, 16 epochs: 99.3% test accuracy in 4 s of one thread
VOXEL_TARGET_STEPS = 600  # and for voxels: shapes3d (16^3), 10 epochs
MAX_EPOCHS = 60
HELD_OUT_FRACTION = 0.1
HEAD_DROPOUT = 0.2
AUGMENT_MIN_EPOCHS = 8  # random shifts only for long runs over small data sets (see _fit)
TRAIN_COMMAND = "gankit evaluator train {data}"
# data sets whose images and labels are another's (captions added): scored by that data set's evaluator
SAME_IMAGES = {"mnist-captions": "mnist", "fashion-mnist-captions": "fashion-mnist"}


class EvaluatorError(GankitError):
    """A domain evaluator is missing, stale or unreadable, or cannot be trained on this data."""


# ---------------------------------------------------------------- the network

def block_count(image_size: int) -> int:
    """Stride-2 blocks until the map is at most 7 pixels wide (8 -> 1, 28 -> 2, 32 -> 3, 64 -> 4)."""
    blocks, size = 0, image_size
    while size > 7 and blocks < 4:
        size, blocks = math.ceil(size / 2), blocks + 1
    return max(blocks, 1)


class DomainNet(nn.Module):
    """Stride-2 conv blocks (5x5 conv + BN + ReLU; 32, 64, 128.. channels) -> FC feature_dim -> classes.

    Stride-2 convolutions instead of convolution + max-pool: on a CPU the full-resolution feature
    maps cost more than the arithmetic. On MNIST: 99.3% test accuracy after 4 epochs, about 65 s on
    two CPU threads.
    """

    conv, norm, spatial_dims, kernel = nn.Conv2d, nn.BatchNorm2d, 2, 5  # SequenceNet, VoxelNet: the plan in 1D, 3D

    def __init__(self, *, channels: int, image_size: int, num_classes: int, feature_dim: int = FEATURE_DIM) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in, size = channels, image_size
        for i in range(block_count(image_size)):
            width = min(32 * 2 ** i, MAX_WIDTH)
            layers += [self.conv(width_in, width, self.kernel, stride=2, padding=self.kernel // 2, bias=False), self.norm(width),
                       nn.ReLU(inplace=True)]  # (N, width, ceil(size / 2), ceil(size / 2))
            width_in, size = width, math.ceil(size / 2)
        self.trunk = nn.Sequential(*layers, nn.Flatten())  # (N, width * size * size)
        self.fc = nn.Linear(width_in * size ** self.spatial_dims, feature_dim)
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(HEAD_DROPOUT), nn.Linear(feature_dim, num_classes))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        # Features are the penultimate layer before its ReLU: no dead coordinates, full-rank covariances for FID.
        features = self.fc(self.trunk(x))  # (N, feature_dim)
        return features, self.head(features)  # (N, num_classes)


class SequenceNet(DomainNet):
    """DomainNet's plan over time for sequences (N, T, F): stride-2 blocks (5-tap conv1d + BN + ReLU; 32, 64, 128..
    channels) until at most 7 steps are left -> FC feature_dim -> classes. ``channels`` = F, ``image_size`` = T.
    On sines: 99.3% test accuracy after 16 epochs, about 4 s on one CPU thread."""

    conv, norm, spatial_dims = nn.Conv1d, nn.BatchNorm1d, 1

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.fc(self.trunk(x.transpose(1, 2)))  # (N, T, F) -> (N, F, T) -> (N, feature_dim)
        return features, self.head(features)  # (N, num_classes)


class VoxelNet(DomainNet):
    """DomainNet's plan in 3D for voxel grids (N, C, S, S, S) (3D-GAN's shapes): stride-2 blocks (3x3x3 conv3d + BN +
    ReLU; 32, 64, 128 channels; 3 taps, as 5^3 would cost five times more) until at most 7 voxels a side -> FC
    feature_dim -> classes. ``channels`` = C, ``image_size`` = S."""

    conv, norm, spatial_dims, kernel = nn.Conv3d, nn.BatchNorm3d, 3, 3


NETWORKS = {"image": DomainNet, "sequence": SequenceNet, "voxel": VoxelNet}  # the evaluator's network by data kind


class DomainEvaluator(FeatureExtractor):
    """A ``DomainNet`` trained on data set ``data``; any (N, C, H, W) input in [-1, 1] is first brought to the
    evaluator's own channels (grey repeated / RGB averaged) and size (bilinear). A sequence data set's (``kind``
    "sequence") is a ``SequenceNet`` and takes (N, T, F) sequences of its own T and F as they are."""

    def __init__(self, data: str, *, channels: int, image_size: int, num_classes: int,
                 feature_dim: int = FEATURE_DIM, info: dict[str, Any] | None = None, path: Path | None = None,
                 kind: str = "image") -> None:
        super().__init__()
        self.name = f"domain:{data}"
        self.data = data
        self.kind = kind  # "image", or "sequence": then channels = F and image_size = T
        self.channels, self.image_size = channels, image_size
        self.num_classes, self.feature_dim = num_classes, feature_dim
        self.net = NETWORKS[kind](channels=channels, image_size=image_size, num_classes=num_classes,
                                  feature_dim=feature_dim)
        self.info: dict[str, Any] = dict(info or {})
        self.path = path
        self.weights_sha256 = ""
        self.from_cache = False  # True when train_evaluator found an up-to-date cache and did not train
        self.resize = "none"  # updated by forward: how the last inputs were brought to the network's shape

    def prepare(self, images: Tensor) -> Tensor:
        """(N, C, H, W) images -> (N, channels, image_size, image_size) float32, recording the conversion."""
        if self.kind == "sequence":
            return self._sequences(images)
        if self.kind == "voxel":
            return self._voxels(images)
        if images.dim() != 4:
            raise MetricInputError(f"{self.name}: images must be (N, C, H, W), got shape {tuple(images.shape)}")
        steps = []
        if images.shape[1] != self.channels:
            steps.append(f"{images.shape[1]} -> {self.channels} channels")
        if tuple(images.shape[-2:]) != (self.image_size, self.image_size):
            steps.append(f"bilinear to {self.image_size}x{self.image_size}")
        self.resize = ", ".join(steps) or "none"
        return fit_images(images, channels=self.channels, size=self.image_size)

    def _sequences(self, x: Tensor) -> Tensor:
        """(N, T, F) sequences of the evaluator's own T and F as float32; nothing is resampled."""
        if x.dim() != 3 or tuple(x.shape[1:]) != (self.image_size, self.channels):
            raise MetricInputError(f"{self.name} reads sequences (N, T={self.image_size}, F={self.channels}), got "
                                   f"shape {tuple(x.shape)}; use the evaluator of a data set with these sequences")
        self.resize = "none"
        return x.float()

    def _voxels(self, x: Tensor) -> Tensor:
        """(N, C, S, S, S) voxel grids of the evaluator's own C and S as float32; nothing is resampled."""
        want = (self.channels, *(self.image_size,) * 3)
        if x.dim() != 5 or tuple(x.shape[1:]) != want:
            raise MetricInputError(f"{self.name} reads voxel grids (N, {', '.join(map(str, want))}), got shape "
                                   f"{tuple(x.shape)}; use the evaluator of a data set with grids of this size")
        self.resize = "none"
        return x.float()

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features, logits = self.net(self.prepare(images))
        return features.float(), logits.float()

    def protocol(self) -> dict[str, Any]:
        p = super().protocol()
        p.update(evaluator_test_accuracy=self.info.get("test_accuracy"),
                 evaluator_fingerprint=self.info.get("fingerprint"))
        return p


# ---------------------------------------------------------------- cache files

def cache_folder(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else $GANKIT_CACHE/evaluators, else ~/.cache/gankit/evaluators (read at call time)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser() / "evaluators"
    return Path.home() / ".cache" / "gankit" / "evaluators"


def cache_stem(data: str) -> str:
    """A file-name-safe key: the registered name, or a path's stem plus a hash of its absolute path."""
    if data in DATASETS:
        return data
    path = Path(data).expanduser().resolve()
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', path.stem or 'data')}-{digest}"


def cache_path(data: str, image_size: int, channels: int, cache_dir: str | Path | None = None,
               kind: str = "image") -> Path:
    """Where the evaluator for (data, image size, channels) lives, e.g. ``mnist-28px-1ch.pt``; sequences (T steps,
    F features): ``sines-32steps-1f.pt``."""
    shape = {"sequence": f"{image_size}steps-{channels}f", "voxel": f"{image_size}vox-{channels}ch"}.get(
        kind, f"{image_size}px-{channels}ch")
    return cache_folder(cache_dir) / f"{cache_stem(data)}-{shape}.pt"


def fingerprint(data: Dataset) -> str:
    """sha256 of the train tensors (shape, float32 pixels, int64 labels): changes when the data set does."""
    h = hashlib.sha256()
    x = np.ascontiguousarray(data.x.detach().cpu().to(torch.float32).numpy())
    y = np.ascontiguousarray(data.y.detach().cpu().to(torch.int64).numpy())
    h.update(repr((tuple(x.shape), tuple(y.shape))).encode())
    h.update(memoryview(x).cast("B"))
    h.update(memoryview(y).cast("B"))
    return h.hexdigest()


def _save(evaluator: DomainEvaluator, path: Path) -> None:
    """Write atomically (tmp file + os.replace): a crash never leaves a half-written cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": FORMAT, "format_version": FORMAT_VERSION,
             "arch": {"channels": evaluator.channels, "image_size": evaluator.image_size, "kind": evaluator.kind,
                      "num_classes": evaluator.num_classes, "feature_dim": evaluator.feature_dim},
             "state_dict": {k: v.detach().cpu() for k, v in evaluator.net.state_dict().items()},
             "info": evaluator.info}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _corrupt(path: Path, why: str, data: str) -> EvaluatorError:
    return EvaluatorError(f"evaluator cache {path} is unreadable ({why}); delete it or retrain with "
                          f"`{TRAIN_COMMAND.format(data=data)} --force`")


def read_evaluator(path: Path, *, data: str, device: str | torch.device = "cpu") -> DomainEvaluator:
    """A cached evaluator file -> DomainEvaluator in eval mode on ``device`` (no fingerprint check)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - truncated zip, not a torch file, I/O error: one fix for all
        if isinstance(err, pickle.UnpicklingError):  # torch words every refusal as "Weights only load failed"
            why = "torch.load(weights_only=True) refused it: not a torch file of tensors and plain values"
        else:
            first_line = (str(err).strip().splitlines() or [""])[0][:160]
            why = f"{type(err).__name__}: {first_line}" if first_line else f"{type(err).__name__}, e.g. an empty file"
        raise _corrupt(path, why, data) from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise _corrupt(path, "not a gankit domain evaluator file", data)
    if state.get("format_version") != FORMAT_VERSION:
        raise _corrupt(path, f"format version {state.get('format_version')!r}, this gankit reads {FORMAT_VERSION}", data)
    try:
        evaluator = DomainEvaluator(data, **state["arch"], info=state["info"], path=path)
        evaluator.net.load_state_dict(state["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise _corrupt(path, f"{type(err).__name__}: {err}", data) from err
    evaluator.weights_sha256 = sha256_file(path)
    return evaluator.to(device).eval()


# ---------------------------------------------------------------- data

def _train_data(data: str, root: str | None) -> Dataset:
    """The labelled train split at its natural size, or an EvaluatorError saying why it cannot be used."""
    train = load_dataset(data, split="train", root=root)
    if train.kind == "points":
        raise EvaluatorError(f"{data!r} is a 2D point data set: its points are their own features, no evaluator "
                             "is needed (modes and FID of points work directly)")
    if train.kind not in NETWORKS:
        raise EvaluatorError(f"{data!r} holds {train.kind} data; domain evaluators are trained for "
                             f"{' and '.join(NETWORKS)} data sets only")
    if train.y is None or train.num_classes < 2:
        raise EvaluatorError(
            f"data set {data!r} has no class labels, and a domain evaluator is a classifier: use a labelled data set "
            "(digits, mnist, fashion-mnist, cifar10, stacked-mnist, an image folder with one sub-folder per class, "
            "or an .npz with y_train), or features=inception")
    return train


def _test_data(data: str, root: str | None, train: Dataset, seed: int) -> tuple[Dataset, Dataset, str]:
    """(train part, test part, description): the test split when there is a labelled one, else 10% held out."""
    try:
        size = {"image_size": train.x.shape[-1], "channels": train.x.shape[1]} if train.kind == "image" else {}
        test = load_dataset(data, split="test", root=root, **size)
    except DataError:
        test = None  # image folders and .npz files without x_test have a single split
    if test is not None and test.y is not None and len(test):
        return train, test, "test split"
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(train)))
    n_held = max(1, round(HELD_OUT_FRACTION * len(train)))
    if len(train) - n_held < 2:
        raise EvaluatorError(f"data set {data!r} has {len(train)} labelled images: too few to train a classifier")
    held, kept = order[:n_held], order[n_held:]
    return (replace(train, x=train.x[kept], y=train.y[kept]), replace(train, x=train.x[held], y=train.y[held]),
            f"held-out {HELD_OUT_FRACTION:.0%} of train (the data set has no test split)")


# ---------------------------------------------------------------- training

def input_shape(data: Dataset) -> tuple[int, int]:
    """(channels, image_size) an evaluator is built for: (C, H) of images (N, C, H, W), (F, T) of sequences."""
    return (data.x.shape[2], data.x.shape[1]) if data.kind == "sequence" else (data.x.shape[1], data.x.shape[-1])


def default_epochs(n_train: int, target_steps: int = TARGET_STEPS) -> int:
    """About ``target_steps`` optimiser steps in whole epochs, 2 to MAX_EPOCHS (MNIST: 4, CIFAR-10 10k: 24, digits: 60)."""
    steps_per_epoch = math.ceil(n_train / BATCH_SIZE)
    return int(min(MAX_EPOCHS, max(2, math.ceil(target_steps / steps_per_epoch))))


def random_shift(x: Tensor, pixels: int, generator: torch.Generator) -> Tensor:
    """Translate each image by up to ``pixels`` in x and y (edges replicated): light augmentation."""
    if pixels < 1:
        return x
    n, _, height, width = x.shape
    padded = F.pad(x, (pixels,) * 4, mode="replicate")
    dy = torch.randint(0, 2 * pixels + 1, (n,), generator=generator, device=generator.device).to(x.device)
    dx = torch.randint(0, 2 * pixels + 1, (n,), generator=generator, device=generator.device).to(x.device)
    rows = dy[:, None] + torch.arange(height, device=x.device)  # (N, H)
    cols = dx[:, None] + torch.arange(width, device=x.device)  # (N, W)
    out = padded[torch.arange(n, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def accuracy(evaluator: DomainEvaluator, data: Dataset, batch_size: int = 500) -> float:
    """Fraction of ``data`` classified as its label."""
    _, logits = evaluator.extract(data.x, batch_size)
    return float((logits.argmax(dim=1) == data.y).double().mean())


def _fit(evaluator: DomainEvaluator, train: Dataset, *, epochs: int, seed: int, device: torch.device,
         progress: bool) -> None:
    """Adam with a one-cycle learning rate and cross-entropy. Random shifts of up to 1/14 of the image size
    only for runs of many epochs over small data sets, which overfit without them (over MNIST's few epochs
    they cost accuracy: 99.04% with, 99.14% without in a 3-epoch trial; 8x8 digits lose 0.3% with them)."""
    from tqdm import tqdm

    x, y = train.x.to(device), train.y.to(device)
    steps_per_epoch = math.ceil(len(x) / BATCH_SIZE)
    optimiser = torch.optim.Adam(evaluator.net.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, LEARNING_RATE, total_steps=epochs * steps_per_epoch,
                                                   pct_start=0.15)
    order_gen = torch.Generator().manual_seed(seed)
    shift_gen = torch.Generator().manual_seed(seed + 1)
    long_image_run = epochs >= AUGMENT_MIN_EPOCHS and evaluator.kind == "image"  # sequences: never shifted
    shift = evaluator.image_size // 14 if long_image_run else 0  # 0 below 14 px
    evaluator.net.train()
    bar = tqdm(total=epochs * steps_per_epoch, disable=not progress, dynamic_ncols=True, unit="step",
               desc=f"evaluator {train.name}")
    with bar:
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=order_gen).to(device)
            for start in range(0, len(x), BATCH_SIZE):
                batch = order[start:start + BATCH_SIZE]
                images = random_shift(evaluator.prepare(x[batch]), shift, shift_gen)
                _, logits = evaluator.net(images)
                loss = F.cross_entropy(logits, y[batch])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                schedule.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    evaluator.net.eval()


def train_evaluator(data: str, *, root: str | None = None, epochs: int | None = None, seed: int = 0,
                    device: str | torch.device = "cpu", cache_dir: str | Path | None = None, force: bool = False,
                    progress: bool = True) -> DomainEvaluator:
    """Train the domain evaluator for ``data`` (or the data set whose images it has, ``SAME_IMAGES``), cache it and
    return it; an up-to-date cached one is returned as is (``from_cache``) unless ``force``. ``epochs`` None: about
    3750 steps (MNIST: 4)."""
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
        raise EvaluatorError(f"epochs must be a positive integer (or None for the default); got {epochs!r}")
    data = SAME_IMAGES.get(data, data)
    device = _device(device)
    full = _train_data(data, root)
    channels, image_size = input_shape(full)
    path = cache_path(data, image_size, channels, cache_dir, full.kind)
    data_fingerprint = fingerprint(full)
    if path.is_file() and not force:
        cached = _up_to_date(path, data, data_fingerprint, device, progress)
        if cached is not None:
            return cached
    train, test, test_split = _test_data(data, root, full, seed)
    target = {"sequence": SEQUENCE_TARGET_STEPS, "voxel": VOXEL_TARGET_STEPS}.get(full.kind, TARGET_STEPS)
    epochs = default_epochs(len(train), target) if epochs is None else epochs
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # the initial weights and dropout masks; the caller's RNG state is restored
        evaluator = DomainEvaluator(data, channels=channels, image_size=image_size,
                                    num_classes=full.num_classes, kind=full.kind).to(device)
        started = time.perf_counter()
        _fit(evaluator, train, epochs=epochs, seed=seed, device=device, progress=progress)
        seconds = time.perf_counter() - started
    evaluator.info = _metadata(evaluator, full, train, test, test_split=test_split, epochs=epochs, seed=seed,
                               seconds=seconds, device=device, data_fingerprint=data_fingerprint)
    _save(evaluator, path)
    evaluator.path, evaluator.weights_sha256 = path, sha256_file(path)
    return evaluator.eval()


def _device(name: str | torch.device) -> torch.device:
    """A torch device, or an EvaluatorError naming the bad value."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise EvaluatorError(f"device={name!r} is not a device; use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EvaluatorError(f"device={name!r} but CUDA is not available here; use device=cpu")
    return device


def _up_to_date(path: Path, data: str, data_fingerprint: str, device: torch.device,
                progress: bool) -> DomainEvaluator | None:
    """The cached evaluator when it is readable and trained on this very data, else None (it will be retrained)."""
    try:
        cached = read_evaluator(path, data=data, device=device)
    except EvaluatorError as err:
        _note(f"retraining: {err}", progress)
        return None
    if cached.info.get("fingerprint") != data_fingerprint:
        _note(f"retraining: {path} was trained on different {data!r} data", progress)
        return None
    cached.from_cache = True
    _note(f"{path} is up to date; pass force=True (--force) to retrain it", progress)
    return cached


def _metadata(evaluator: DomainEvaluator, full: Dataset, train: Dataset, test: Dataset, *, test_split: str,
              epochs: int, seed: int, seconds: float, device: torch.device, data_fingerprint: str) -> dict[str, Any]:
    """What the cache file records next to the weights (plain values only: it is read with weights_only=True)."""
    import gankit

    class_names = full.class_names or [str(k) for k in range(full.num_classes)]
    return {"data": evaluator.data, "image_size": evaluator.image_size, "channels": evaluator.channels,
            "num_classes": full.num_classes, "class_names": list(class_names), "epochs": epochs, "seed": seed,
            "batch_size": BATCH_SIZE, "n_train": len(train), "n_test": len(test), "test_split": test_split,
            "test_accuracy": accuracy(evaluator, test), "fingerprint": data_fingerprint,
            "train_seconds": round(seconds, 1), "device": str(device), "threads": torch.get_num_threads(),
            "gankit_version": gankit.__version__, "torch_version": str(torch.__version__),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "architecture": describe_architecture(evaluator),
            "kind": evaluator.kind}


def load_evaluator(data: str, *, root: str | None = None, cache_dir: str | Path | None = None,
                   device: str | torch.device = "cpu", train_if_missing: bool = False) -> DomainEvaluator:
    """The cached evaluator for ``data`` (or for the data set whose images it has, ``SAME_IMAGES``); trains it when
    missing and ``train_if_missing``, else a clear error."""
    data = SAME_IMAGES.get(data, data)
    full = _train_data(data, root)
    channels, image_size = input_shape(full)
    path = cache_path(data, image_size, channels, cache_dir, full.kind)
    if not path.is_file():
        if train_if_missing:
            return train_evaluator(data, root=root, device=device, cache_dir=cache_dir, progress=True)
        shape = (f"{image_size} steps x {channels} feature(s)" if full.kind == "sequence"
                 else f"{image_size}x{image_size}, {channels} channel(s)")
        raise EvaluatorError(
            f"no domain evaluator for {data!r} ({shape}): {path} does not exist. "
            f"Train it once with `{TRAIN_COMMAND.format(data=data)}` (about a minute on a CPU for MNIST), "
            "or use features=inception")
    evaluator = read_evaluator(path, data=data, device=_device(device))
    now = fingerprint(full)
    if evaluator.info.get("fingerprint") != now:
        raise EvaluatorError(
            f"the domain evaluator {path} was trained on different {data!r} data (fingerprint "
            f"{str(evaluator.info.get('fingerprint'))[:12]}..., the data on disk now gives {now[:12]}...); "
            f"retrain it with `{TRAIN_COMMAND.format(data=data)} --force`")
    return evaluator


# ---------------------------------------------------------------- for people

def describe_architecture(evaluator: DomainEvaluator) -> str:
    convs = [m.out_channels for m in evaluator.net.trunk if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    kernel = {"sequence": "5-tap 1D", "voxel": "3x3x3"}.get(evaluator.kind, "5x5")
    return (f"{len(convs)} conv blocks ({'/'.join(map(str, convs))} ch, {kernel} stride-2 conv + BN + ReLU), "
            f"FC {evaluator.feature_dim} (features), {evaluator.num_classes} classes")


def describe(evaluator: DomainEvaluator) -> str:
    """One paragraph for people: what it was trained on, how well it classifies, where it is."""
    info = evaluator.info
    acc = info.get("test_accuracy")
    acc_text = f"{100 * acc:.2f}%" if isinstance(acc, float) else "unknown"
    if evaluator.kind == "voxel":
        return (f"{evaluator.name}: a 3D CNN ({info.get('architecture', '?')}) trained on {info.get('data')} "
                f"({info.get('n_train')} grids of {evaluator.image_size}^3 voxels, {evaluator.num_classes} classes) for "
                f"{info.get('epochs')} epochs (seed {info.get('seed')}, {info.get('train_seconds')} s on "
                f"{info.get('device')}). Test accuracy {acc_text} on the {info.get('test_split')} ({info.get('n_test')} "
                f"grids). File {evaluator.path} (sha256 {evaluator.weights_sha256}); it reads grids of exactly this size.")
    if evaluator.kind == "sequence":
        return (f"{evaluator.name}: a 1D CNN ({info.get('architecture', '?')}) trained on {info.get('data')} "
                f"({info.get('n_train')} sequences of {evaluator.image_size} steps x {evaluator.channels} feature(s), "
                f"{evaluator.num_classes} classes) for {info.get('epochs')} epochs (seed {info.get('seed')}, "
                f"{info.get('train_seconds')} s on {info.get('device')}). Test accuracy {acc_text} on the "
                f"{info.get('test_split')} ({info.get('n_test')} sequences). File {evaluator.path} (sha256 "
                f"{evaluator.weights_sha256}); it reads sequences of exactly this shape.")
    return (f"{evaluator.name}: a CNN ({info.get('architecture', '?')}) trained on {info.get('data')} "
            f"({info.get('n_train')} images, {evaluator.image_size}x{evaluator.image_size}, "
            f"{evaluator.channels} channel(s), {evaluator.num_classes} classes) for {info.get('epochs')} epochs "
            f"(seed {info.get('seed')}, {info.get('train_seconds')} s on {info.get('device')}, "
            f"{info.get('threads')} thread(s)). "
            f"Test accuracy {acc_text} on the {info.get('test_split')} ({info.get('n_test')} images). "
            f"File {evaluator.path} (sha256 {evaluator.weights_sha256}); inputs of another size or channel count "
            f"are converted (bilinear, grey <-> RGB).")


def _note(message: str, enabled: bool) -> None:
    """A line for people on stderr (stdout stays clean for piping), when progress output is on."""
    if enabled:
        print(message, file=sys.stderr)
