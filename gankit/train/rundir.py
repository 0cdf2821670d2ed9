"""The run directory: every file a run writes goes through here (one place that is rank-aware).

Layout: config.yaml, checkpoints/, samples/, metrics.jsonl, symptoms.json, tb/ (TensorBoard), report.html.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gankit import distributed
from gankit.errors import ConfigError


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it and a rename: a reader sees the old file or
    the new one, never a part."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def is_main_process() -> bool:
    """True on rank 0 of a torchrun job, or when not distributed."""
    return distributed.is_main()


class RunDir:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.main = is_main_process()
        self._writer = None

    config = property(lambda self: self.path / "config.yaml")
    checkpoints = property(lambda self: self.path / "checkpoints")
    samples = property(lambda self: self.path / "samples")
    metrics = property(lambda self: self.path / "metrics.jsonl")
    report = property(lambda self: self.path / "report.html")
    symptoms = property(lambda self: self.path / "symptoms.json")  # failure symptoms found during training

    def check_new(self) -> None:
        """ConfigError if the directory exists and is not empty (a run is never overwritten)."""
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise ConfigError(f"run directory {self.path} already exists; continue it with "
                              f"`gankit train --resume {self.path}` or choose another --out")

    def create(self) -> None:
        """Make a new run directory; an existing non-empty one is never overwritten. Under torchrun every rank
        looks before rank 0 makes it (so no rank takes rank 0's fresh folder for an old run)."""
        self.check_new()
        distributed.barrier()
        if self.main:
            for folder in (self.path, self.checkpoints, self.samples):
                folder.mkdir(parents=True, exist_ok=True)

    def discard_unstarted(self) -> None:
        """Remove a run directory that create() made but whose training never logged a row or saved a
        checkpoint (bad data, say), so the same --out works again; anything else in it is left alone."""
        if not self.main or any(self.checkpoints.glob("*.pt")) or (self.metrics.is_file() and self.metrics.stat().st_size):
            return
        for file in (self.config, self.metrics, self.symptoms):
            file.unlink(missing_ok=True)
        tb = self.path / "tb"
        if tb.is_dir():
            for event in tb.glob("events.out.tfevents.*"):
                event.unlink()
        for folder in (tb, self.checkpoints, self.samples, self.path):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                pass

    def write_text(self, path: Path, text: str) -> None:
        if self.main:
            write_text_atomic(path, text)

    def write_json(self, path: Path, value: Any) -> None:
        self.write_text(path, json.dumps(value, indent=1) + "\n")

    def log(self, row: dict[str, Any]) -> None:
        """Append one JSON row to metrics.jsonl and the scalars to TensorBoard."""
        if not self.main:
            return
        with open(self.metrics, "a") as f:
            f.write(json.dumps(row) + "\n")
        writer = self.writer()
        for key, value in row.items():
            if key not in ("step", "time") and isinstance(value, (int, float)):
                writer.add_scalar(key, value, row["step"])

    def rows(self) -> list[dict[str, Any]]:
        if not self.metrics.is_file():
            return []
        return [json.loads(line) for line in self.metrics.read_text().splitlines() if line.strip()]

    def truncate_log(self, step: int) -> None:
        """Drop rows logged after ``step`` (written by a run that died after its last checkpoint)."""
        if self.main and self.metrics.is_file():
            keep = [r for r in self.rows() if r.get("step", 0) <= step]
            self.write_text(self.metrics, "".join(json.dumps(r) + "\n" for r in keep))

    def writer(self):  # noqa: ANN201  (a TensorBoard SummaryWriter, created on first use)
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.path / "tb"))
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
