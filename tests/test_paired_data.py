"""Tests for two-domain data (pix2pix, CycleGAN, StarGAN): paired/unpaired loading, domains, the loader's a-stream
and augmentation, exact resume, and the config/DataInfo fields that carry them."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import resolve
from gankit.data import Dataset, InMemoryLoader, load_dataset
from gankit.data.dataset import subset
from gankit.errors import ConfigError, DataError
from gankit.types import DataInfo
from tests.conftest import shared_file


def _png(path: Path, size: tuple[int, int], colour: int | tuple[int, int, int], mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)


def _ab_png(path: Path, left: tuple[int, int, int], right: tuple[int, int, int], side: int = 8) -> None:
    """A side-by-side AB image (2 side x side): ``left`` is domain A, ``right`` domain B."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (2 * side, side), left)
    image.paste(Image.new("RGB", (side, side), right), (side, 0))
    image.save(path)


def _value(pixel: int) -> float:
    return pixel / 127.5 - 1.0


def _rows(images: torch.Tensor) -> Counter:
    return Counter(map(tuple, images.flatten(1).tolist()))


# ---------------------------------------------------------------- AB folders (pix2pix layout)

def test_ab_folder_with_train_and_val(tmp_path: Path) -> None:
    for index in range(3):
        _ab_png(tmp_path / "train" / f"{index}.png", (10 * index, 0, 0), (0, 10 * index + 100, 0))
    for index in range(2):
        _ab_png(tmp_path / "val" / f"{index}.png", (200, 0, 0), (0, 0, 200))
    train = load_dataset(str(tmp_path), pairing="paired")
    assert train.x.shape == train.a.shape == (3, 3, 8, 8) and train.pairing == "paired" and train.y is None
    assert train.name == str(tmp_path) and train.source_shape == (3, 8, 8)
    for index in range(3):  # the left half is a, the right half x, row by row
        torch.testing.assert_close(train.a[index, :, 4, 4], torch.tensor([_value(10 * index), -1.0, -1.0]))
        torch.testing.assert_close(train.x[index, :, 4, 4], torch.tensor([-1.0, _value(10 * index + 100), -1.0]))
    test = load_dataset(str(tmp_path), pairing="paired", split="test")  # no test/: val/ serves
    assert len(test) == 2
    torch.testing.assert_close(test.x[:, 2], torch.full((2, 8, 8), _value(200)))
    assert len(load_dataset(str(tmp_path), pairing="paired", split="all", image_size=4)) == 5
    unpaired = load_dataset(str(tmp_path), pairing="unpaired")  # a paired source is also accepted unpaired
    assert unpaired.pairing == "unpaired" and torch.equal(unpaired.a, train.a)


def test_ab_folder_loose_images_and_errors(tmp_path: Path) -> None:
    _ab_png(tmp_path / "loose" / "0.png", (255, 255, 255), (0, 0, 0))
    data = load_dataset(str(tmp_path / "loose"), pairing="paired", image_size=4, channels=1)
    assert data.a.shape == data.x.shape == (1, 1, 4, 4) and data.a.min() == 1 and data.x.max() == -1
    with pytest.raises(DataError, match="split='test' is unavailable"):
        load_dataset(str(tmp_path / "loose"), pairing="paired", split="test")
    _png(tmp_path / "odd" / "bad.png", (15, 8), (0, 0, 0))
    with pytest.raises(DataError, match=r"bad.png: odd width 15"):
        load_dataset(str(tmp_path / "odd"), pairing="paired")


# ---------------------------------------------------------------- two folders: A/B, trainA/trainB ...

def test_two_folders_paired_by_name(tmp_path: Path) -> None:
    for index in (2, 0, 1):  # written out of order; paired by name
        _png(tmp_path / "A" / f"{index}.png", (8, 8), 20 * index, mode="L")
        _png(tmp_path / "B" / f"{index}.bmp", (8, 8), (20 * index + 1, 0, 0))  # same stem, another suffix
    data = load_dataset(str(tmp_path), pairing="paired")
    assert data.a.shape == (3, 1, 8, 8) and data.x.shape == (3, 3, 8, 8)  # each side keeps its own channels
    torch.testing.assert_close(data.a[:, 0, 0, 0], torch.tensor([_value(0), _value(20), _value(40)]))
    torch.testing.assert_close(data.x[:, 0, 0, 0], torch.tensor([_value(1), _value(21), _value(41)]))
    assert load_dataset(str(tmp_path), pairing="paired", channels=3).a.shape == (3, 3, 8, 8)
    limited = load_dataset(str(tmp_path), pairing="paired", limit=2, seed=5)
    torch.testing.assert_close(limited.x[:, 0, 0, 0], limited.a[:, 0, 0, 0] + 1 / 127.5)  # rows stay aligned
    _png(tmp_path / "A" / "extra.png", (8, 8), 0, mode="L")
    _png(tmp_path / "B" / "lonely.png", (8, 8), (0, 0, 0))
    with pytest.raises(DataError, match=r"2 file\(s\) have no partner.*A/extra, B/lonely"):
        load_dataset(str(tmp_path), pairing="paired")
    assert len(load_dataset(str(tmp_path), pairing="unpaired").a) == 4  # unpaired: any counts


def test_cyclegan_layout_by_split(tmp_path: Path) -> None:
    for side, count in (("trainA", 3), ("trainB", 5), ("testA", 2), ("testB", 1)):
        for index in range(count):
            _png(tmp_path / side / f"{side}_{index}.png", (12, 12), (0, 0, 255) if side.endswith("B") else (255, 0, 0))
    train = load_dataset(str(tmp_path), pairing="unpaired")
    assert (len(train.a), len(train)) == (3, 5) and train.x.shape[1:] == (3, 8, 8)
    assert torch.all(train.a[:, 0] == 1) and torch.all(train.x[:, 2] == 1)
    test = load_dataset(str(tmp_path), pairing="unpaired", split="test")
    assert (len(test.a), len(test)) == (2, 1)
    every = load_dataset(str(tmp_path), pairing="unpaired", split="all")
    assert (len(every.a), len(every)) == (5, 6)
    with pytest.raises(DataError, match=r"paired folders .*trainA and .*trainB"):
        load_dataset(str(tmp_path), pairing="paired")  # different names: no pairs
    limited = load_dataset(str(tmp_path), pairing="unpaired", limit=2)
    assert (len(limited.a), len(limited)) == (2, 2)


def test_named_domains_and_missing_folders(tmp_path: Path) -> None:
    _png(tmp_path / "horses" / "h.png", (8, 8), (255, 0, 0))
    _png(tmp_path / "zebras" / "z1.png", (8, 8), (0, 0, 255))
    _png(tmp_path / "zebras" / "z2.png", (8, 8), (0, 0, 255))
    data = load_dataset(str(tmp_path), pairing="unpaired", domains=["zebras", "horses"])
    assert (len(data.a), len(data)) == (2, 1) and torch.all(data.a[:, 2] == 1)
    with pytest.raises(DataError, match=r"no sub-folder 'donkeys'.*sub-folders: horses, zebras"):
        load_dataset(str(tmp_path), pairing="paired", domains=["donkeys", "horses"])
    with pytest.raises(DataError, match=r"sub-folders: horses, zebras"):
        load_dataset(str(tmp_path), pairing="unpaired")  # no A/B layout and no domains
    by_label = load_dataset(str(tmp_path), pairing="unpaired", domains=[1, 0])  # class indices of the folder
    assert torch.equal(by_label.a, data.a) and torch.equal(by_label.x, data.x)
    (tmp_path / "empty" / "trainA").mkdir(parents=True)
    _png(tmp_path / "empty" / "trainB" / "b.png", (8, 8), 0, mode="L")
    with pytest.raises(DataError, match=r"trainA holds no images"):
        load_dataset(str(tmp_path / "empty"), pairing="unpaired")


# ---------------------------------------------------------------- labelled data sets: domains

def test_digits_unpaired_domains() -> None:
    data = load_dataset("digits", pairing="unpaired", domains=[3, 8])
    labelled = load_dataset("digits")
    assert data.pairing == "unpaired" and data.y is None and data.name == "digits"
    assert _rows(data.a) == _rows(labelled.x[labelled.y == 3])  # every a is a 3, every 3 is an a
    assert _rows(data.x) == _rows(labelled.x[labelled.y == 8])
    named = load_dataset("digits", pairing="unpaired", domains=["3", "8"], image_size=16, channels=3)
    assert named.a.shape[1:] == named.x.shape[1:] == (3, 16, 16)
    with pytest.raises(DataError, match=r"data.domains=\[A, B\].*0, 1, 2, 3"):
        load_dataset("digits", pairing="unpaired")
    with pytest.raises(DataError, match="pairing='paired' has no pairs"):
        load_dataset("digits", pairing="paired")
    with pytest.raises(DataError, match=r"data.domains entry 12"):
        load_dataset("digits", pairing="unpaired", domains=[3, 12])


def test_multi_domain_relabel() -> None:
    data = load_dataset("digits", domains=[1, 7, 9])
    labelled = load_dataset("digits")
    assert (data.num_classes, data.class_names, data.a) == (3, ["1", "7", "9"], None)
    for new, old in enumerate([1, 7, 9]):
        assert _rows(data.x[data.y == new]) == _rows(labelled.x[labelled.y == old])
    assert len(load_dataset("digits", domains=[1, 7, 9], limit=50)) == 50
    with pytest.raises(DataError, match="twice"):
        load_dataset("digits", domains=[1, "1"])


# ---------------------------------------------------------------- a/b .npz archives

def test_ab_npz_synthetic(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "pairs.npz"
    np.savez(path, a_train=rng.integers(0, 256, (6, 8, 8), dtype=np.uint8),
             b_train=rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8),
             a_test=np.zeros((2, 8, 8), np.uint8), b_test=np.full((2, 8, 8, 3), 255, np.uint8))
    data = load_dataset(str(path), pairing="paired")
    assert data.a.shape == (6, 1, 8, 8) and data.x.shape == (6, 3, 8, 8) and data.source_shape == (1, 8, 8)
    assert len(load_dataset(str(path), pairing="paired", split="all")) == 8
    plain = load_dataset(str(path), split="test")  # pairing=None: the b images only
    assert plain.a is None and plain.pairing is None and torch.all(plain.x == 1)
    assert load_dataset(str(path), pairing="unpaired", channels=3, image_size=4).a.shape == (6, 3, 4, 4)
    with pytest.raises(DataError, match="data.domains=null"):
        load_dataset(str(path), pairing="unpaired", domains=[0, 1])


def test_facades_paired() -> None:
    path = shared_file("facades.npz")
    with np.load(path) as raw:
        first_a, first_b, test_b = raw["a_train"][0], raw["b_train"][0], raw["b_test"]
    data = load_dataset(str(path), pairing="paired")
    assert data.a.shape == data.x.shape == (339, 3, 256, 256) and data.pairing == "paired"
    expected = lambda pixels: torch.from_numpy(pixels).permute(2, 0, 1).float() / 127.5 - 1  # noqa: E731
    torch.testing.assert_close(data.a[0], expected(first_a))
    torch.testing.assert_close(data.x[0], expected(first_b))
    del data
    test = load_dataset(str(path), split="test")  # pairing=None: the photos, for unconditional GANs
    assert len(test) == 39 and test.a is None
    torch.testing.assert_close(test.x[0], expected(test_b[0]))


# ---------------------------------------------------------------- Dataset rules

def _images(n: int, value_of_row: bool = True) -> torch.Tensor:
    """(n, 1, 4, 4) images, row i filled with i / n (so rows are told apart)."""
    return (torch.arange(n, dtype=torch.float32) / n).reshape(n, 1, 1, 1).expand(n, 1, 4, 4).clone()


def _pairs(n: int = 10) -> Dataset:
    a = torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 1.5 - 1  # [-1, 0.5]
    return Dataset(name="pairs", x=a + 0.5, y=None, num_classes=0, kind="image", a=a, pairing="paired")


def test_dataset_checks_and_subset() -> None:
    with pytest.raises(DataError, match="a and pairing must be set together"):
        Dataset(name="d", x=_images(4), y=None, num_classes=0, kind="image", a=_images(4))
    with pytest.raises(DataError, match="as many a images as x images"):
        Dataset(name="d", x=_images(4), y=None, num_classes=0, kind="image", a=_images(3), pairing="paired")
    with pytest.raises(DataError, match="pairing must be one of"):
        Dataset(name="d", x=_images(4), y=None, num_classes=0, kind="image", a=_images(3), pairing="both")
    half = subset(_pairs(10), 4, seed=1)
    torch.testing.assert_close(half.x, half.a + 0.5)
    unpaired = Dataset(name="u", x=_images(10), y=None, num_classes=0, kind="image", a=_images(6), pairing="unpaired")
    cut = subset(unpaired, 5, seed=1)
    assert (len(cut.a), len(cut)) == (5, 5) and len(subset(unpaired, 8, seed=1).a) == 6
    assert Dataset(name="p", x=_images(2), y=None, num_classes=0, kind="image").source_shape is None


# ---------------------------------------------------------------- loader: a-stream, augmentation, resume

def test_loader_paired_rows_stay_aligned() -> None:
    loader = InMemoryLoader(_pairs(10), 4, seed=3)
    for _ in range(6):  # across epochs
        batch = loader.next()
        torch.testing.assert_close(batch.x, batch.a + 0.5)


def test_loader_unpaired_stream_is_independent_and_covers_a() -> None:
    a = _images(12)
    data = Dataset(name="u", x=a.clone(), y=None, num_classes=0, kind="image", a=a, pairing="unpaired")
    loader = InMemoryLoader(data, 4, seed=0)
    batches = [loader.next() for _ in range(3)]  # one epoch of a (12 = 3 x 4)
    a_rows = torch.cat([b.a[:, 0, 0, 0] for b in batches])
    x_rows = torch.cat([b.x[:, 0, 0, 0] for b in batches])
    assert sorted(a_rows.tolist()) == sorted(a[:, 0, 0, 0].tolist())  # every a once per epoch
    assert not torch.equal(a_rows, x_rows)  # same data, own order
    with pytest.raises(DataError, match=r"domain A .* \(6 samples\)"):
        InMemoryLoader(Dataset(name="u", x=_images(10), y=None, num_classes=0, kind="image", a=_images(6),
                               pairing="unpaired"), 8, seed=0)


def test_augment_shapes_range_and_shared_crop() -> None:
    images = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    data = Dataset(name="same", x=images, y=None, num_classes=0, kind="image", a=images.clone(), pairing="paired")
    plain, jittered = InMemoryLoader(data, 4, seed=2), InMemoryLoader(data, 4, seed=2, augment=True)
    for _ in range(3):
        before, after = plain.next(), jittered.next()
        assert after.x.shape == before.x.shape == (4, 3, 16, 16) and after.x.min() >= -1 and after.x.max() <= 1
        assert torch.equal(after.a, after.x)  # one crop and flip per pair
        assert not torch.allclose(after.x, before.x)  # the same rows, changed
    points = Dataset(name="pts", x=torch.zeros(10, 2), y=None, num_classes=0, kind="points")
    with pytest.raises(DataError, match="data.augment=false"):
        InMemoryLoader(points, 4, seed=0, augment=True)


@pytest.mark.parametrize("pairing", ["paired", "unpaired"])
@pytest.mark.parametrize("taken", [0, 2, 5])
def test_loader_resumes_exactly_with_a_and_augment(tmp_path: Path, pairing: str, taken: int) -> None:
    x = torch.rand(10, 1, 8, 8, generator=torch.Generator().manual_seed(4)) * 2 - 1
    a = x[:7] if pairing == "unpaired" else -x
    data = Dataset(name="r", x=x, y=torch.arange(10) % 2, num_classes=2, kind="image", a=a, pairing=pairing)
    first = InMemoryLoader(data, 3, seed=9, augment=True)
    for _ in range(taken):
        first.next()
    torch.save(first.state_dict(), tmp_path / "loader.pt")
    second = InMemoryLoader(data, 3, seed=9, augment=True)
    second.load_state_dict(torch.load(tmp_path / "loader.pt", weights_only=True))
    for _ in range(6):
        expected, got = first.next(), second.next()
        assert torch.equal(expected.x, got.x) and torch.equal(expected.a, got.a) and torch.equal(expected.y, got.y)


def test_loader_loads_an_old_state() -> None:
    data = Dataset(name="u", x=_images(10), y=None, num_classes=0, kind="image", a=_images(6), pairing="unpaired")
    state = InMemoryLoader(data, 3, seed=1, augment=True).state_dict()
    assert {"epoch_start_rng", "epoch", "position", "size", "batch_size", "seed"} <= set(state)
    old = {key: value for key, value in state.items() if not key.startswith(("a_", "augment"))}
    loader = InMemoryLoader(data, 3, seed=1, augment=True)
    loader.load_state_dict(old)
    assert loader.next().a.shape == (3, 1, 4, 4)


# ---------------------------------------------------------------- config and DataInfo

def test_config_pairing_and_domains() -> None:
    cfg = resolve("dcgan", overrides=["data.pairing=unpaired", "data.domains=[3,8]", "data.augment=true"])
    assert (cfg.data.pairing, cfg.data.domains, cfg.data.augment) == ("unpaired", [3, 8], True)
    with pytest.raises(ConfigError, match=r"data.pairing='pairs'"):
        resolve("dcgan", overrides=["data.pairing=pairs"])
    with pytest.raises(ConfigError, match=r"data.domains"):
        resolve("dcgan", overrides=["data.pairing=unpaired", "data.domains=[1,2,3]"])


def test_data_info_round_trip_and_old_dict() -> None:
    info = DataInfo("facades", (3, 64, 64), 0, "image", source_shape=(1, 64, 64), pairing="paired")
    assert DataInfo.from_dict(info.to_dict()) == info
    old = {"name": "digits", "sample_shape": [1, 8, 8], "num_classes": 10, "kind": "image", "class_names": None}
    loaded = DataInfo.from_dict(old)
    assert (loaded.source_shape, loaded.pairing, loaded.sample_shape) == (None, None, (1, 8, 8))
