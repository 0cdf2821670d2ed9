"""Tests for the domain evaluator (gankit.metrics.domain) and class / code accuracy (gankit.metrics.conditional).

The MNIST evaluator is trained once per session into the session's temporary folder (about a
minute on two CPU threads); every other evaluator here trains on 8x8 or tiny data in seconds.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.testing import assert_close

import gankit
from gankit.data import load_dataset
from gankit.metrics import fid, inception_score
from gankit.metrics.conditional import class_accuracy, code_accuracy
from gankit.metrics.domain import (DomainEvaluator, EvaluatorError, cache_folder, cache_path, describe,
                                   load_evaluator, train_evaluator)
from gankit.metrics.extractor import sha256_file
from gankit.metrics.stats import MetricInputError
from conftest import shared_file  # tests/ is on sys.path under pytest; "tests." is not under .venv/bin/pytest


@pytest.fixture(scope="module")
def digits_evaluator(tmp_path_factory: pytest.TempPathFactory) -> DomainEvaluator:
    return train_evaluator("digits", cache_dir=tmp_path_factory.mktemp("digits_cache"), progress=False)


# ---------------------------------------------------------------- class and code accuracy

def test_class_accuracy_hand_computed() -> None:
    logits = torch.tensor([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0], [0, 5.0, 0]])  # argmax 0, 1, 2, 1
    assert class_accuracy(logits, torch.tensor([0, 1, 2, 2])) == 0.75
    assert class_accuracy(np.array([3, 3, 1]), [3, 3, 1]) == 1.0
    with pytest.raises(MetricInputError, match="same length"):
        class_accuracy([0, 1], [0])
    with pytest.raises(MetricInputError, match="empty"):
        class_accuracy([], [])


def test_code_accuracy_permutation_gives_one() -> None:
    permutation = [3, 7, 0, 9, 1, 8, 2, 6, 5, 4]
    codes = torch.arange(10).repeat(5)
    predicted = torch.tensor(permutation)[codes]
    accuracy, mapping = code_accuracy(codes, predicted)
    assert accuracy == 1.0 and mapping == dict(enumerate(permutation))
    one_hot = F.one_hot(predicted, 10).float()  # logits are accepted too
    assert code_accuracy(codes, one_hot) == (1.0, dict(enumerate(permutation)))


def test_code_accuracy_known_confusion() -> None:
    # confusion rows (codes) x columns (classes): [[2, 1, 0], [1, 2, 0], [1, 0, 1]] -> best diagonal 2 + 2 + 1
    codes = [0, 0, 0, 1, 1, 1, 2, 2]
    predicted = [0, 0, 1, 1, 1, 0, 2, 0]
    assert code_accuracy(codes, predicted) == (5 / 8, {0: 0, 1: 1, 2: 2})


def test_code_accuracy_more_codes_than_classes_and_fewer() -> None:
    # 4 code values, 2 classes: rows [[0, 2], [2, 0], [1, 1], [2, 0]] -> two pairs, 2 + 2 of 8
    accuracy, mapping = code_accuracy([0, 0, 1, 1, 2, 2, 3, 3], [1, 1, 0, 0, 1, 0, 0, 0])
    assert accuracy == 0.5 and len(mapping) == 2 and mapping[0] == 1 and mapping.get(1, mapping.get(3)) == 0
    # 2 code values, 6 classes: code 0 -> class 3 (2 samples), code 1 -> class 5 or 4 (1 of 2)
    accuracy, mapping = code_accuracy([0, 0, 1, 1], [3, 3, 5, 4])
    assert accuracy == 0.75 and mapping[0] == 3 and mapping[1] in (4, 5)


def test_class_balance_closed_forms() -> None:
    from gankit.metrics.class_balance import class_balance

    assert class_balance(np.arange(40) % 4, 4) == {"class_entropy": 1.0, "class_min_share": 0.25}
    assert class_balance([2] * 9, 10) == {"class_entropy": 0.0, "class_min_share": 0.0}
    # shares (1/2, 1/2, 0, 0): entropy log 2 / log 4; logits give the number of classes
    assert_close(class_balance([0, 1], 4)["class_entropy"], 0.5)
    assert class_balance(torch.eye(3)[[0, 0, 1]])["class_min_share"] == 0.0
    with pytest.raises(MetricInputError, match="empty"):
        class_balance([], 10)


# ---------------------------------------------------------------- small evaluators, cache round trip

def test_digits_evaluator_accuracy_and_cache_round_trip(digits_evaluator: DomainEvaluator) -> None:
    ev = digits_evaluator
    assert ev.info["test_accuracy"] > 0.95 and ev.info["test_split"] == "test split"
    assert (ev.name, ev.num_classes, ev.image_size, ev.channels) == ("domain:digits", 10, 8, 1)
    assert ev.path.name == "digits-8px-1ch.pt" and ev.path.is_file()
    assert ev.protocol()["weights_sha256"] == sha256_file(ev.path) == ev.weights_sha256
    assert not list(ev.path.parent.glob("*.tmp"))  # the atomic write left nothing behind

    again = load_evaluator("digits", cache_dir=ev.path.parent)
    x = load_dataset("digits", split="test").x
    f1, l1 = ev.extract(x)
    f2, l2 = again.extract(x)
    assert torch.equal(f1, f2) and torch.equal(l1, l2)
    assert f1.shape == (len(x), ev.feature_dim) and f1.dtype == torch.float32
    assert again.protocol() == ev.protocol() and again.info == ev.info
    # any size or channel count is converted, and the protocol says how
    f3, _ = again.extract(x.repeat(1, 3, 4, 4)[:10])
    assert f3.shape == (10, ev.feature_dim) and "bilinear to 8x8" in again.protocol()["resize"]
    text = describe(again)
    assert "digits" in text and str(ev.path) in text and ev.weights_sha256 in text and "%" in text
    # an up-to-date cache is reused, not retrained
    reused = train_evaluator("digits", cache_dir=ev.path.parent, progress=False)
    assert reused.from_cache and reused.weights_sha256 == ev.weights_sha256


def test_missing_cache_says_how_to_train(tmp_path: Path) -> None:
    with pytest.raises(EvaluatorError, match=r"gankit evaluator train digits"):
        load_evaluator("digits", cache_dir=tmp_path)


def test_corrupt_cache_is_a_clear_error(digits_evaluator: DomainEvaluator, tmp_path: Path) -> None:
    broken = cache_path("digits", 8, 1, tmp_path)
    broken.write_bytes(digits_evaluator.path.read_bytes()[:5000])  # truncated
    with pytest.raises(EvaluatorError, match=r"unreadable.*--force"):
        load_evaluator("digits", cache_dir=tmp_path)
    torch.save({"something": torch.zeros(2)}, broken)  # a torch file, but not an evaluator
    with pytest.raises(EvaluatorError, match="not a gankit domain evaluator"):
        load_evaluator("digits", cache_dir=tmp_path)


def _digits_npz(path: Path, *, flip_first: bool = False) -> Path:
    data = load_dataset("digits", split="all")
    pixels = ((data.x[:, 0] + 1) * 127.5).round().to(torch.uint8).numpy()  # (N, 8, 8)
    if flip_first:
        pixels[0] = 255 - pixels[0]
    np.savez(path, x_train=pixels, y_train=data.y.numpy())
    return path


def test_changed_data_fingerprint_is_a_clear_error(tmp_path: Path) -> None:
    npz = _digits_npz(tmp_path / "mydigits.npz")
    ev = train_evaluator(str(npz), cache_dir=tmp_path / "cache", epochs=2, progress=False)
    assert ev.info["test_split"].startswith("held-out 10%") and ev.info["n_test"] == 180
    assert load_evaluator(str(npz), cache_dir=tmp_path / "cache").weights_sha256 == ev.weights_sha256
    _digits_npz(npz, flip_first=True)  # one image changes
    with pytest.raises(EvaluatorError, match=r"different .* data .*--force"):
        load_evaluator(str(npz), cache_dir=tmp_path / "cache")
    retrained = train_evaluator(str(npz), cache_dir=tmp_path / "cache", epochs=2, progress=False)
    assert not retrained.from_cache and retrained.info["fingerprint"] != ev.info["fingerprint"]


def test_labelled_image_folder_trains(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for label, (name, bright) in enumerate([("dark", False), ("light", True)]):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(30):
            pixels = rng.integers(150, 256, (16, 16)) if bright else rng.integers(0, 100, (16, 16))
            Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "imgs" / name / f"{i}.png")
    ev = train_evaluator(str(tmp_path / "imgs"), cache_dir=tmp_path / "cache", progress=False)
    assert ev.info["class_names"] == ["dark", "light"] and ev.num_classes == 2
    assert ev.info["test_accuracy"] == 1.0 and ev.info["n_test"] == 6
    assert ev.path.parent == tmp_path / "cache" and ev.path.name.startswith("imgs-")
    assert load_evaluator(str(tmp_path / "imgs"), cache_dir=tmp_path / "cache").info == ev.info


def test_unlabelled_or_point_data_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "nolabels.npz", x_train=np.zeros((20, 8, 8), np.uint8))
    with pytest.raises(EvaluatorError, match="no class labels"):
        train_evaluator(str(tmp_path / "nolabels.npz"), cache_dir=tmp_path, progress=False)
    with pytest.raises(EvaluatorError, match="point data set"):
        train_evaluator("ring8", cache_dir=tmp_path, progress=False)


def test_cache_folder_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "env"))
    assert cache_folder() == tmp_path / "env" / "evaluators"
    assert cache_folder(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("GANKIT_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder() == tmp_path / "home" / ".cache" / "gankit" / "evaluators"
    assert cache_path("mnist", 28, 1, tmp_path).name == "mnist-28px-1ch.pt"


# ---------------------------------------------------------------- the MNIST evaluator

def test_mnist_evaluator_accuracy(mnist_evaluator: DomainEvaluator) -> None:
    info = mnist_evaluator.info
    assert info["test_accuracy"] >= 0.99, describe(mnist_evaluator)
    assert (info["n_train"], info["n_test"], info["test_split"]) == (60_000, 10_000, "test split")
    assert mnist_evaluator.path.name == "mnist-28px-1ch.pt"


def test_mnist_inception_score_of_real_digits(mnist_evaluator: DomainEvaluator) -> None:
    test = load_dataset("mnist", split="test", root=str(shared_file("mnist.npz").parent))
    _, logits = mnist_evaluator.extract(test.x, 1000)
    score, _ = inception_score(F.softmax(logits.double(), dim=1))
    assert 9.7 <= score <= 10.0


def test_mnist_fid_separates_real_from_untrained_samples(mnist_evaluator: DomainEvaluator, tmp_path: Path) -> None:
    root = str(shared_file("mnist.npz").parent)
    n = 2000
    train = load_dataset("mnist", split="train", root=root, limit=n, seed=1)
    test = load_dataset("mnist", split="test", root=root, limit=n, seed=2)
    run = gankit.train("dcgan", "mnist", out=tmp_path / "run", overrides=[
        "train.steps=1", "train.progress=false", "device=cpu", f"data.root={root}", "data.limit=256",
        "train.batch_size=16", "model.g_width=16", "model.d_width=16", "train.sample_every=1",
        "train.checkpoint_every=1", "train.n_samples=4"])
    fake = run.sample(n, seed=0)
    assert fake.shape == (n, 1, 28, 28)
    real_a, real_b, fake_f = (mnist_evaluator.extract(x)[0] for x in (train.x, test.x, fake))
    fid_real, fid_fake = fid(real_a, real_b), fid(real_b, fake_f)
    assert fid_fake > 50 * fid_real and math.isfinite(fid_fake), (fid_real, fid_fake)


# ---------------------------------------------------------------- InfoGAN, end to end

def test_infogan_code_matches_digit_classes(digits_evaluator: DomainEvaluator, tmp_path: Path) -> None:
    """InfoGAN learns its 10-way code without labels; the digits evaluator finds the code's values far above
    chance (10%). Measured at 1,500 steps: 61%, 54%, 58% for seeds 0, 1, 2 (3,000 steps: 60%, 62%)."""
    run = gankit.train("infogan", "digits", out=tmp_path / "run",
                       overrides=["train.steps=1500", "train.progress=false", "device=cpu"])
    codes = torch.arange(10).repeat_interleave(100)
    _, logits = digits_evaluator.extract(run.sample(len(codes), labels=codes, seed=0))
    accuracy, mapping = code_accuracy(codes, logits)
    assert accuracy > 0.35 and sorted(mapping) == list(range(10)), (accuracy, mapping)
