"""train.minutes: a wall-clock budget that fixes train.steps from a measured warm-up."""
from __future__ import annotations

import time

import pytest
import torch
import yaml

import gankit
from gankit.cli import main
from gankit.train.budget import Costs, Schedule, format_left, steps_for_budget
from gankit.train.checkpoint import load_checkpoint

FAST = ["train.progress=false", "device=cpu", "model.g_width=16", "model.d_width=16", "train.deterministic=true",
        "train.sample_every=40", "train.checkpoint_every=40", "train.log_every=10"]


def test_steps_for_budget_pays_for_the_periodic_work() -> None:
    """Steps of two updates of 0.05 s, a grid every 10 steps (0.5 s), a checkpoint every 20 (1 s), each also at
    the end: N * (0.1 + 0.05 + 0.05) + 1.5 <= 0.97 * 100 s  ->  N = 477."""
    costs = Costs(update=0.05, sample=0.5, checkpoint=1.0)
    assert steps_for_budget(100.0, costs, Schedule(sample_every=10, checkpoint_every=20)) == 477
    assert steps_for_budget(100.0, Costs(update=0.05), Schedule(10, 20)) == 970  # nothing periodic: 97 / 0.1
    with_eval = Costs(update=0.05, sample=0.5, checkpoint=1.0, evaluation=4.0)
    assert steps_for_budget(100.0, with_eval, Schedule(10, 20, eval_every=100)) == 381  # (97 - 5.5) / 0.24
    assert steps_for_budget(0.5, costs, Schedule(10, 20)) == 1  # never below one step


def test_steps_for_budget_prices_each_steps_updates() -> None:
    """WGAN's schedule: 101 updates in each of the first 25 steps, 6 after. 97 s at 0.01 s an update buys the
    25 boosted steps (25.25 s) and (97 - 25.25) / 0.06 = 1195.8 more."""
    wgan = lambda step: 101 if step <= 25 else 6  # noqa: E731
    assert steps_for_budget(100.0, Costs(update=0.01), Schedule(0, 0), wgan) == 25 + 1195


def test_format_left() -> None:
    assert format_left(245.4) == "4:05 left"
    assert format_left(-3) == "0:00 left"


def test_minutes_run_equals_the_steps_run_it_chose(tmp_path) -> None:  # noqa: ANN001
    """The warm-up is undone: a run with train.minutes trains exactly as train.steps=N (the N it saved) would."""
    t0 = time.time()
    budget = gankit.train("dcgan", "digits", out=tmp_path / "budget", overrides=FAST + ["train.minutes=0.15"])
    elapsed = time.time() - t0
    saved = yaml.safe_load((budget.path / "config.yaml").read_text())["train"]
    n = saved["steps"]
    assert saved["minutes"] == 0.15 and budget.step == n
    assert n >= 20, n  # dozens of 8x8 DCGAN steps per second even on a loaded 2-core machine
    assert elapsed < 60, elapsed  # a 9-second budget; generous slack for a loaded CI machine, but not unbounded
    plain = gankit.train("dcgan", "digits", out=tmp_path / "plain", overrides=FAST + [f"train.steps={n}"])
    a = load_checkpoint(budget.path / "checkpoints" / "latest.pt")["recipe"]
    b = load_checkpoint(plain.path / "checkpoints" / "latest.pt")["recipe"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # resuming keeps the schedule it chose (no new warm-up); more steps are asked for explicitly
    resumed = gankit.resume(budget.path, [f"train.steps={n + 5}"])
    assert resumed.step == n + 5
    assert yaml.safe_load((budget.path / "config.yaml").read_text())["train"]["steps"] == n + 5


@pytest.mark.parametrize("value", ["0", "-2", "abc", "nan", "[1]"])
def test_bad_budget_is_refused_and_nothing_is_written(tmp_path, capsys, value: str) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    assert main(["train", "dcgan", "--data", "digits", "--out", str(out), f"train.minutes={value}"]) == 2
    err = capsys.readouterr().err
    assert "train.minutes" in err, err
    assert not out.exists()


def test_bad_budget_leaves_an_existing_run_untouched(tmp_path, capsys) -> None:  # noqa: ANN001
    run = gankit.train("dcgan", "digits", out=tmp_path / "run", overrides=FAST + ["train.steps=3"])
    before = {p: p.read_bytes() for p in run.path.rglob("*") if p.is_file()}
    assert main(["train", "dcgan", "--data", "digits", "--out", str(run.path), "--minutes", "-1"]) == 2
    assert main(["train", "--resume", str(run.path), "--minutes", "1"]) == 2
    assert "--minutes" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in run.path.rglob("*") if p.is_file()} == before
