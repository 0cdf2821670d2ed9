"""The data set registry and ``load_dataset``: names, .npz files and image folders -> Dataset.

Rules worth knowing:
- ``digits``: sklearn's 1797 8x8 digits, shuffled once with a fixed seed (0, not ``seed``);
  train = the first 1500, test = the remaining 297, all = every sample in sklearn's order.
- ``mnist`` / ``fashion-mnist`` / ``cifar10``: ``<name>.npz`` is looked up in ``root``, then
  ``$GANKIT_DATA``, then ``~/.cache/gankit/data``; otherwise torchvision downloads into
  ``~/.cache/gankit/data/torchvision``.
- Any other name containing a path separator, a suffix, a leading ``.``/``~``, or naming an
  existing entry is a path: an ``.npz`` (same arrays) or an image folder (see ``folder.py``;
  default size = the first image's smaller side rounded down to a power of two, within [4, 64]).
- ``limit`` keeps the first ``limit`` samples after a shuffle seeded by ``seed`` (a cap, not an
  error, when larger than the data set); for ring8/grid25 it is the number of points drawn.
- ``sines``: continuous sequences (N, 32, 1), and an ``.npz`` whose x arrays are float (N, T, F) loads as
  sequences (``sequences.py``: the value scale, the checks).
- ``pairing`` ("paired" | "unpaired") loads two domains, a (A) and x (B), for image-to-image
  translation; ``domains`` picks them, or the classes kept (see ``paired.py``).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np

from gankit.data.dataset import (Dataset, check_split, convert_channels, labels_tensor, pixels_to_tensor,
                                 resize_images, subset)
from gankit.data.folder import MIN_SIZE, read_folder
from gankit.data.npz import cache_folder, download_archive, find_file, load_named_npz, read_npz, search_folders
from gankit.data.paired import check_pairing, read_pair_npz, read_pairs, reads_pairs, select_domains
from gankit.data.synthetic import sample_mixture
from gankit.data.text import TextOptions, load_text, text_files, texygen_files
from gankit.data.video import VideoOptions, fit_frames, is_video_folder, read_video_folder
from gankit.errors import DataError, unknown
from gankit.registry import Registry


class DatasetLoader(Protocol):
    """A registered loader: returns the data set at its stored size; load_dataset does the rest."""

    image_size: int | None  # the natural size (None for points)

    def __call__(self, *, split: str, root: str | None, limit: int | None, seed: int) -> Dataset: ...


DATASETS: Registry[DatasetLoader] = Registry("data set", error=DataError)
KIND_WORDS = {"image": "image", "points": "2D point", "text": "text", "sequence": "continuous-sequence",
              "interactions": "user-item interaction", "video": "video",
              "voxel": "voxel"}

DIGITS_TRAIN_SIZE = 1500
DIGITS_SPLIT_SEED = 0  # fixed, independent of ``seed``: the train/test split must never move
DIGIT_NAMES = tuple(str(digit) for digit in range(10))
FASHION_MNIST_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _with_classes(data: Dataset, class_names: tuple[str, ...]) -> Dataset:
    """Attach the official class names (a label-free user .npz keeps none)."""
    if data.y is None:
        return data
    return replace(data, class_names=list(class_names), num_classes=len(class_names))


def register_dataset(name: str, *,
                     image_size: int | None) -> Callable[[Callable[..., Dataset]], DatasetLoader]:
    """Register a loader under ``name``, recording its natural image size (None for points)."""
    def add(loader: Callable[..., Dataset]) -> DatasetLoader:
        loader.image_size = image_size  # type: ignore[attr-defined]
        return DATASETS.register(name)(loader)  # type: ignore[arg-type]
    return add


@register_dataset("ring8", image_size=None)
def _ring8(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """8 2D Gaussians on a circle of radius 1, std 0.01 (PacGAN); 50,000 points."""
    return sample_mixture("ring8", split=split, count=limit, seed=seed)


@register_dataset("grid25", image_size=None)
def _grid25(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """25 2D Gaussians on the grid {-4,-2,0,2,4}^2, std 0.05 (PacGAN); 50,000 points."""
    return sample_mixture("grid25", split=split, count=limit, seed=seed)


@register_dataset("digits", image_size=8)
def _digits(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """scikit-learn's bundled 8x8 digits at their native 8x8, offline (train 1500 / test 297, fixed shuffle)."""
    from sklearn.datasets import load_digits  # imported here: sklearn is slow to import

    bunch = load_digits()
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(bunch.target))
    keep = {"train": order[:DIGITS_TRAIN_SIZE], "test": order[DIGITS_TRAIN_SIZE:],
            "all": np.arange(len(order))}[split]
    x = pixels_to_tensor(bunch.images[keep], max_value=16.0)  # (N, 1, 8, 8); load_dataset resizes when asked
    return Dataset(name="digits", x=x, y=labels_tensor(bunch.target[keep]), num_classes=10, kind="image",
                   class_names=list(DIGIT_NAMES))


@register_dataset("mnist", image_size=28)
def _mnist(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """MNIST handwritten digits, 28x28 gray (mnist.npz in data.root / $GANKIT_DATA, else download)."""
    data = load_named_npz("mnist", "mnist.npz", "MNIST", split=split, root=root)
    return _with_classes(data, DIGIT_NAMES)


@register_dataset("fashion-mnist", image_size=28)
def _fashion_mnist(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """Fashion-MNIST clothing, 28x28 gray (fashion_mnist.npz in data.root / $GANKIT_DATA, else download)."""
    data = load_named_npz("fashion-mnist", "fashion_mnist.npz", "FashionMNIST", split=split, root=root)
    return _with_classes(data, FASHION_MNIST_NAMES)


@register_dataset("cifar10", image_size=32)
def _cifar10(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """CIFAR-10, 32x32 RGB, 10 classes (cifar10.npz in data.root / $GANKIT_DATA, else download)."""
    data = load_named_npz("cifar10", "cifar10.npz", "CIFAR10", split=split, root=root)
    return _with_classes(data, CIFAR10_NAMES)


FACADES_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"  # pix2pix's own copy


@register_dataset("facades", image_size=256)
def _facades(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """CMP facades, label map -> photo pairs at 256x256 (facades.npz in data.root / $GANKIT_DATA, else pix2pix's download)."""
    path = find_file("facades.npz", search_folders(root))
    if path is not None:
        return read_pair_npz(path, name="facades", split=split, image_size=None, pairing="paired")
    folder = _download_facades(root)
    data = read_pairs(folder, name="facades", split=split, image_size=256, channels=None, pairing="paired", domains=None)
    return replace(data, a=data.x, x=data.a)  # pix2pix's AB files are photo | labels; gankit's facades go labels -> photo


def _download_facades(root: str | None) -> Path:
    """pix2pix's facades (train/ val/ test/ folders of side-by-side images) in ~/.cache/gankit/data/facades."""
    target = cache_folder() / "facades"
    if (target / "facades" / "train").is_dir():
        return target / "facades"
    download_archive(FACADES_URL, target, data="facades", root=root, missing="no facades.npz",
                     fix="put facades.npz (arrays a_train, b_train[, a_test, b_test]) in a folder and set "
                         "GANKIT_DATA=<folder> or data.root=<folder>, or pass a folder of side-by-side AB images with "
                         "--data")
    return target / "facades"


def default_image_size(name: str) -> int | None:
    """The natural image size of a registered data set; None for points and for paths."""
    return DATASETS.get(name).image_size if name in DATASETS else None


def list_datasets() -> list[tuple[str, str]]:
    """(name, one-line description) for every registered data set, sorted by name."""
    return [(name, DATASETS.doc(name)) for name in DATASETS.names()]


def _check_options(image_size: int | None, channels: int | None, limit: int | None) -> None:
    """Reject bad option values, naming the field."""
    if image_size is not None and (not isinstance(image_size, int) or image_size < MIN_SIZE):
        raise DataError(f"image_size must be an integer >= {MIN_SIZE} (or None for the natural size); "
                        f"got {image_size!r}")
    if channels is not None and channels not in (1, 3):
        raise DataError(f"channels must be 1 or 3 (or None to keep the data set's own); got {channels!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise DataError(f"limit must be a positive integer (or None for everything); got {limit!r}")


def _looks_like_path(name: str) -> bool:
    """Names with a separator, a file suffix or an existing entry are paths, not registry names."""
    path = Path(name)
    return "/" in name or os.sep in name or name.startswith(("~", ".")) or path.suffix != "" or path.exists()


def load_path(path: Path, *, name: str, split: str, image_size: int | None, channels: int | None,
              pairing: str | None = None, domains: list | None = None, text: TextOptions | None = None,
              video: VideoOptions | None = None) -> Dataset:
    """An .npz archive, an image folder or a video folder given by path (two-domain layouts: see ``paired.py``)."""
    if not path.exists():
        raise DataError(f"data set path {name!r} does not exist (looked at {path.resolve()}); as a name: "
                        f"{unknown('data set', name, DATASETS.names())}")
    if is_video_folder(path, video):  # videos, or frame folders with data.frames set (see ``video.py``)
        if split == "test":
            raise DataError(f"video folder {path} has a single split; use split='train' or 'all'")
        return read_video_folder(path, name=name, image_size=image_size, options=video or VideoOptions())
    if path.suffix.lower() == ".txt" or (path.is_dir() and (path / "train.txt").is_file()):
        return load_text(*text_files(path), name=name, split=split, options=text or TextOptions())
    if reads_pairs(path, pairing, domains):
        return read_pairs(path, name=name, split=split, image_size=image_size, channels=channels,
                          pairing=pairing, domains=domains)
    if path.is_dir():
        if split == "test":
            raise DataError(f"image folder {path} has a single split; use split='train' or 'all'")
        from gankit.data.captions import is_caption_folder, read_caption_folder  # image + caption pairs

        if is_caption_folder(path):
            return read_caption_folder(path, name=name, image_size=image_size, channels=channels)
        return read_folder(path, name=name, image_size=image_size, channels=channels)
    from gankit.data.folder import IMAGE_EXTENSIONS

    if path.suffix.lower() in IMAGE_EXTENSIONS:  # one image file: a texture source at its own size (texture.py)
        from gankit.data.texture import read_texture_image

        return read_texture_image(path, name=name, channels=channels)
    from gankit.data.interactions import SUFFIXES, read_interactions  # user-item interaction files

    if path.suffix.lower() in SUFFIXES:
        return read_interactions(path, name=name, split=split)
    if path.suffix.lower() != ".npz":
        raise DataError(f"{path} is neither an image folder nor an .npz archive")
    from gankit.data.voxels import is_voxel_npz, read_voxel_npz  # voxel grids: an .npz with voxels_train

    if is_voxel_npz(path):
        return read_voxel_npz(path, name=name, split=split)
    return read_npz(path, name=name, split=split)


def _finish(data: Dataset, *, image_size: int | None, channels: int | None,
            limit: int | None, seed: int) -> Dataset:
    """Apply limit, then resize and channel conversion to image data."""
    if limit is not None:
        data = subset(data, limit, seed)
    if data.kind == "video":  # each frame as an image
        return fit_frames(data, image_size, channels)
    if data.kind != "image":
        if image_size is not None or channels is not None:
            raise DataError(f"{data.name!r} is a {KIND_WORDS[data.kind]} data set, not images; data.image_size and "
                            "data.channels must be null")
        return data
    if image_size is not None:
        data = resize_images(data, image_size)
    return convert_channels(data, channels) if channels is not None else data


def load_configured(d, *, split: str, limit: int | None = None, seed: int = 0) -> Dataset:  # noqa: ANN001  (DataConfig)
    """``load_dataset`` with every option of a run's ``data`` config (a split, and a limit and seed when asked)."""
    return load_dataset(d.name, split=split, image_size=d.image_size, channels=d.channels, root=d.root, limit=limit,
                        seed=seed, pairing=d.pairing, domains=d.domains,
                        text=TextOptions(vocab_size=d.vocab_size, min_count=d.min_count, max_length=d.max_length),
                        video=VideoOptions(frames=d.frames, digits=d.digits))


def load_dataset(name: str, *, split: str = "train", image_size: int | None = None,
                 channels: int | None = None, root: str | None = None,
                 limit: int | None = None, seed: int = 0, pairing: str | None = None,
                 domains: list | None = None, text: TextOptions | None = None,
                 video: VideoOptions | None = None) -> Dataset:
    """Load a registered data set, an .npz file, an image folder or a video folder into memory (CPU tensors).

    pairing="paired" | "unpaired" loads source images a beside x; domains names domain A and B
    (classes or sub-folders), or with pairing=None the classes kept, relabelled in that order.
    """
    check_split(split)
    _check_options(image_size, channels, limit)
    check_pairing(pairing, domains)
    if name in DATASETS:
        # With domains, classes are picked from the whole split first, so limit caps what is kept.
        loader = DATASETS.get(name)
        options = {"text": text or TextOptions()} if getattr(loader, "takes_text", False) else {}
        if getattr(loader, "takes_video", False):  # video loaders build clips of the asked frame size directly
            options = {"video": video or VideoOptions(), "image_size": image_size}
        data = loader(split=split, root=root, limit=None if domains else limit, seed=seed, **options)
        size = image_size if image_size is not None else default_image_size(name)
    elif _looks_like_path(name):
        path = Path(name).expanduser()
        data = load_path(path, name=name, split=split, image_size=image_size, channels=channels,
                         pairing=pairing, domains=domains, text=text, video=video)
        size = image_size
    else:
        raise DataError(unknown("data set", name, DATASETS.names()))
    if data.kind != "text" and text is not None and text != TextOptions():
        raise DataError(f"data.vocab_size, data.min_count and data.max_length apply to text data sets; {name!r} is a "
                        f"{KIND_WORDS[data.kind]} data set: leave them null (min_count 1)")
    if data.kind != "video" and video is not None and video != VideoOptions():
        raise DataError(f"data.frames and data.digits apply to video data sets; {name!r} is a "
                        f"{KIND_WORDS[data.kind]} data set: leave them at null and 1")
    data = select_domains(data, pairing=pairing, domains=domains)
    return _finish(data, image_size=size, channels=channels, limit=limit, seed=seed)


STACKED_MNIST_SEED = 0  # fixed, independent of ``seed``: the triples of a split never move
STACKED_MNIST_NAMES = tuple(f"{mode:03d}" for mode in range(1000))


def _stacked_indices(sizes: dict[str, int]) -> np.ndarray:
    """(N, 3) indices into the concatenated MNIST parts: each part's own images, drawn with replacement."""
    from gankit.data.dataset import SPLITS  # here, not at the top: this section is appended to the module

    blocks, offset = [], 0
    for part, size in sizes.items():
        rng = np.random.default_rng([STACKED_MNIST_SEED, SPLITS.index(part)])
        blocks.append(offset + rng.integers(0, size, size=(size, 3)))
        offset += size
    return np.concatenate(blocks)


@register_dataset("stacked-mnist", image_size=28)
def _stacked_mnist(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """Stacked MNIST, 3 MNIST digits as R,G,B, 1000 classes (Metz et al. 2017; PacGAN); 60,000 train / 10,000 test.

    Each sample stacks three images of the same MNIST split, drawn independently and uniformly with
    replacement (as PacGAN's code draws them) from a fixed seed per split (not ``seed``): a split has
    as many samples as MNIST's, and test samples use only MNIST test digits. Label = 100 d_R + 10 d_G
    + d_B, class names "000".."999"; 'all' is train then test. With ``limit`` only the kept samples
    are built (the same ones a full build followed by the usual seeded subset keeps). Reads mnist.npz
    like ``mnist``.
    """
    import torch  # here, not at the top: this section is appended to the module

    parts = ["train", "test"] if split == "all" else [split]
    mnist = [_mnist(split=part, root=root, limit=None, seed=seed) for part in parts]
    index = _stacked_indices({part: len(data) for part, data in zip(parts, mnist)})  # (N, 3)
    if limit is not None and limit < len(index):
        index = index[np.random.default_rng(seed).permutation(len(index))[:limit]]  # as subset() picks
    pixels = torch.cat([data.x for data in mnist])[:, 0]  # (M, 28, 28)
    labels = torch.cat([data.y for data in mnist])  # (M,)
    keep = torch.from_numpy(index)
    y = (labels[keep] * torch.tensor([100, 10, 1])).sum(dim=1)  # (N,) = 100 d_R + 10 d_G + d_B
    return Dataset(name="stacked-mnist", x=pixels[keep], y=y, num_classes=1000, kind="image",
                   class_names=list(STACKED_MNIST_NAMES))


@register_dataset("sines", image_size=None)
def _sines(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """Sequences: mixtures of 1-3 sines, 32 steps x 1 feature, 4 classes by dominant frequency (4,000 / 1,000)."""
    from gankit.data.sequences import sines  # here, not at the top: this section is appended to the module

    return sines(split=split)


def register_text(name: str) -> Callable[[Callable[..., Dataset]], DatasetLoader]:
    """Register a text data set: its loader also takes ``text`` (TextOptions: the vocabulary and length)."""
    def add(loader: Callable[..., Dataset]) -> DatasetLoader:
        loader.takes_text = True  # type: ignore[attr-defined]
        return register_dataset(name, image_size=None)(loader)
    return add


@register_text("coco-captions")
def _coco_captions(*, split: str, root: str | None, limit: int | None, seed: int, text: TextOptions) -> Dataset:
    """MS-COCO captions, Texygen's "image COCO": 10,000 training and 10,000 test sentences (Zhu et al. 2018)."""
    train, test = texygen_files(("coco_captions_train.txt", "coco_captions_test.txt"), root)
    return load_text(train, test, name="coco-captions", split=split, options=text)


@register_text("emnlp-news")
def _emnlp_news(*, split: str, root: str | None, limit: int | None, seed: int, text: TextOptions) -> Dataset:
    """EMNLP2017 WMT News sentences (Texygen); offline only its 10,000-line test file, a tenth held out as test."""
    from gankit.data.npz import find_file as find, search_folders as folders

    test = find("emnlp_news_test.txt", folders(root))
    if test is not None and find("emnlp_news_train.txt", folders(root)) is None:
        return load_text(test, None, name="emnlp-news", split=split, options=text)
    train, test = texygen_files(("emnlp_news_train.txt", "emnlp_news_test.txt"), root)
    return load_text(train, test, name="emnlp-news", split=split, options=text)


@register_dataset("oracle", image_size=None)
def _oracle(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """SeqGAN's oracle: 10,000 sequences of 20 tokens (vocabulary 5,000) from a random LSTM (Yu et al. 2017)."""
    from gankit.data.oracle import load_oracle

    return load_oracle(split)


@register_dataset("bricks", image_size=128)
def _bricks(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """Texture: procedural brick walls, 128x128 RGB, 16 train / 8 test (texture GANs crop them; texture.py)."""
    from gankit.data.texture import bricks  # here, not at the top: this section is appended to the module

    return bricks(split)


# item recommendation (gankit/data/interactions.py): (user, item) rows of implicit feedback
from gankit.data import interactions as _interactions  # noqa: E402  (appended section)

register_dataset("synthetic-feedback", image_size=None)(_interactions.synthetic_feedback)
register_dataset("movielens-100k", image_size=None)(_interactions.movielens_100k)


# video (gankit/data/video.py): clips (N, T, C, H, W)
@register_dataset("moving-mnist", image_size=None)
def _moving_mnist(*, split: str, root: str | None, limit: int | None, seed: int, video: VideoOptions,
                  image_size: int | None) -> Dataset:
    """Moving MNIST: 1 or 2 MNIST digits bouncing in 32 px frames (data.image_size), 16 frames (10,000 / 1,000)."""
    import torch  # here, not at the top: this section is appended to the module

    from gankit.data.video import MOVING_MNIST_SIZE, moving_mnist

    parts = ["train", "test"] if split == "all" else [split]
    digits = [_mnist(split=part, root=root, limit=None, seed=seed) for part in parts]
    mnist = replace(digits[0], x=torch.cat([d.x for d in digits]), y=torch.cat([d.y for d in digits]))
    return moving_mnist(mnist, split=split, frame_size=image_size or MOVING_MNIST_SIZE, options=video, limit=limit,
                        seed=seed)


_moving_mnist.takes_video = True  # type: ignore[attr-defined]  # load_dataset passes ``video`` and ``image_size``


# image + caption pairs (gankit/data/captions.py): captions (N, T) beside the images, for text-to-image GANs
@register_dataset("mnist-captions", image_size=28)
def _mnist_captions(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """MNIST with a caption per image from its class and measured size, thickness and slant ("a thick slanted seven")."""
    from gankit.data.captions import captioned_digits  # here, not at the top: this section is appended to the module

    return captioned_digits("mnist", split=split, root=root, load=load_dataset)


@register_dataset("fashion-mnist-captions", image_size=28)
def _fashion_mnist_captions(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """Fashion-MNIST with a caption per image from its class and measured size and shade ("a large dark boot")."""
    from gankit.data.captions import captioned_digits

    return captioned_digits("fashion-mnist", split=split, root=root, load=load_dataset)


@register_dataset("cub", image_size=64)
def _cub(*, split: str, root: str | None, limit: int | None, seed: int) -> Dataset:
    """CUB-200-2011 birds with Reed et al.'s 10 captions per image (StackGAN's data; images downloaded, captions by hand)."""
    from gankit.data.captions import cub_folder, read_caption_folder

    if split == "test":
        raise DataError("data set 'cub' is read as one split; use split='train' or 'all'")
    return read_caption_folder(cub_folder(root), name="cub", image_size=None, channels=None)


# voxel shapes for 3D-GAN (gankit/data/shapes3d.py, gankit/data/voxels.py): kind "voxel", (N, 1, S, S, S)
def _register_voxels() -> None:
    """shapes3d at 16^3 (the CPU size), 32^3 and 64^3; ModelNet10 at 32^3 and 64^3."""
    from gankit.data.shapes3d import SHAPES_SIZES, shapes3d
    from gankit.data.voxels import modelnet10

    for size in SHAPES_SIZES:
        def load_shapes(*, split: str, root: str | None, limit: int | None, seed: int, size: int = size) -> Dataset:
            return shapes3d(size, split=split, limit=limit, seed=seed)
        load_shapes.__doc__ = (f"Voxels: procedural boxes, spheres, cylinders, cones and tori at {size}^3, 5 classes, "
                               "offline (4,000 / 1,000; 3D-GAN)")
        register_dataset("shapes3d" if size == SHAPES_SIZES[0] else f"shapes3d-{size}", image_size=None)(load_shapes)
    for size in (32, 64):
        def load_modelnet(*, split: str, root: str | None, limit: int | None, seed: int, size: int = size) -> Dataset:
            return modelnet10(size, split=split, root=root)
        load_modelnet.__doc__ = (f"Voxels: ModelNet10's 10 furniture classes voxelised at {size}^3 (Wu et al. 2015; "
                                 "downloaded from Princeton on first use)")
        register_dataset("modelnet10" if size == 32 else f"modelnet10-{size}", image_size=None)(load_modelnet)


_register_voxels()


# --- licences: the terms of each registered data set, which a published model's card states (gankit/hub.py) -------
from dataclasses import dataclass  # noqa: E402  (appended section)


@dataclass(frozen=True)
class DataLicence:
    """A data set's terms as its source states them (for the offline copies, the README of the shared data folder): ``hub_id``
    is the Hugging Face licence identifier of a model card's YAML header ("other" or "unknown" where none fits),
    ``terms`` says it in words and ``link`` where to read it."""

    hub_id: str
    terms: str
    link: str | None = None


GENERATED = DataLicence("mit", "generated by gankit's own code (MIT, as gankit); no third-party data")
_MNIST = DataLicence("cc-by-sa-3.0", "MNIST (LeCun, Cortes, Burges): commonly cited as CC BY-SA 3.0; the copy read "
                     "here (rasbt/mnist-pngs, MIT) has no licence file of its own", "http://yann.lecun.com/exdb/mnist/")
_FASHION = DataLicence("mit", "Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): MIT, Copyright 2017 Zalando SE",
                       "https://github.com/zalandoresearch/fashion-mnist/blob/master/LICENSE")
LICENCES: dict[str, DataLicence] = {
    **{name: GENERATED for name in ("ring8", "grid25", "sines", "oracle", "bricks", "synthetic-feedback",
                                    "shapes3d", "shapes3d-32", "shapes3d-64")},
    "digits": DataLicence("cc-by-4.0", "UCI Optical Recognition of Handwritten Digits as bundled in scikit-learn "
                          "(BSD-3-Clause); UCI lists the data under CC BY 4.0",
                          "https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits"),
    "mnist": _MNIST, "stacked-mnist": _MNIST, "moving-mnist": _MNIST, "mnist-captions": _MNIST,
    "fashion-mnist": _FASHION, "fashion-mnist-captions": _FASHION,
    "cifar10": DataLicence("unknown", "CIFAR-10 (Krizhevsky 2009): no formal licence; used with a citation of "
                           "Krizhevsky 2009", "https://www.cs.toronto.edu/~kriz/cifar.html"),
    "facades": DataLicence("unknown", "CMP Facade Database (Tylecek & Sara, GCPR 2013): no licence stated, the authors "
                           "ask for a citation; research data, check the terms before redistributing",
                           "https://cmp.felk.cvut.cz/~tylecr1/facade/"),
    "coco-captions": DataLicence("cc-by-4.0", "MS-COCO 2014 captions via Texygen (MIT): the COCO annotations are "
                                 "CC BY 4.0", "https://cocodataset.org/#termsofuse"),
    "emnlp-news": DataLicence("other", "EMNLP2017 WMT News Crawl sentences via Texygen (MIT): distributed for research "
                              "use", "https://www.statmt.org/wmt17/translation-task.html"),
    "movielens-100k": DataLicence("other", "MovieLens 100K (GroupLens): research use under GroupLens' terms, no "
                                  "redistribution or commercial use without permission",
                                  "https://files.grouplens.org/datasets/movielens/ml-100k-README.txt"),
    "cub": DataLicence("other", "CUB-200-2011 (Wah et al. 2011; images from Flickr) with Reed et al. 2016's captions: "
                       "non-commercial research and education", "https://www.vision.caltech.edu/datasets/cub_200_2011/"),
    "modelnet10": DataLicence("other", "ModelNet10 (Wu et al. 2015, Princeton): academic research use",
                              "https://modelnet.cs.princeton.edu/"),
}
LICENCES["modelnet10-64"] = LICENCES["modelnet10"]
USER_DATA = DataLicence("unknown", "the user's own data (a file or folder): its licence is not known to gankit; "
                        "state it before publishing")


def data_licence(name: str) -> DataLicence:
    """The licence of a registered data set; ``USER_DATA`` for a path (a file or folder of the user's)."""
    return LICENCES[name] if name in DATASETS else USER_DATA
