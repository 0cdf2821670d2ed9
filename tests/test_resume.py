"""Never lose work: a run killed with SIGKILL and resumed ends bitwise equal to an uninterrupted one."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gankit.train.checkpoint import load_checkpoint

ARGS = ["gan", "--data", "ring8", "train.steps=400", "train.checkpoint_every=20", "train.log_every=10",
        "train.sample_every=1000", "train.deterministic=true", "train.progress=false", "device=cpu",
        "model.g_width=64", "model.d_width=64", "data.limit=2000"]


def gankit_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "gankit", *args]


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def newest_checkpoint(run: Path) -> int:
    """Step of the newest numbered checkpoint file (0 if none yet)."""
    return max((int(p.stem.split("_")[1]) for p in (run / "checkpoints").glob("step_*.pt")), default=0)


def final_state(run: Path) -> dict:
    state = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert state["step"] == 400
    return state


def assert_same(a: object, b: object, where: str = "") -> None:
    """Bitwise equality of nested checkpoint states."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_sigkill_then_resume_is_bitwise_identical(tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(gankit_cmd("train", *ARGS, "--out", str(straight)), check=True, env=env(), capture_output=True)

    proc = subprocess.Popen(gankit_cmd("train", *ARGS, "--out", str(killed)), env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600  # generous: a loaded CI machine may be slow
    # wait for a numbered checkpoint at step 120 or later, then kill without warning: latest.pt is linked to
    # the newest one just after it is written, so it is at step 100 at least
    while newest_checkpoint(killed) < 120 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    interrupted_at = load_checkpoint(killed / "checkpoints" / "latest.pt")["step"]
    assert 100 <= interrupted_at < 400, "the run must be killed mid-way for this test to mean anything"

    done = subprocess.run(gankit_cmd("train", "--resume", str(killed)), env=env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    a, b = final_state(straight), final_state(killed)
    for key in ("recipe", "optimizers", "loader", "rng", "fixed"):
        assert_same(a[key], b[key], key)
    # the log has each step once, as if never interrupted
    steps = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(10, 401, 10))


def test_resume_refuses_changes_that_break_exactness(tmp_path: Path) -> None:
    import gankit
    from gankit.errors import ConfigError

    run = gankit.train("gan", "ring8", out=tmp_path / "r", overrides=["train.steps=3", "train.progress=false",
                                                                      "model.g_width=16", "model.d_width=16"])
    with pytest.raises(ConfigError, match="model.z_dim cannot change"):
        gankit.resume(run.path, ["model.z_dim=5"])
    resumed = gankit.resume(run.path, ["train.steps=5"])  # extending a run is allowed
    assert resumed.step == 5
