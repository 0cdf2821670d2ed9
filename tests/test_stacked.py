"""Tests for the stacked-mnist data set and the stacked-MNIST mode count / KL (gankit.metrics.stacked)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import shared_file  # tests/ is on sys.path under pytest; "tests." is not under .venv/bin/pytest

from gankit.data import default_image_size, list_datasets, load_dataset
from gankit.data.datasets import _stacked_indices
from gankit.metrics.domain import DomainEvaluator
from gankit.metrics.stacked import (MODES, PROTOCOL_SAMPLES, mode_statistics, stacked_mnist_modes, triple_labels,
                                    uniform_kl_floor)
from gankit.metrics.stats import MetricInputError


@pytest.fixture(scope="module")
def root() -> str:
    return str(shared_file("mnist.npz").parent)


# ---------------------------------------------------------------- the data set

def test_stacked_mnist_shape_labels_and_determinism(root: str) -> None:
    data = load_dataset("stacked-mnist", split="test", root=root)
    assert data.x.shape == (10_000, 3, 28, 28) and data.x.dtype == torch.float32
    assert data.num_classes == 1000 and data.class_names[:2] == ["000", "001"] and data.class_names[-1] == "999"
    assert default_image_size("stacked-mnist") == 28 and "stacked-mnist" in dict(list_datasets())
    # every channel is the MNIST test image its index names, and the label is 100 d_R + 10 d_G + d_B
    mnist = load_dataset("mnist", split="test", root=root)
    index = torch.from_numpy(_stacked_indices({"test": 10_000}))  # (N, 3)
    for channel in range(3):
        assert torch.equal(data.x[:, channel], mnist.x[index[:, channel], 0])
    assert torch.equal(data.y, triple_labels(mnist.y[index]))
    assert data.y.min() >= 0 and data.y.max() <= 999 and len(data.y.unique()) > 990
    assert torch.equal(load_dataset("stacked-mnist", split="test", root=root).x, data.x)  # fixed, not seeded
    # limit builds only the kept samples: the same ones as a full build followed by the usual seeded subset
    small = load_dataset("stacked-mnist", split="test", root=root, limit=50, seed=7)
    keep = torch.from_numpy(np.random.default_rng(7).permutation(10_000)[:50])
    assert torch.equal(small.x, data.x[keep]) and torch.equal(small.y, data.y[keep])


def test_stacked_mnist_train_split_draws_from_mnist_train(root: str) -> None:
    train = load_dataset("stacked-mnist", split="train", root=root, limit=1000, seed=0)
    assert train.x.shape == (1000, 3, 28, 28)
    index = _stacked_indices({"train": 60_000})
    assert index.shape == (60_000, 3) and index.min() >= 0 and index.max() < 60_000


# ---------------------------------------------------------------- the statistics, by hand

def test_mode_statistics_hand_computed() -> None:
    one = mode_statistics(torch.full((26_000,), 123))
    assert one == {"modes": 1, "kl": pytest.approx(math.log(1000), abs=1e-12), "n": 26_000}
    halves = mode_statistics(torch.tensor([5, 7] * 10))
    assert halves["modes"] == 2 and halves["kl"] == pytest.approx(math.log(500), abs=1e-12)
    # 3/4 and 1/4 of the mass: KL = 3/4 log(750) + 1/4 log(250)
    skew = mode_statistics(np.array([1, 1, 1, 2]))
    assert skew["kl"] == pytest.approx(0.75 * math.log(750) + 0.25 * math.log(250), abs=1e-12)
    uniform = mode_statistics(torch.arange(MODES).repeat(3))
    assert uniform == {"modes": 1000, "kl": 0.0, "n": 3000}
    with pytest.raises(MetricInputError, match="0..999"):
        mode_statistics(torch.tensor([1000]))
    assert uniform_kl_floor(PROTOCOL_SAMPLES) == pytest.approx(999 / 52_000)


def test_stacked_modes_checks_inputs(mnist_evaluator: DomainEvaluator) -> None:
    with pytest.raises(MetricInputError, match=r"\(N, 3, H, W\)"):
        stacked_mnist_modes(torch.zeros(4, 1, 28, 28), mnist_evaluator)


# ---------------------------------------------------------------- with the MNIST evaluator

def test_real_stacked_mnist_covers_all_modes(mnist_evaluator: DomainEvaluator, root: str) -> None:
    real = load_dataset("stacked-mnist", split="train", root=root, limit=PROTOCOL_SAMPLES, seed=0)
    result = stacked_mnist_modes(real.x, mnist_evaluator)
    assert result["n"] == PROTOCOL_SAMPLES
    assert result["modes"] >= 995 and result["kl"] < 0.05, result
    # the classifier's errors move little mass: KL within a few times the sampling floor of ~0.019
    truth = mode_statistics(real.y)
    assert abs(result["kl"] - truth["kl"]) < 0.01, (result, truth)


def test_collapsed_samples_give_one_and_eight_modes(mnist_evaluator: DomainEvaluator, root: str) -> None:
    mnist = load_dataset("mnist", split="test", root=root)
    _, logits = mnist_evaluator.extract(mnist.x)
    right = logits.argmax(dim=1) == mnist.y  # the counting is under test here, not the classifier
    repeated = mnist.x[right][:1].expand(3000, 3, 28, 28)  # one image in every channel, 3000 times
    result = stacked_mnist_modes(repeated, mnist_evaluator)
    assert result == {"modes": 1, "kl": pytest.approx(math.log(1000), abs=1e-9), "n": 3000}

    # digits 0 and 1 only, each of the 8 triples 100 times with different images: KL = log(1000 / 8)
    rng = np.random.default_rng(0)
    pools = [torch.nonzero(right & (mnist.y == digit)).flatten() for digit in (0, 1)]
    triples = torch.tensor([[(t >> 2) & 1, (t >> 1) & 1, t & 1] for t in range(8)]).repeat_interleave(100, dim=0)
    index = torch.stack([pools[d][rng.integers(0, len(pools[d]))] for d in triples.flatten().tolist()]).view(-1, 3)
    images = mnist.x[index][:, :, 0]  # (800, 3, 28, 28)
    result = stacked_mnist_modes(images, mnist_evaluator)
    assert result == {"modes": 8, "kl": pytest.approx(math.log(125), abs=1e-9), "n": 800}
