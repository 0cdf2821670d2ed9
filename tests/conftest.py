"""Shared fixtures: tiny settings and the path of the offline data beside the repo."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# tiny networks and runs: every recipe trains in well under a second per step on a CPU
TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=8", "train.batch_size=4", "train.steps=2",
        "train.log_every=1", "train.sample_every=2", "train.checkpoint_every=1", "train.n_samples=4",
        "train.progress=false", "train.deterministic=true", "data.limit=64", "device=cpu"]


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    """One torch thread in every test: `make test` runs two pytest-xdist workers on the CI machine's two cores, and
    a test run alone gives the same numbers as in the suite (the thread count changes float summation order, which
    a short training run can amplify). Session-scoped, so it also holds for module-scoped fixtures that train
    before a module's first test (a module run alone in a fresh process would otherwise train them on every core)."""
    torch.set_num_threads(1)
    yield


def write_paired_npz(path: Path) -> Path:
    """A small paired data set (b = a mirrored): 16 training and 4 test pairs of 16x16 RGB images."""
    a = np.random.default_rng(0).integers(0, 256, size=(16, 16, 16, 3), dtype=np.uint8)
    np.savez(path, a_train=a, b_train=a[:, :, ::-1].copy(), a_test=a[:4], b_test=a[:4, :, ::-1].copy())
    return path


@pytest.fixture(scope="session")
def paired_npz(tmp_path_factory) -> str:  # noqa: ANN001
    """``write_paired_npz`` once per test session (the translation recipes' tiny paired data)."""
    return str(write_paired_npz(tmp_path_factory.mktemp("paired") / "pairs.npz"))


@pytest.fixture(autouse=True, scope="session")
def _session_cache(tmp_path_factory):  # noqa: ANN001, ANN202
    """No test reads or writes the user's ~/.cache/gankit: domain evaluators a test trains or loads without naming a
    cache folder go to this session's own (so a test that needs an evaluator must train it, as on a fresh machine)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GANKIT_CACHE", str(tmp_path_factory.getbasetemp() / "session-cache"))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def mnist_evaluator(tmp_path_factory):  # noqa: ANN001, ANN201
    """The MNIST evaluator, trained once per test session (per xdist worker) into a folder of its own."""
    from gankit.metrics.domain import train_evaluator

    root = shared_file("mnist.npz").parent
    return train_evaluator("mnist", root=str(root), cache_dir=tmp_path_factory.getbasetemp() / "evaluators",
                           progress=False)


@pytest.fixture(scope="module")
def evaluator_cache(tmp_path_factory):  # noqa: ANN001, ANN201
    """Domain evaluators go to a fresh cache folder for the module (the digits one trains in seconds, once)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} not found: the offline data sets live in ../shared/data beside the repo")
    return path


def seed_all(seed: int) -> None:
    """Seed torch's global generator and the shared noise stream G's z and the penalties' draws come from
    (gankit.distributed), so a test can draw the same noise a training step drew."""
    from gankit.distributed import SHARED

    torch.manual_seed(seed)
    SHARED.seed(seed)
