"""Atomic, pickle-free checkpoints.

A checkpoint is a nested dict of tensors and plain Python values written with
``torch.save`` and read back with ``torch.load(weights_only=True)``, which refuses
to unpickle arbitrary objects. Writes go to a temporary file in the same folder,
are fsync'ed and then renamed over the target, so a crash mid-write never leaves a
broken ``latest.pt``.
"""
from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit import distributed
from gankit.distributed import SHARED
from gankit.errors import CheckpointError, ConfigError

LATEST = "latest.pt"


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to ``path`` so that a reader sees the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(state: dict[str, Any], folder: Path, step: int, keep: int) -> Path:
    """Write ``step_XXXXXXX.pt`` and make ``latest.pt`` point at it; keep the ``keep`` newest numbered files."""
    folder.mkdir(parents=True, exist_ok=True)
    numbered = folder / f"step_{step:07d}.pt"
    atomic_save(state, numbered)
    tmp_link = folder / f".{LATEST}.link{os.getpid()}"
    tmp_link.unlink(missing_ok=True)
    try:
        os.link(numbered, tmp_link)  # a hard link: latest.pt costs no second write
    except OSError:
        atomic_save(state, tmp_link)
    os.replace(tmp_link, folder / LATEST)
    _fsync_dir(folder)
    numbered_files = sorted(folder.glob("step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))  # by number, not name
    for old in numbered_files[: max(len(numbered_files) - keep, 0)]:
        old.unlink()
    return folder / LATEST


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint without executing code from it; clear errors for missing, corrupt or unsafe files."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"refused to load {path}: it holds objects other than tensors and plain values "
            f"(a crafted or foreign pickle?). Nothing from it was executed. Detail: {_first_line(e)}"
        ) from None
    except Exception as e:  # noqa: BLE001  (garbage bytes surface as KeyError, IndexError, struct.error, ...)
        raise CheckpointError(f"cannot read checkpoint {path}: corrupt or truncated ({_first_line(e)})") from None


def _first_line(e: BaseException) -> str:
    """The first line of an error's message, or its type when the message is empty (e.g. EOFError on an empty file)."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def rng_state() -> dict[str, Any]:
    """Every random generator training may touch, as weights-only-safe values."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "python": random.getstate(),
        "shared": SHARED.state(),  # the per-sample training noise every rank draws together
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "shared" in state:  # checkpoints written before the shared stream existed
        SHARED.set_state(state["shared"])


def rank_rng_states() -> list[dict[str, Any]]:
    """Every rank's ``rng_state()`` in rank order, on every rank (a collective under torch.distributed): the
    global generators differ per rank (dropout, augmentation), so an exact resume needs each of them."""
    return distributed.all_gather_object(rng_state())


def saved_world_size(path: Path) -> int:
    """How many processes trained the checkpoint at ``path`` (1 for checkpoints from before DDP)."""
    try:  # memory-mapped: only the small value is read, however large the networks
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001  (missing, corrupt, unsafe: load_checkpoint names which)
        state = load_checkpoint(path)
    return int(state.get("world_size", 1))


def check_world_size(saved: int, now: int, run: Path | str) -> None:
    """ConfigError unless a run is resumed with as many processes as it was trained with."""
    if saved == now:
        return
    how = ("in one process: `gankit train --resume RUN`" if saved == 1 else
           f"with {saved} processes: `gankit train --resume RUN --nproc {saved}` or `torchrun --nproc_per_node {saved} "
           "-m gankit train --resume RUN` (across machines: nodes x processes per node = "
           f"{saved})")
    raise ConfigError(f"cannot resume {run} with {now} process{'es' if now != 1 else ''}: it was trained with {saved} "
                      f"(train.batch_size is per process, so the world size fixes the global batch and each rank's "
                      f"random streams). Resume it {how.replace('RUN', str(run))}; or start a new run")
