"""Shared fixtures: tiny settings and the path of the offline data beside the repo."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# tiny networks and runs: every recipe trains in well under a second per step on a CPU
TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=8", "train.batch_size=4", "train.steps=2",
        "train.log_every=1", "train.sample_every=2", "train.checkpoint_every=1", "train.n_samples=4",
        "train.progress=false", "train.deterministic=true", "data.limit=64", "device=cpu"]


@pytest.fixture(autouse=True)
def _torch_threads():
    """Two threads at most: the CI machine has two cores (fewer when OMP_NUM_THREADS says so)."""
    torch.set_num_threads(min(2, int(os.environ.get("OMP_NUM_THREADS", "2"))))
    yield


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} not found: the offline data sets live in ../shared/data beside the repo")
    return path
