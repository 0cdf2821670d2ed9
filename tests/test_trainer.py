"""The trainer's guarantees: NaN stops training cleanly, logs and TensorBoard are written, amp runs."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch

import gankit
from gankit.losses.penalties import PENALTIES, Penalty
from gankit.train.checkpoint import load_checkpoint
from tests.conftest import TINY


@dataclass
class NaNAtStep(Penalty):
    """Fault injection: a penalty that is NaN at one step and zero otherwise."""

    step: int = 3

    def loss(self, *, critic, real, fake, step):  # noqa: ANN001, ANN201
        value = critic(real).mean() * 0.0
        return value + float("nan") if step == self.step else value


def test_nan_stops_with_phase_and_step_and_keeps_the_checkpoint(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setitem(PENALTIES._items, "nan_at", NaNAtStep)
    out = tmp_path / "boom"
    overrides = [o for o in TINY if not o.startswith("train.steps")] + [
        "train.steps=10", "penalties=[{name: nan_at, step: 3}]", "data.image_size=16"]
    with pytest.raises(gankit.NonFiniteLossError, match=r"phase 'D' at step 3 \(terms nan_at\)"):
        gankit.train("dcgan", "digits", out=out, overrides=overrides)
    state = load_checkpoint(out / "checkpoints" / "latest.pt")
    assert state["step"] == 2  # checkpoint_every=1: the last finished step, untouched by the bad update
    assert all(torch.isfinite(v).all() for v in state["recipe"].values() if v.is_floating_point())


def test_deferred_finite_check_names_the_first_bad_update_and_writes_nothing_after_it(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """train.finite_check=log (a GPU's default: no host sync per update) checks before each log row, sample grid
    and checkpoint: the error names the first non-finite update, and no file is written from the bad weights."""
    monkeypatch.setitem(PENALTIES._items, "nan_at", NaNAtStep)
    out = tmp_path / "boom"
    overrides = [o for o in TINY if not o.startswith(("train.steps", "train.log_every", "train.sample_every",
                                                      "train.checkpoint_every"))]
    overrides += ["train.steps=10", "train.log_every=5", "train.sample_every=4", "train.checkpoint_every=2",
                  "train.finite_check=log", "penalties=[{name: nan_at, step: 3}]", "data.image_size=16"]
    with pytest.raises(gankit.NonFiniteLossError, match=r"phase 'D' at step 3 \(found at step 4"):
        gankit.train("dcgan", "digits", out=out, overrides=overrides)
    state = load_checkpoint(out / "checkpoints" / "latest.pt")
    assert state["step"] == 2 and all(torch.isfinite(v).all() for v in state["recipe"].values() if v.is_floating_point())
    assert not list((out / "samples").glob("step_0000004*"))  # the step-4 grid would show NaN weights' samples


def test_cli_reports_nan_with_exit_2(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from gankit.cli import main

    monkeypatch.setitem(PENALTIES._items, "nan_at", NaNAtStep)
    code = main(["train", "dcgan", "--out", str(tmp_path / "r"), *TINY, "train.steps=5", "penalties=[nan_at]"])
    assert code == 2 and "non-finite loss in phase 'D' at step 3" in capsys.readouterr().err


def test_metrics_and_tensorboard_are_written(tmp_path) -> None:  # noqa: ANN001
    run = gankit.train("wgan-gp", "digits", out=tmp_path / "r", overrides=TINY + ["data.image_size=16"])
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert {"D/adv", "D/gp", "G/adv", "lr/G", "lr/D"} <= rows[-1].keys()
    assert rows[-1]["D/gp"] > 0  # 10 mean((|grad D| - 1)^2): an untrained critic's gradient norm is not exactly 1
    assert list((run.path / "tb").glob("events.out.tfevents.*"))
    assert "wasserstein" in (run.path / "config.yaml").read_text()


def test_bf16_autocast_trains(tmp_path) -> None:  # noqa: ANN001
    run = gankit.train("dcgan", "digits", out=tmp_path / "r", overrides=TINY + ["data.image_size=16", "amp=bf16"])
    assert torch.isfinite(run.sample(4)).all()


def test_ttur_and_lr_decay(tmp_path) -> None:  # noqa: ANN001
    overrides = [o for o in TINY if not o.startswith("train.steps")] + [
        "train.steps=4", "optim.lr_g=1e-4", "optim.lr_d=4e-4", "optim.decay_from=0.5", "data.image_size=16"]
    run = gankit.train("dcgan", "digits", out=tmp_path / "r", overrides=overrides)
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    # logged after each step's scheduler update: constant until step 2, then linear to 0 at step 4
    assert [r["lr/G"] for r in rows] == pytest.approx([1e-4, 1e-4, 0.5e-4, 0.0])
    assert [r["lr/D"] for r in rows] == pytest.approx([4e-4, 4e-4, 2e-4, 0.0])
