"""Checkpoints: round trips, rotation, refusal of crafted pickles, corrupt files, atomic writes, RNG state."""
from __future__ import annotations

import io
import pathlib
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.errors import CheckpointError
from gankit.train import checkpoint as ckpt
from gankit.train.checkpoint import LATEST, atomic_save, load_checkpoint, rng_state, save_checkpoint, set_rng_state


def nested_state(step: int) -> dict:
    g = torch.Generator().manual_seed(step)
    return {
        "step": step,
        "models": {"G": {"w": torch.randn(3, 2, generator=g), "b": torch.arange(4, dtype=torch.int64) + step},
                   "D": {"w": torch.randn(5, generator=g, dtype=torch.float64)}},
        "optim": {"lr": 2e-4 * step, "betas": [0.5, 0.999], "state": [{"t": step, "m": torch.ones(2) * step}]},
        "config": {"name": f"run-{step}", "tags": ["a", "b"], "ema": None, "flag": True},
        "history": [1.5, -2.0, float(step)],
        "shape": (1, 16, 16),
    }


def assert_same(a, b) -> None:  # noqa: ANN001
    """Deep equality with exact tensor comparison (dtype and values)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    else:
        assert a == b


def leftovers(folder: Path) -> list[str]:
    """Temporary files (dot-prefixed) left in a checkpoint folder."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_atomic_save_round_trip(tmp_path: Path) -> None:
    state = nested_state(3)
    atomic_save(state, tmp_path / "x.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pt"]
    loaded = load_checkpoint(tmp_path / "x.pt")
    assert_same(loaded, state)
    assert loaded["models"]["G"]["w"].sum().item() == pytest.approx(state["models"]["G"]["w"].sum().item())
    assert loaded["optim"]["lr"] == 2e-4 * 3 and loaded["config"]["name"] == "run-3" and loaded["shape"] == (1, 16, 16)


def test_save_checkpoint_round_trip_and_latest(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt" / "deep"  # created on demand
    path = save_checkpoint(nested_state(7), folder, step=7, keep=2)
    assert path == folder / LATEST
    assert sorted(p.name for p in folder.iterdir()) == ["latest.pt", "step_0000007.pt"]
    assert_same(load_checkpoint(path), nested_state(7))
    assert_same(load_checkpoint(folder / "step_0000007.pt"), nested_state(7))


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_keep_rotates_numbered_files(tmp_path: Path, keep: int) -> None:
    steps = [10, 20, 30, 40, 50]
    for step in steps:
        save_checkpoint(nested_state(step), tmp_path, step=step, keep=keep)
    numbered = sorted(p.name for p in tmp_path.glob("step_*.pt"))
    assert numbered == [f"step_{s:07d}.pt" for s in steps[-keep:]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(numbered + ["latest.pt"])
    latest = load_checkpoint(tmp_path / LATEST)
    assert latest["step"] == 50
    assert_same(latest, nested_state(50))
    for s in steps[-keep:]:
        assert load_checkpoint(tmp_path / f"step_{s:07d}.pt")["step"] == s


def test_keep_orders_steps_numerically(tmp_path: Path) -> None:
    """step 100 is newer than step 99 (zero padding), so 99 is the one rotated out."""
    for step in (99, 100):
        save_checkpoint({"step": step}, tmp_path, step=step, keep=1)
    assert sorted(p.name for p in tmp_path.glob("step_*.pt")) == ["step_0000100.pt"]
    assert load_checkpoint(tmp_path / LATEST) == {"step": 100}


# ---------------------------------------------------------------- unsafe and broken files


class TouchOnLoad:
    """Unpickling this calls Path.touch(marker): arbitrary code execution if loaded unsafely."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (pathlib.Path.touch, (self.marker,))


def test_payload_is_live_under_plain_pickle(tmp_path: Path) -> None:
    """Control: the crafted object really executes code when unpickled without restrictions."""
    marker = tmp_path / "control-marker"
    data = pickle.dumps({"x": TouchOnLoad(marker)})
    assert not marker.exists()
    pickle.loads(data)
    assert marker.exists()


@pytest.mark.parametrize("writer", ["pickle", "torch"])
def test_crafted_pickle_is_refused_and_not_executed(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"step": 1, "weights": torch.zeros(2), "x": TouchOnLoad(marker)}
    if writer == "pickle":
        with open(path, "wb") as f:
            pickle.dump(payload, f, protocol=2)  # torch.load's own protocol
    else:
        torch.save(payload, path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)
    assert not marker.exists()


def test_truncated_checkpoint_is_corrupt(tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    atomic_save(nested_state(1), good)
    data = good.read_bytes()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt") as err:
        load_checkpoint(bad)
    assert str(bad) in str(err.value)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(empty)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"PK\x03\x04 this is not a zip archive at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(garbage)


@pytest.mark.parametrize("data", [b"hello world\n", b"e[}2ld74cg0m }5", b"j.h[", b"\x80\x02", b"\x80\x02}q\x00."],
                         ids=["text", "pop-empty", "short-int", "eof", "bad-magic"])
def test_garbage_bytes_are_corrupt(tmp_path: Path, data: bytes) -> None:
    """Garbage makes torch.load raise KeyError, IndexError, struct.error, EOFError...: all become CheckpointError."""
    path = tmp_path / "garbage.pt"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nothing.pt")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path)  # a folder is not a checkpoint


# ---------------------------------------------------------------- atomic writes


class FailsWhileSaved:
    """Raises from inside torch.save, after part of the object has been pickled."""

    def __reduce__(self):  # noqa: ANN204
        raise OSError("simulated crash mid-write")


def test_crash_inside_torch_save_keeps_old_latest(tmp_path: Path) -> None:
    save_checkpoint(nested_state(1), tmp_path, step=1, keep=3)
    before = sorted(p.name for p in tmp_path.iterdir())
    bad = {**nested_state(2), "boom": FailsWhileSaved()}
    with pytest.raises(OSError, match="simulated crash"):
        save_checkpoint(bad, tmp_path, step=2, keep=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == before == ["latest.pt", "step_0000001.pt"]
    assert leftovers(tmp_path) == []
    assert_same(load_checkpoint(tmp_path / LATEST), nested_state(1))


def test_partial_write_then_crash_keeps_old_latest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.save writes half a real checkpoint, then the process 'dies' (raises)."""
    save_checkpoint(nested_state(1), tmp_path, step=1, keep=3)
    buf = io.BytesIO()
    torch.save(nested_state(2), buf)
    half = buf.getvalue()[: len(buf.getvalue()) // 2]
    written: list[str] = []

    def partial_save(obj, f) -> None:  # noqa: ANN001
        f.write(half)
        f.flush()
        written.append(f.name)
        raise OSError("No space left on device")

    monkeypatch.setattr(ckpt.torch, "save", partial_save)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(nested_state(2), tmp_path, step=2, keep=3)
    with pytest.raises(OSError, match="No space left"):
        atomic_save(nested_state(2), tmp_path / LATEST)  # even a direct overwrite of latest.pt
    monkeypatch.undo()
    assert len(written) == 2 and all(Path(w).name.startswith(".") for w in written)  # went to temporary files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pt", "step_0000001.pt"]
    assert leftovers(tmp_path) == []
    assert_same(load_checkpoint(tmp_path / LATEST), nested_state(1))


def test_overwrite_replaces_contents(tmp_path: Path) -> None:
    """Saving the same step again replaces both the numbered file and latest.pt."""
    save_checkpoint({"v": 1}, tmp_path, step=5, keep=2)
    save_checkpoint({"v": 2}, tmp_path, step=5, keep=2)
    assert load_checkpoint(tmp_path / LATEST) == {"v": 2}
    assert load_checkpoint(tmp_path / "step_0000005.pt") == {"v": 2}
    assert leftovers(tmp_path) == []


def test_latest_survives_rotation_of_its_numbered_file(tmp_path: Path) -> None:
    """latest.pt may be a hard link: deleting the numbered file must not break it (keep=0)."""
    save_checkpoint({"v": 1}, tmp_path, step=1, keep=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pt"]
    assert load_checkpoint(tmp_path / LATEST) == {"v": 1}


# ---------------------------------------------------------------- RNG state


def draw() -> tuple[torch.Tensor, np.ndarray, np.ndarray, list[float]]:
    return (torch.rand(5), np.random.rand(4), np.random.randn(3),
            [random.random(), random.random(), random.gauss(0.0, 1.0)])


def assert_draws_equal(a, b) -> None:  # noqa: ANN001
    assert torch.equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])
    assert a[3] == b[3]


def test_rng_state_round_trip() -> None:
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.randn(1)  # an odd number of normals: numpy caches the second one (has_gauss = 1)
    random.gauss(0.0, 1.0)  # likewise python keeps gauss_next
    state = rng_state()
    assert state["numpy"]["has_gauss"] == 1 and isinstance(state["numpy"]["gauss"], float)
    expected = draw()
    draw()  # advance everything further
    set_rng_state(state)
    assert_draws_equal(draw(), expected)
    set_rng_state(state)  # restoring twice gives the same again (state is not consumed)
    assert_draws_equal(draw(), expected)


def test_rng_state_survives_weights_only_load(tmp_path: Path) -> None:
    torch.manual_seed(11)
    np.random.seed(12)
    random.seed(13)
    state = rng_state()
    expected = draw()
    buf = io.BytesIO()
    torch.save({"rng": state}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)["rng"]
    torch.manual_seed(999)
    np.random.seed(999)
    random.seed(999)
    set_rng_state(loaded)
    assert_draws_equal(draw(), expected)
    # and through the checkpoint functions themselves
    save_checkpoint({"rng": rng_state()}, tmp_path, step=1, keep=1)
    expected = draw()
    draw()
    set_rng_state(load_checkpoint(tmp_path / LATEST)["rng"])
    assert_draws_equal(draw(), expected)


def test_rng_state_keys_are_exact_uint32_values() -> None:
    """numpy's 624 MT19937 words are stored as int64 without sign trouble (values up to 2^32 - 1)."""
    np.random.seed(5)
    _, keys, pos, _, _ = np.random.get_state()
    state = rng_state()
    assert state["numpy"]["keys"].dtype == torch.int64 and state["numpy"]["keys"].shape == (624,)
    np.testing.assert_array_equal(state["numpy"]["keys"].numpy(), keys.astype(np.int64))
    assert state["numpy"]["pos"] == pos
    assert int(state["numpy"]["keys"].max()) > 2**31  # some words use the top bit
