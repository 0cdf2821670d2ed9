"""Tests for gankit.data: registered data sets, .npz files, image folders and the resumable loader."""
from __future__ import annotations

import io
import socket
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import (DATASETS, MIXTURES, Dataset, InMemoryLoader, default_image_size, list_datasets,
                         load_dataset)
from gankit.errors import DataError

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


# ---------------------------------------------------------------- 2D mixtures

@pytest.mark.parametrize(("name", "modes", "std"), [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_mixture_shapes_modes_and_std(name: str, modes: int, std: float) -> None:
    data = load_dataset(name)
    centres, mixture_std = MIXTURES[name]
    assert (data.kind, data.num_classes, data.sample_shape, len(data)) == ("points", modes, (2,), 50_000)
    assert data.x.dtype == torch.float32 and data.y is not None and data.y.dtype == torch.int64
    assert centres.shape == (modes, 2) and mixture_std == std
    assert torch.bincount(data.y, minlength=modes).min() > 0.5 * 50_000 / modes  # every mode well present
    offsets = data.x.double() - torch.from_numpy(centres)[data.y]  # (N, 2) distance to own centre
    expected = torch.full((2,), std, dtype=torch.float64)
    torch.testing.assert_close(offsets.std(dim=0), expected, rtol=0.03, atol=0)
    for mode in range(modes):
        mode_std = offsets[data.y == mode].std().item()
        assert abs(mode_std - std) < 0.1 * std


def test_mixture_centres() -> None:
    ring, _ = MIXTURES["ring8"]
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), np.ones(8))
    np.testing.assert_allclose(ring[0], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(ring[2], [0.0, 1.0], atol=1e-12)
    grid, _ = MIXTURES["grid25"]
    assert {tuple(c) for c in grid} == {(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}


def test_mixture_seed_limit_and_splits() -> None:
    first, again = load_dataset("ring8", limit=1000, seed=3), load_dataset("ring8", limit=1000, seed=3)
    assert len(first) == 1000 and torch.equal(first.x, again.x)
    assert not torch.equal(first.x, load_dataset("ring8", limit=1000, seed=4).x)
    assert not torch.equal(first.x, load_dataset("ring8", limit=1000, seed=3, split="test").x)


def test_points_reject_image_options() -> None:
    with pytest.raises(DataError, match="image_size"):
        load_dataset("ring8", image_size=32)


# ---------------------------------------------------------------- digits

def test_digits_train_test() -> None:
    train, test = load_dataset("digits"), load_dataset("digits", split="test")
    assert train.x.shape == (1500, 1, 8, 8) and test.x.shape == (297, 1, 8, 8)
    assert train.x.dtype == torch.float32 and train.x.min() >= -1 and train.x.max() <= 1
    assert train.x.min() == -1 and train.x.max() > 0.9  # the full range is used
    assert train.num_classes == 10 and set(train.y.tolist()) == set(range(10))
    assert len(load_dataset("digits", split="all")) == 1797
    # train + test is exactly a partition of all 1797 samples (as multisets of (image, label) rows).
    def rows(split: str) -> Counter:
        data = load_dataset("digits", image_size=8, split=split)
        return Counter(map(tuple, torch.cat([data.x.flatten(1), data.y[:, None].float()], 1).tolist()))
    assert rows("train") + rows("test") == rows("all")
    assert default_image_size("digits") == 8 and default_image_size("ring8") is None


def test_digits_resize_channels_limit() -> None:
    data = load_dataset("digits", image_size=32, channels=3, limit=200, seed=1)
    assert data.x.shape == (200, 3, 32, 32)
    assert torch.equal(data.x[:, 0], data.x[:, 2])  # gray repeated
    assert set(data.y.tolist()) == set(range(10))  # a seeded shuffle keeps every class in a small subset
    assert torch.equal(data.x, load_dataset("digits", image_size=32, channels=3, limit=200, seed=1).x)


@pytest.mark.parametrize(("field", "value"),
                         [("image_size", 2), ("channels", 2), ("split", "val"), ("limit", 0)])
def test_bad_options_name_the_field(field: str, value: object) -> None:
    with pytest.raises(DataError, match=field):
        load_dataset("digits", **{field: value})


def test_unknown_name_suggests_nearest() -> None:
    with pytest.raises(DataError, match="Did you mean 'mnist'"):
        load_dataset("mnsit")


def test_missing_path() -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("./no/such/folder")


def test_list_datasets() -> None:
    listed = dict(list_datasets())
    assert set(listed) == {"ring8", "grid25", "digits", "mnist", "fashion-mnist", "cifar10", "stacked-mnist",
                            "facades", "coco-captions", "emnlp-news", "oracle", "sines", "synthetic-feedback",
                            "movielens-100k", "bricks", "moving-mnist", "shapes3d", "shapes3d-32", "shapes3d-64",
                            "modelnet10", "modelnet10-64", "mnist-captions", "fashion-mnist-captions", "cub"} <= set(DATASETS)
    assert all(description and "\n" not in description for description in listed.values())


# ---------------------------------------------------------------- image folders

def _png(path: Path, size: tuple[int, int], colour: int | tuple[int, int, int], mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)


def test_image_folder_with_classes(tmp_path: Path) -> None:
    _png(tmp_path / "cats" / "a.png", (40, 30), (255, 0, 0))
    _png(tmp_path / "cats" / "b.png", (40, 40), (255, 0, 0))
    _png(tmp_path / "dogs" / "c.png", (20, 50), (0, 0, 255))
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    (tmp_path / ".DS_Store").write_bytes(b"\x00junk")
    with pytest.warns(UserWarning, match=r"ignored 1 non-image file\(s\): dogs/notes.txt"):  # hidden files: silent
        data = load_dataset(str(tmp_path))
    assert data.class_names == ["cats", "dogs"] and data.num_classes == 2
    assert data.y.tolist() == [0, 0, 1]
    assert data.x.shape == (3, 3, 16, 16)  # smallest side of the first image (30) -> 16
    torch.testing.assert_close(data.x[0, :, 8, 8], torch.tensor([1.0, -1.0, -1.0]))
    torch.testing.assert_close(data.x[2, :, 8, 8], torch.tensor([-1.0, -1.0, 1.0]))
    gray = load_dataset(str(tmp_path), image_size=8, channels=1)
    assert gray.x.shape == (3, 1, 8, 8)


def test_image_folder_unlabelled_grayscale(tmp_path: Path) -> None:
    for index in range(3):
        _png(tmp_path / f"{index}.png", (300, 200), 255 * (index % 2), mode="L")
    data = load_dataset(str(tmp_path))
    assert data.y is None and data.num_classes == 0 and data.class_names is None
    assert data.x.shape == (3, 1, 64, 64)  # all gray -> 1 channel; 200 -> 128, capped at 64
    assert data.x[0].max() == -1 and data.x[1].min() == 1


def test_image_folder_corrupt_file(tmp_path: Path) -> None:
    _png(tmp_path / "good.png", (8, 8), (0, 0, 0))
    (tmp_path / "broken.png").write_bytes(np.random.default_rng(0).bytes(200))
    with pytest.raises(DataError, match="broken.png"):
        load_dataset(str(tmp_path))


def test_image_folder_truncated_file(tmp_path: Path) -> None:
    encoded = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(encoded, format="PNG")
    (tmp_path / "cut.png").write_bytes(encoded.getvalue()[:60])
    with pytest.raises(DataError, match="cut.png"):
        load_dataset(str(tmp_path))


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(DataError, match="no images found"), pytest.warns(UserWarning, match="readme.txt"):
        load_dataset(str(tmp_path))


# ---------------------------------------------------------------- .npz paths

def test_npz_path_train_and_test(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, x_train=rng.integers(0, 256, (12, 10, 10, 3), dtype=np.uint8), y_train=np.arange(12) % 3,
             x_test=np.full((5, 10, 10, 3), 255, np.uint8), y_test=np.zeros(5, np.int64))
    train = load_dataset(str(path))
    assert train.x.shape == (12, 3, 10, 10) and train.num_classes == 3
    assert train.y.tolist()[:4] == [0, 1, 2, 0]
    test = load_dataset(str(path), split="test", image_size=4)
    assert test.x.shape == (5, 3, 4, 4)
    torch.testing.assert_close(test.x, torch.ones_like(test.x))  # a resized white image stays white
    assert len(load_dataset(str(path), split="all")) == 17


# ---------------------------------------------------------------- shared offline files and the download path

@pytest.mark.skipif(not (SHARED_DATA / "mnist.npz").is_file(),
                    reason=f"{SHARED_DATA}/mnist.npz is absent")
def test_shared_mnist() -> None:
    data = load_dataset("mnist", root=str(SHARED_DATA))
    assert data.x.shape == (60000, 1, 28, 28) and data.y[:5].tolist() == [5, 0, 4, 1, 9]
    assert data.class_names == [str(d) for d in range(10)]


@pytest.mark.skipif(not (SHARED_DATA / "cifar10.npz").is_file(),
                    reason=f"{SHARED_DATA}/cifar10.npz is absent")
def test_shared_cifar10() -> None:
    data = load_dataset("cifar10", root=str(SHARED_DATA), split="test", limit=100)
    assert data.x.shape == (100, 3, 32, 32) and data.num_classes == 10 and data.class_names[0] == "airplane"


def test_offline_download_failure_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)  # no route out, so the download must fail
    empty = tmp_path / "empty"
    empty.mkdir()
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(2)  # fail fast rather than hang if the network black-holes
    try:
        with pytest.raises(DataError, match="mnist.npz") as caught:
            load_dataset("mnist", root=str(empty))
    finally:
        socket.setdefaulttimeout(previous)
    assert "GANKIT_DATA" in str(caught.value) and str(empty) in str(caught.value)


# ---------------------------------------------------------------- loader

def _toy(n: int = 10, labelled: bool = True) -> Dataset:
    x = torch.arange(n * 2, dtype=torch.float32).reshape(n, 2)
    y = torch.arange(n) % 3 if labelled else None
    return Dataset(name="toy", x=x, y=y, num_classes=3 if labelled else 0, kind="points")


@pytest.mark.parametrize("taken", [0, 1, 2, 3, 5])
def test_loader_resumes_exactly(tmp_path: Path, taken: int) -> None:
    data = _toy(10)
    first = InMemoryLoader(data, 4, seed=7)  # 2 batches per epoch: taken=2, 3, 5 cross epoch boundaries
    for _ in range(taken):
        first.next()
    torch.save(first.state_dict(), tmp_path / "loader.pt")
    second = InMemoryLoader(data, 4, seed=7)
    second.load_state_dict(torch.load(tmp_path / "loader.pt", weights_only=True))
    for _ in range(7):
        a, b = first.next(), second.next()
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_loader_on_cuda_matches_cpu_and_resumes() -> None:
    data = _toy(10)
    on_cpu, on_gpu = InMemoryLoader(data, 4, seed=2), InMemoryLoader(data.to("cuda"), 4, seed=2)
    for _ in range(3):
        on_cpu.next(), on_gpu.next()
    resumed = InMemoryLoader(data.to("cuda"), 4, seed=2)
    resumed.load_state_dict(on_gpu.state_dict())
    for _ in range(5):
        expected, batch, again = on_cpu.next(), on_gpu.next(), resumed.next()
        assert batch.x.is_cuda and torch.equal(batch.x.cpu(), expected.x) and torch.equal(batch.x, again.x)


def test_loader_batches_and_epochs() -> None:
    loader = InMemoryLoader(_toy(10, labelled=False), 3, seed=0)
    seen = [loader.next() for _ in range(3)]  # one epoch: 9 rows, 1 dropped
    assert all(batch.x.shape == (3, 2) and batch.y is None for batch in seen)
    rows = torch.cat([batch.x[:, 0] for batch in seen])
    assert len(set(rows.tolist())) == 9  # no repeats within an epoch
    assert loader.next().x.shape == (3, 2) and loader.epoch == 1


def test_loader_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.get_rng_state()
    loader = InMemoryLoader(_toy(10), 4, seed=0)
    for _ in range(5):
        loader.next()
    assert torch.equal(torch.get_rng_state(), before)


def test_loader_same_seed_same_stream_and_labels_follow_rows() -> None:
    a, b = InMemoryLoader(_toy(10), 5, seed=1), InMemoryLoader(_toy(10), 5, seed=1)
    for _ in range(4):
        batch, other = a.next(), b.next()
        assert torch.equal(batch.x, other.x)
        torch.testing.assert_close(batch.y, (batch.x[:, 0] / 2).long() % 3)


def test_loader_batch_too_large() -> None:
    with pytest.raises(DataError, match=r"batch_size 11.*10 samples"):
        InMemoryLoader(_toy(10), 11, seed=0)
