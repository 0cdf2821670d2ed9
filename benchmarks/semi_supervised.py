"""Semi-supervised GANs on MNIST with 100 labels (10 per class; issue 12): the classifier's test accuracy of
an ssgan run (D's class head) and a triplegan run (C), each beside the same classifier network, from the same
initialisation, trained on the same 100 labelled digits alone for the same number of steps
(``gankit.bench.supervised_only``). Salimans et al. 2016 report 0.93% test error with 100
labels (feature matching, about 300 epochs); Li et al. 2017 0.91% for Triple-GAN; this runs a CPU-sized budget.

    GANKIT_DATA=../shared/data .venv/bin/python benchmarks/semi_supervised.py                 # 4 minutes each
    .venv/bin/python benchmarks/semi_supervised.py --steps 3000 --seed 1 --presets ssgan data.root=/path

Extra arguments are config overrides for every run (data.root=..., device=cuda, ...). Each run's steps are
set by train.minutes (a measured warm-up, the whole run included) or --steps; the baseline gets the same steps.
"""
from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

import gankit
from gankit.bench import supervised_only
from gankit.recipes.semi_supervised import classifier_accuracy


def measure(preset: str, data: str, budget: str, seed: int, overrides: list[str], out: Path) -> dict:
    """One run of ``preset`` on ``data`` for ``budget`` (train.steps=N or train.minutes=M) and its
    supervised-only baseline."""
    given = [budget, f"seed={seed}", "train.progress=false", *overrides]
    started = time.time()
    run = gankit.train(preset, data, out=out / f"{preset}-{data}-seed{seed}", overrides=given)
    run_minutes = (time.time() - started) / 60
    accuracy = classifier_accuracy(run.recipe, run.config.data)
    baseline = supervised_only(run.config)
    command = shlex.join(["gankit", "train", preset, "--data", data, *given])
    return {"preset": preset, "labels": len(run.recipe.labelled.y), "accuracy": accuracy, "baseline": baseline.accuracy,
            "steps": run.config.train.steps, "minutes": run_minutes, "baseline_minutes": baseline.seconds / 60,
            "command": command}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default="ssgan,triplegan")
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--minutes", type=float, default=4.0, help="train.minutes of each run")
    parser.add_argument("--steps", type=int, default=None, help="train.steps of each run instead of --minutes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/semi-supervised")
    args, overrides = parser.parse_known_args()
    budget = f"train.steps={args.steps}" if args.steps else f"train.minutes={args.minutes}"
    rows = [measure(p, args.data, budget, args.seed, overrides, Path(args.out)) for p in args.presets.split(",")]
    print(f"\n{args.data}, seed {args.seed}: test accuracy of the classifier, and of the same classifier trained on "
          "the labelled examples alone (same steps)\n")
    print("| preset | labels | test acc | supervised-only acc | steps | minutes (run / baseline) | command |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['preset']} | {r['labels']} | {r['accuracy']:.4f} | {r['baseline']:.4f} | {r['steps']} | "
              f"{r['minutes']:.1f} / {r['baseline_minutes']:.1f} | `{r['command']}` |")


if __name__ == "__main__":
    main()
