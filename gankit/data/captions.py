"""Image + caption pairs for text-to-image GANs (StackGAN, Zhang et al. 2017).

A captioned data set is an image Dataset with ``captions`` (N, T) int64 token ids beside x (each caption's ids,
``<eos>``, then ``<pad>``; the words in ``tokens``, gankit/data/text.py's Vocabulary). Three sources:

- ``mnist-captions`` / ``fashion-mnist-captions`` (offline, from mnist.npz / fashion_mnist.npz): each image's caption
  names its class and MEASURED attributes, so what a generator was asked for can be checked on its output:
  MNIST "a large thick slanted seven" (size: ink bounding-box area; thickness: ink pixels per skeleton pixel;
  slant: -mu11 / mu02 of the ink's central moments), Fashion-MNIST "a small dark sneaker" (size; shade: the mean
  grey level of the ink). Each attribute word marks the lowest or highest third of the image's class on the
  training split (the middle third gets no word), so "thick" means thick for a seven.
- a folder with ``captions.txt``: one ``<image path relative to the folder><TAB><caption>`` a line; an image may
  have several lines (one row per caption).
- the CUB-200 / Oxford-102 layout of Reed et al. 2016 (the StackGAN paper's data): ``images/**/<name>.jpg`` and
  ``text/**/<name>.txt`` (or ``text_c10/``), one caption a line, the same relative path. ``cub`` downloads the
  CUB-200-2011 images; the captions (Reed et al.'s ``cvpr2016_cub``) come from Google Drive and must be put
  in place by hand (the error says where).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gankit.data.dataset import Dataset, labels_tensor, pixels_to_tensor
from gankit.data.folder import IMAGE_EXTENSIONS, default_folder_size, read_images
from gankit.data.text import EOS, PAD, SPECIALS, UNK, TextOptions, Vocabulary, tokenize
from gankit.errors import DataError

Loader = Callable[..., Dataset]  # gankit.data.load_dataset(name, split=, root=), passed in: datasets imports this module

CAPTIONS_FILE = "captions.txt"
MNIST_NOUNS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FASHION_NOUNS = ("top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")
# attribute -> (word for the class's lowest third, word for its highest third); the middle third has none
MNIST_WORDS = {"size": ("small", "large"), "thickness": ("thin", "thick"), "slant": ("backslanted", "slanted")}
FASHION_WORDS = {"size": ("small", "large"), "shade": ("dark", "bright")}
INK = 0.5  # a pixel is ink above half the grey range
CUB_IMAGES_URL = "https://data.caltech.edu/records/65de6-vhk58/files/CUB_200_2011.tgz"
CUB_CAPTIONS_URL = "https://github.com/reedscot/cvpr2016 (cvpr2016_cub.tar.gz: text_c10/)"


def stroke_attributes(images: np.ndarray) -> dict[str, np.ndarray]:
    """(N, H, W) grey images in [0, 1] -> per image (N,): size (ink bounding-box area / image area), thickness
    (ink pixels per skeleton pixel), slant (-mu11 / mu02 of the grey mass: > 0 leans right), shade (mean ink grey)."""
    from skimage.morphology import skeletonize

    ink = images > INK  # (N, H, W)
    n, height, width = images.shape
    rows_on, cols_on = ink.any(2), ink.any(1)  # (N, H), (N, W): rows / columns holding ink
    extent = lambda on: np.where(on.any(1), on.shape[1] - on[:, ::-1].argmax(1) - on.argmax(1), 0)  # noqa: E731
    pixels = ink.sum((1, 2))
    skeleton = np.array([skeletonize(mask).sum() for mask in ink])
    rows = np.arange(height, dtype=np.float64)[None, :, None]
    cols = np.arange(width, dtype=np.float64)[None, None, :]
    mass = np.maximum(images.sum((1, 2)), 1e-8)[:, None, None]
    y0, x0 = (images * rows).sum((1, 2), keepdims=True) / mass, (images * cols).sum((1, 2), keepdims=True) / mass
    mu11 = (images * (rows - y0) * (cols - x0)).sum((1, 2))
    mu02 = np.maximum((images * (rows - y0) ** 2).sum((1, 2)), 1e-8)
    return {"size": extent(rows_on) * extent(cols_on) / (height * width),
            "thickness": pixels / np.maximum(skeleton, 1),
            "slant": -mu11 / mu02,  # rows grow downwards: a top leaning right has a negative mu11
            "shade": (images * ink).sum((1, 2)) / np.maximum(pixels, 1)}


def thirds(values: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, 2) per class: the 1/3 and 2/3 quantiles of ``values`` (the attribute-word thresholds)."""
    return np.stack([np.quantile(values[labels == k], [1 / 3, 2 / 3]) if (labels == k).any() else [0.0, 0.0]
                     for k in range(num_classes)])


def describe(attributes: dict[str, np.ndarray], labels: np.ndarray, cuts: dict[str, np.ndarray],
             words: dict[str, tuple[str, str]], nouns: tuple[str, ...]) -> list[list[str]]:
    """One caption per image: "a", its attribute words (lowest / highest third of its class), its class noun."""
    captions = []
    for i, label in enumerate(labels):
        caption = ["a"]
        for name, (low, high) in words.items():
            value, (lo, hi) = attributes[name][i], cuts[name][label]
            caption += [low] if value < lo else [high] if value > hi else []
        captions.append([*caption, nouns[label]])
    return captions


def fixed_vocabulary(words: dict[str, tuple[str, str]], nouns: tuple[str, ...]) -> Vocabulary:
    """The built-in sets' vocabulary: the specials, "a", the attribute words, the nouns (the same for every split)."""
    return Vocabulary([*SPECIALS, "a", *(w for pair in words.values() for w in pair), *nouns])


@functools.lru_cache(maxsize=4)
def _measured(source: str, split: str, root: str | None, load: Loader) -> tuple[Dataset, dict[str, np.ndarray]]:
    """``source``'s ``split`` (read by ``load``) and its images' attributes (cached: test captions need the training
    thresholds)."""
    data = load(source, split=split, root=root)
    return data, stroke_attributes(_grey(data))


def _training_cuts(source: str, root: str | None, load: Loader) -> dict[str, np.ndarray]:
    """The attribute thresholds of ``source``'s training split, so every split's words mean the same."""
    train, attributes = _measured(source, "train", root, load)
    return {name: thirds(values, train.y.numpy(), train.num_classes) for name, values in attributes.items()}


def _grey(data: Dataset) -> np.ndarray:
    """(N, H, W) float in [0, 1] of a one-channel image set in [-1, 1]."""
    return ((data.x[:, 0] + 1) / 2).numpy().astype(np.float64)


def captioned_digits(source: str, *, split: str, root: str | None, load: Loader) -> Dataset:
    """``source`` (mnist or fashion-mnist) with a caption of class and measured attributes per image."""
    words, nouns = (MNIST_WORDS, MNIST_NOUNS) if source == "mnist" else (FASHION_WORDS, FASHION_NOUNS)
    data, attributes = _measured(source, split, root, load)
    captions = describe(attributes, data.y.numpy(), _training_cuts(source, root, load), words, nouns)
    vocab = fixed_vocabulary(words, nouns)
    return Dataset(name=f"{source}-captions", x=data.x, y=data.y, num_classes=len(nouns), kind="image",
                   class_names=list(nouns), tokens=vocab.tokens,
                   captions=vocab.encode(captions, max(len(c) for c in captions)))


def encode_captions(vocab: Vocabulary, captions: list[str]) -> torch.Tensor:
    """(N, T + 1) int64 ids of user captions; DataError for an empty caption or words the vocabulary lacks."""
    sentences = [tokenize(caption) for caption in captions]
    words = vocab.tokens[len(SPECIALS):]
    known = f"{len(words)} words: {', '.join(words[:40])}{' ...' if len(words) > 40 else ''}"
    for caption, tokens in zip(captions, sentences):
        if not tokens:
            raise DataError(f"caption {caption!r} is empty; write a caption in words of the run's vocabulary ({known})")
    unknown = sorted({w for tokens in sentences for w in tokens if w not in vocab.index or w in (PAD, EOS, UNK)})
    if unknown:
        raise DataError(f"caption word(s) {', '.join(map(repr, unknown))} are not in the run's vocabulary ({known})")
    return vocab.encode(sentences, max(len(w) for w in sentences))


# ------------------------------------------------------------------ caption folders

def is_caption_folder(path: Path) -> bool:
    """A folder with captions.txt, or the CUB / Oxford-102 layout (images/ beside text/ or text_c10/)."""
    return path.is_dir() and ((path / CAPTIONS_FILE).is_file() or _cub_text(path) is not None)


def _cub_text(path: Path) -> Path | None:
    if not (path / "images").is_dir():
        return None
    return next((path / name for name in ("text", "text_c10") if (path / name).is_dir()), None)


def _captions_file(folder: Path) -> list[tuple[Path, str, str]]:
    """(image, caption, where) of each line of captions.txt: ``<relative image path><TAB><caption>``."""
    pairs = []
    lines = (folder / CAPTIONS_FILE).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{folder / CAPTIONS_FILE}, line {number}"
        name, tab, caption = line.partition("\t")
        if not tab:
            raise DataError(f"{where}: expected '<image path><TAB><caption>', found no tab in {line[:60]!r}")
        pairs.append((folder / name.strip(), caption, where))
    if not pairs:
        raise DataError(f"{folder / CAPTIONS_FILE} holds no captions; write one '<image path><TAB><caption>' a line")
    return pairs


def _cub_captions(folder: Path, text: Path) -> list[tuple[Path, str, str]]:
    """(image, caption, where) of every line of text/**/<name>.txt, whose image is images/**/<name>.<ext>."""
    images = {p.relative_to(folder / "images").with_suffix(""): p for p in sorted((folder / "images").rglob("*"))
              if p.suffix.lower() in IMAGE_EXTENSIONS}
    pairs = []
    for caption_file in sorted(text.rglob("*.txt")):
        image = images.get(caption_file.relative_to(text).with_suffix(""))
        if image is None:
            continue
        for number, line in enumerate(caption_file.read_text(encoding="utf-8").splitlines(), 1):
            pairs.append((image, line, f"{caption_file}, line {number}"))
    if not pairs:
        raise DataError(f"{text}: no caption file matches an image of {folder / 'images'} (text/A/b.txt captions "
                        "images/A/b.jpg, one caption a line)")
    return pairs


def read_caption_folder(folder: Path, *, name: str, image_size: int | None, channels: int | None) -> Dataset:
    """A caption folder as a captioned Dataset (one row per caption); DataError for an empty caption or a missing
    image, naming the file and line. The vocabulary holds every word of the captions."""
    text = _cub_text(folder)
    pairs = _cub_captions(folder, text) if text is not None and not (folder / CAPTIONS_FILE).is_file() \
        else _captions_file(folder)
    sentences = []
    for image, caption, where in pairs:
        if not tokenize(caption):
            raise DataError(f"{where}: the caption of {image.name} is empty; give every image a caption")
        if not image.is_file():
            raise DataError(f"{where}: image {image} does not exist")
        sentences.append(tokenize(caption))
    files = sorted({image for image, _, _ in pairs})
    size = image_size or default_folder_size(files[0])  # as image folders: the first image's side, to 64 px
    pixels, all_gray = read_images(files, mode="L" if channels == 1 else "RGB", size=size, folder=folder)
    if channels is None and all_gray:
        pixels = pixels[..., 0]
    row = {f: i for i, f in enumerate(files)}
    x = pixels_to_tensor(pixels)[torch.tensor([row[image] for image, _, _ in pairs])]  # one row per caption
    vocab = Vocabulary.build(sentences, TextOptions(), str(folder))
    return Dataset(name=name, x=x, y=labels_tensor(None), num_classes=0, kind="image", tokens=vocab.tokens,
                   captions=vocab.encode(sentences, max(len(s) for s in sentences)))


def cub_folder(root: str | None) -> Path:
    """The CUB-200-2011 caption folder (images/ + text_c10/) in the data folders; the images are downloaded when
    missing, the captions must be put there by hand (they are on Google Drive)."""
    from gankit.data.npz import cache_folder, search_folders

    for folder in search_folders(root):
        if is_caption_folder(folder / "CUB_200_2011"):
            return folder / "CUB_200_2011"
    target = cache_folder() / "CUB_200_2011"
    if not (target / "images").is_dir():
        try:
            from torchvision.datasets.utils import download_and_extract_archive

            download_and_extract_archive(CUB_IMAGES_URL, download_root=str(cache_folder()))
        except Exception as err:  # noqa: BLE001 - offline, DNS, HTTP: one fix
            raise DataError(f"data set 'cub' not found in {', '.join(map(str, search_folders(root)))}, and the download "
                            f"of {CUB_IMAGES_URL} failed ({type(err).__name__}); put CUB_200_2011/images and "
                            f"CUB_200_2011/text_c10 in a data folder, or go online") from None
    if _cub_text(target) is None:
        raise DataError(f"CUB images are in {target / 'images'}, but the captions are not: put Reed et al.'s text_c10/ "
                        f"({CUB_CAPTIONS_URL}) in {target}")
    return target


__all__ = ["stroke_attributes", "captioned_digits", "encode_captions", "read_caption_folder", "is_caption_folder",
           "cub_folder", "MNIST_NOUNS", "FASHION_NOUNS"]
