r"""DeLiGAN on limited data (Gurumurthy et al. 2017, Sec. 5.3: MNIST cut to 500 images): does the learnt
Gaussian-mixture latent cover more digit classes than DCGAN at the same budget?

For each seed, the ``dcgan`` and ``deligan`` presets are trained on the same ``data.limit`` images (the same
fixed random subset: ``data.limit`` keeps the first images of a permutation seeded by the run's seed) for the
same number of steps, with the presets' own settings for the data set (gankit/configs/<preset>/<data>.yaml:
identical networks and optimiser; DeLiGAN adds only its mixture layer and sigma regulariser). Each generator
is scored on ``--n`` samples by the data set's domain evaluator against the test split:

* covered: classes that receive at least half of their balanced share of the samples (>= 1 / (2K)), and
  covered@1%: classes with at least 1% of the samples;
* class entropy (normalised, 1 = every class equally often) and the rarest class's share (the ``classes``
  metric);
* domain FID (the ``fid`` metric on the evaluator's features).

Rows per seed, then the mean over seeds and the ratio deligan / dcgan of each mean.

    GANKIT_DATA=../shared/data .venv/bin/python benchmarks/deligan_limited.py
    .venv/bin/python benchmarks/deligan_limited.py --data digits --limit 200 --steps 1000 --n 500 \
        model.g_width=32 model.d_width=32

(``key=value``: overrides for both presets.) Runs go to ``--out`` and are reused when the benchmark is run
again with the same settings.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from gankit.bench import training_seconds

PRESETS = ("dcgan", "deligan")
COLUMNS = ("covered", "covered@1%", "class_entropy", "class_min_share", "fid")


def scores(run, n: int) -> dict[str, float]:  # noqa: ANN001  (gankit.api.Run)
    """The run's fid and classes metrics on ``n`` samples (domain features), and the classes covered."""
    from gankit.evaluate import Evaluation

    cfg = run.config
    evaluation = Evaluation(replace(cfg.eval, n=n, metrics=["fid", "classes"], features="domain"), cfg.data, run.data,
                            run.recipe, run.device, train_missing=True)
    inputs = evaluation.inputs(run.recipe)
    out: dict[str, float] = {}
    for metric in evaluation.metrics:
        out.update(metric.score(inputs))
    name = next(iter(evaluation.labellers))
    k = evaluation.labellers[name].num_classes
    share = torch.bincount(inputs.classes(name), minlength=k).double() / inputs.n_fake  # (K,)
    out["covered"] = float((share >= 0.5 / k).sum())
    out["covered@1%"] = float((share >= 0.01).sum())
    return out


def train(preset: str, data: str, seed: int, args: argparse.Namespace):  # noqa: ANN201  (gankit.api.Run)
    """One finished run of ``preset`` (reused when its directory holds a finished run)."""
    import gankit
    from gankit.train.checkpoint import LATEST

    run_dir = Path(args.out) / f"{preset}-{data}-{args.limit}-{args.steps}-seed{seed}"
    if (run_dir / "checkpoints" / LATEST).is_file():
        run = gankit.load(run_dir, device=args.device)
        if run.step >= args.steps:
            return run
    overrides = [f"data.limit={args.limit}", f"train.steps={args.steps}", "train.minutes=null", f"seed={seed}",
                 "train.progress=false", f"device={args.device}", f"train.sample_every={args.steps}",
                 f"train.checkpoint_every={args.steps}", *args.overrides]
    return gankit.train(preset, data, out=run_dir, overrides=overrides)


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--limit", type=int, default=500, help="training images kept (data.limit)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n", type=int, default=2000, help="generated samples per score")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="runs/deligan-limited")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for both presets")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]

    table: dict[str, dict[str, list[float]]] = {p: {c: [] for c in COLUMNS} for p in PRESETS}
    print(f"{args.data}, {args.limit} training images, {args.steps} steps, {args.n} samples per score"
          + (f", overrides {' '.join(args.overrides)}" if args.overrides else ""))
    print(f"| preset | seed | {' | '.join(COLUMNS)} | training s |")
    print("|---|---:|" + "---:|" * (len(COLUMNS) + 1))
    for seed in seeds:
        for preset in PRESETS:
            run = train(preset, args.data, seed, args)
            row = scores(run, args.n)
            for c in COLUMNS:
                table[preset][c].append(row[c])
            cells = " | ".join(_fmt(c, row[c]) for c in COLUMNS)
            print(f"| {preset} | {seed} | {cells} | {training_seconds(run.path):.0f} |", flush=True)
    for preset in PRESETS:
        print(f"| {preset} | mean | " + " | ".join(_fmt(c, mean(table[preset][c])) for c in COLUMNS) + " | |")
    ratios = [mean(table["deligan"][c]) / mean(table["dcgan"][c]) if mean(table["dcgan"][c]) else float("nan")
              for c in COLUMNS]
    print("| deligan / dcgan | ratio | " + " | ".join(f"{r:.3f}" for r in ratios) + " | |")
    for outcome, sign in (("better", 1), ("worse", -1)):  # ties count as neither
        pairs = {c: list(zip(table["deligan"][c], table["dcgan"][c])) for c in COLUMNS}
        counts = [sum(sign * (g - d if c == "fid" else d - g) > 0 for d, g in pairs[c]) for c in COLUMNS]
        print(f"| deligan {outcome} | seeds of {len(seeds)} | " + " | ".join(str(n) for n in counts) + " | |")


def _fmt(column: str, value: float) -> str:
    return f"{value:.1f}" if column in ("fid", "covered", "covered@1%") else f"{value:.3f}"


if __name__ == "__main__":
    main()
