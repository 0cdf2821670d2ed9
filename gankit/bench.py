"""``gankit bench modes``: the PacGAN / VEEGAN mode-collapse table.

Every preset is trained on every data set with several seeds under the same budget, then
scored with the mode metric (2,500 samples on the 2D mixtures, 26,000 on stacked-mnist).
The table shows mean +- standard error over seeds, as in PacGAN's tables.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from gankit.errors import ConfigError

N_MODE_SAMPLES = {"points": 2500, "stacked-mnist": 26000}  # the protocol's sample counts


@dataclass
class Cell:
    preset: str
    data: str
    values: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, scores: dict[str, float]) -> None:
        for key, value in scores.items():
            self.values.setdefault(key, []).append(float(value))


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (sample std / sqrt(n)); se is 0 for one value."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def modes_bench(presets: list[str], datasets: list[str], seeds: int, out: Path, *, steps: int | None = None,
                overrides: list[str] | None = None, device: str = "auto", echo=print) -> list[Cell]:  # noqa: ANN001
    """Train presets x data sets x seeds into ``out`` and score each run's modes; returns the cells."""
    import gankit
    from gankit import config as cfgmod

    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    for preset in presets:  # fail on a bad name before hours of training
        for data in datasets:
            cfgmod.resolve(preset, data, overrides)
    out.mkdir(parents=True, exist_ok=True)
    cells = []
    for preset in presets:
        for data in datasets:
            cell = Cell(preset, data)
            for seed in range(seeds):
                run_dir = out / f"{preset}-{data}-seed{seed}"
                extra = [f"seed={seed}", "train.progress=false", f"device={device}"]
                extra += [f"train.steps={steps}"] if steps else []
                t0 = time.time()
                run = _run(run_dir, preset, data, list(overrides or []) + extra, device)
                t1 = time.time()  # the evaluation; training time comes from the run's log (also for reused runs)
                n = N_MODE_SAMPLES["points" if run.data.kind == "points" else run.data.name]
                row = run.evaluate(["modes"], n=n, seed=seed)
                scores = {k.removeprefix("eval/"): v for k, v in row.items() if k.startswith("eval/")}
                cell.add(scores)
                cell.seconds += training_seconds(run.path) + (time.time() - t1)
                echo(f"{preset} on {data}, seed {seed}: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items())
                     + f" ({time.time() - t0:.0f} s)")
            cells.append(cell)
    (out / "modes.json").write_text(json.dumps([c.__dict__ for c in cells], indent=1))
    (out / "modes.md").write_text(table(cells, seeds))
    return cells


def training_seconds(run_dir: Path) -> float:
    """Wall time of a run's training, from the ``time`` of the last training row in its metrics.jsonl."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    times = [row["time"] for row in rows if row.get("kind") != "eval" and "time" in row]
    return float(times[-1]) if times else 0.0


def _run(run_dir: Path, preset: str, data: str, overrides: list[str], device: str):  # noqa: ANN202
    """Train, or pick up where an interrupted bench stopped: finished runs are reused, unfinished
    ones resumed from their checkpoint; nothing is overwritten."""
    import gankit
    from gankit import config as cfgmod
    from gankit.train.checkpoint import LATEST, load_checkpoint

    latest = run_dir / "checkpoints" / LATEST
    if latest.is_file():
        if int(load_checkpoint(latest)["step"]) >= cfgmod.from_yaml(run_dir / "config.yaml").train.steps:
            return gankit.load(run_dir, device=device)
        return gankit.resume(run_dir)
    i = 1
    while run_dir.exists():  # died before its first checkpoint: start beside it
        run_dir, i = run_dir.with_name(f"{run_dir.name.split('.')[0]}.{i}"), i + 1
    return gankit.train(preset, data, out=run_dir, overrides=overrides)


def table(cells: list[Cell], seeds: int) -> str:
    """A Markdown table: modes, high-quality %, reverse KL as mean +- standard error over seeds."""
    lines = [f"| preset | data | modes | high-quality samples (%) | reverse KL | seeds | minutes |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for c in cells:
        cols = []
        for key, scale in (("modes", 1), ("high_quality", 100), ("reverse_kl", 1)):
            if key in c.values:
                m, se = mean_se([v * scale for v in c.values[key]])
                cols.append(f"{m:.2f} ± {se:.2f}" if key != "high_quality" else f"{m:.1f} ± {se:.1f}")
            else:
                cols.append("–")
        lines.append(f"| {c.preset} | {c.data} | {' | '.join(cols)} | {seeds} | {c.seconds / 60:.1f} |")
    return "\n".join(lines) + "\n"
