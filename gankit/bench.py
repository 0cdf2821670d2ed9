"""``gankit bench modes`` and ``gankit bench quality``.

``modes``: the PacGAN / VEEGAN mode-collapse table. Every preset is trained on every data set
with several seeds under the same budget, then scored with the mode metric (2,500 samples on
the 2D mixtures, 26,000 on stacked-mnist).

``quality``: does every preset learn? Each preset is trained on its data with several seeds and
scored with its own evaluation (``eval.metrics`` and ``eval.features`` of its config), and so is
the untrained generator of the same seed; the table shows both and the margin.

Tables show mean +- standard error over seeds, as in PacGAN's tables.
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
            for seed, run, t0 in _seed_runs(preset, data, seeds, out, steps=steps, overrides=overrides, device=device):
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


def _seed_runs(preset: str, data: str | None, seeds: int, out: Path, *, steps: int | None,
               overrides: list[str] | None, device: str):  # noqa: ANN202  (Iterator[tuple[int, Run, float]])
    """(seed, finished run, the time it was asked for) of ``preset`` on ``data`` (None: the preset's) per seed."""
    from gankit import config as cfgmod

    name = Path(cfgmod.resolve(preset, data, overrides).data.name).stem
    for seed in range(seeds):
        extra = [f"seed={seed}", "train.progress=false", f"device={device}"]
        extra += [f"train.steps={steps}"] if steps else []
        t0 = time.time()
        yield seed, _run(out / f"{preset}-{name}-seed{seed}", preset, data, list(overrides or []) + extra, device), t0


def _run(run_dir: Path, preset: str, data: str | None, overrides: list[str], device: str):  # noqa: ANN202
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


def learning_scores(run, *, n: int | None = None) -> tuple[dict[str, float], dict[str, float]]:  # noqa: ANN001
    """The run's own evaluation (its ``eval.metrics``, ``eval.features``, ``eval.seed``) of its trained
    generator and of the untrained one of the same seed (the recipe as built before training)."""
    from dataclasses import replace

    from gankit.api import build_recipe
    from gankit.evaluate import Evaluation

    cfg = run.config
    evaluation = Evaluation(replace(cfg.eval, n=n or cfg.eval.n), cfg.data, run.data, run.recipe, run.device,
                            train_missing=True)
    untrained = build_recipe(cfg, run.data, run.device).eval()
    trained_row, untrained_row = evaluation(run.recipe, run.step), evaluation(untrained, 0)
    trained, untrained = ({k.removeprefix("eval/"): float(v) for k, v in row.items() if k.startswith("eval/")}
                          for row in (trained_row, untrained_row))
    return trained, untrained


def margin(key: str, trained: float, untrained: float) -> float | None:
    """How much better the trained score is (positive: it learnt); None for a score of unknown direction."""
    from gankit.evaluate import higher_is_better

    try:
        return trained - untrained if higher_is_better(key) else untrained - trained
    except ConfigError:  # e.g. a baseline the evaluation reports beside the scores
        return None


def quality_bench(presets: list[str], seeds: int, out: Path, *, data: str | None = None, steps: int | None = None,
                  n: int | None = None, overrides: list[str] | None = None, device: str = "auto",
                  echo=print) -> list[Cell]:  # noqa: ANN001
    """Train each preset on ``data`` (None: its own) for ``seeds`` seeds into ``out``; score the trained and the
    untrained G with the preset's evaluation. A cell's values are trained/KEY, untrained/KEY and margin/KEY."""
    from gankit import config as cfgmod

    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    for preset in presets:  # fail on a bad name before hours of training
        cfgmod.resolve(preset, data, overrides)
    out.mkdir(parents=True, exist_ok=True)
    cells = []
    for preset in presets:
        cell = None
        for seed, run, t0 in _seed_runs(preset, data, seeds, out, steps=steps, overrides=overrides, device=device):
            cell = cell or Cell(preset, run.data.name)
            t1 = time.time()
            trained, untrained = learning_scores(run, n=n)
            for key, value in trained.items():
                cell.add({f"trained/{key}": value, f"untrained/{key}": untrained[key]})
                if (gain := margin(key, value, untrained[key])) is not None:
                    cell.add({f"margin/{key}": gain})
            cell.seconds += training_seconds(run.path) + (time.time() - t1)
            echo(f"{preset} on {run.data.name}, seed {seed}, step {run.step}: "
                 + ", ".join(f"{k} {v:.4g} (untrained {untrained[k]:.4g})" for k, v in trained.items())
                 + f" ({time.time() - t0:.0f} s)")
        cells.append(cell)
        (out / "quality.json").write_text(json.dumps([c.__dict__ for c in cells], indent=1))  # after each preset:
        (out / "quality.md").write_text(quality_table(cells, seeds))  # a failure later keeps the table so far
    return cells


def _pm(values: list[float], digits: int) -> str:
    m, se = mean_se(values)
    if not math.isfinite(m):  # e.g. the reverse KL of an untrained G that misses every mode
        return f"{m}"
    return f"{m:.{digits}f} ± {se:.{digits}f}"


def _digits(*columns: list[float]) -> int:
    """Decimals for one table row: 3 below 10, 2 below 100, else 1."""
    size = max([abs(v) for c in columns for v in c if math.isfinite(v)] or [0.0])
    return 3 if size < 10 else 2 if size < 100 else 1


def quality_table(cells: list[Cell], seeds: int) -> str:
    """A Markdown table, one row per preset and score: trained, untrained and margin (positive: better than
    untrained), mean +- s.e. over seeds. A score the generator does not change (a baseline such as bicubic
    upsampling) shows once, as a baseline."""
    lines = ["| preset | data | score | trained | untrained | margin | better on every seed | seeds | minutes |",
             "| --- | --- | --- | ---: | ---: | ---: | :---: | ---: | ---: |"]
    for c in cells:
        for key in [k.removeprefix("trained/") for k in c.values if k.startswith("trained/")]:
            trained, untrained = c.values[f"trained/{key}"], c.values[f"untrained/{key}"]
            gains = c.values.get(f"margin/{key}")
            d = _digits(trained, untrained)
            if trained == untrained:  # does not depend on G
                cols = [_pm(trained, d), "(baseline)", "–", ""]
            elif gains is None:
                cols = [_pm(trained, d), _pm(untrained, d), "–", ""]
            else:
                cols = [_pm(trained, d), _pm(untrained, d), _pm(gains, d), "yes" if min(gains) > 0 else "no"]
            lines.append(f"| {c.preset} | {c.data} | {key} | {' | '.join(cols)} | {len(trained)} "
                         f"| {c.seconds / 60:.1f} |")
    return "\n".join(lines) + "\n"


@dataclass
class Baseline:
    """What ``supervised_only`` measured."""

    accuracy: float  # on the test split
    steps: int
    seconds: float


def supervised_only(cfg) -> Baseline:  # noqa: ANN001  (Config)
    """The classifier of the run ``cfg`` describes (the same network and initialisation, the same labelled
    examples, the same view of its inputs: instance noise or DiffAugment when the run's tricks add them) trained on
    the labelled examples alone: cross-entropy on batches of train.batch_size labelled examples for train.steps
    updates with its group's optimiser and lr schedule; its test accuracy."""
    import torch.nn.functional as F

    from gankit.api import build_recipe, pick_device, seed_everything
    from gankit.data.datasets import load_configured
    from gankit.recipes.semi_supervised import SemiSupervised, classifier_accuracy
    from gankit.train.optim import make_optimizers, make_schedulers
    from gankit.types import DataInfo

    started = time.time()
    device = pick_device(cfg.device)
    d = cfg.data
    data = load_configured(d, split=d.split, limit=d.limit, seed=cfg.seed).to(device)
    info = DataInfo.of(data)
    recipe = build_recipe(cfg, info, device)
    if not isinstance(recipe, SemiSupervised):
        raise ConfigError(f"supervised_only: recipe {cfg.recipe!r} is not semi-supervised (ssgan, triplegan)")
    recipe.use_data(data)
    group = recipe.classifier_group
    optimizer = make_optimizers(recipe, cfg)[group]
    schedule = make_schedulers({group: optimizer}, cfg).get(group)
    seed_everything(cfg.seed)
    net = recipe.classifier.train()
    for step in range(1, cfg.train.steps + 1):
        x, y = recipe.labelled.batch(cfg.train.batch_size)
        loss = F.cross_entropy(recipe.classify(recipe.objective.view(x, step)), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
    net.eval()
    return Baseline(classifier_accuracy(recipe, cfg.data), cfg.train.steps, time.time() - started)
