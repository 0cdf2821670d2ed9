"""Berthelot et al. 2017 (BEGAN), section 3.2: gamma = E[L(G(z))] / E[L(x)] trades diversity for quality.

A lower gamma asks for fakes the auto-encoder D reconstructs better than the data ("the discriminator focuses
more on auto-encoding real images"), which the paper reports as less diverse samples. This script trains the
``began`` preset on the 8x8 digits at each gamma (same seeds, same steps) and prints the diversity of 1,000
samples: the entropy of the digits evaluator's class histogram (1 = all ten digits equally often), recall
(Kynkaenniemi et al. 2019: the share of real samples inside the fakes' k-NN manifold), coverage (Naeem et al.
2020), and the mean pairwise distance of the samples in the evaluator's feature space over the real test
images' (1 = as spread as the data); FID for quality; and the final k_t and convergence measure M.

    .venv/bin/python benchmarks/began_gamma.py                          # gamma 0.3 .. 1.0, the preset's steps, seed 0
    .venv/bin/python benchmarks/began_gamma.py --seeds 0,1 --steps 1000 model.g_width=64 model.d_width=64
"""
from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

import gankit
from gankit.data import load_dataset
from gankit.evaluate import Evaluation
from gankit.train.symptoms import mean_pairwise_distance

METRICS = ["fid", "classes", "pr", "dc"]
COLUMNS = [("class_entropy", "class entropy"), ("recall", "recall"), ("coverage", "coverage"),
           ("spread", "feature spread"), ("fid", "FID"), ("k", "final k"), ("M", "M (last 20%)")]


def spread(evaluation: Evaluation, images: torch.Tensor, real: torch.Tensor) -> float:
    """Mean pairwise distance of ``images`` in the evaluator's feature space over that of ``real``."""
    fake_features, _ = evaluation.extractor.extract(images)
    real_features, _ = evaluation.extractor.extract(real)
    return float(mean_pairwise_distance(fake_features) / mean_pairwise_distance(real_features))


def measure(gamma: float, seed: int, *, steps: int | None, n: int, overrides: list[str], out: Path) -> dict[str, float]:
    """Train ``began`` at ``gamma`` and score 1,000 (``n``) of its samples."""
    budget = [f"train.steps={steps}"] if steps else []
    run = gankit.train("began", out=out / f"gamma{gamma}-seed{seed}", overrides=[
        f"recipe_args.gamma={gamma}", f"seed={seed}", "train.progress=false", "train.sample_every=100000",
        "train.checkpoint_every=100000", *budget, *overrides])
    cfg = run.config
    evaluation = Evaluation(replace(cfg.eval, metrics=METRICS, features="domain", n=n), cfg.data, run.data,
                            run.recipe, run.device, train_missing=True)
    scores = evaluation(run.recipe, run.step)
    row = {k.removeprefix("eval/"): float(v) for k, v in scores.items() if k.startswith("eval/")}
    real = load_dataset(cfg.data.name, split=cfg.eval.split, root=cfg.data.root).x[:n]
    row["spread"] = spread(evaluation, run.sample(n, seed=cfg.eval.seed).cpu(), real)
    logged = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    M = [r["D/began_M"] for r in logged if "D/began_M" in r]
    row["M"] = sum(M[-max(1, len(M) // 5):]) / max(1, len(M) // 5)
    row["k"] = float(run.recipe.k)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gammas", default="0.3,0.5,0.7,1.0")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--steps", type=int, default=None, help="default: the preset's train.steps")
    parser.add_argument("--n", type=int, default=1000, help="samples scored per run")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides for every run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    gammas, seeds = [float(g) for g in args.gammas.split(",")], [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        rows = {(g, s): measure(g, s, steps=args.steps, n=args.n, overrides=args.overrides, out=Path(tmp))
                for g in gammas for s in seeds}
    steps = args.steps or gankit.config.resolve("began", None, args.overrides).train.steps
    print(f"began on digits, {steps} steps, seeds {args.seeds}, {args.n} samples; overrides: "
          f"{' '.join(args.overrides) or 'none'} (diversity: class entropy, recall, coverage, feature spread)")
    print("| gamma | " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for g in gammas:
        cells = []
        for key, _ in COLUMNS:
            values = [rows[g, s][key] for s in seeds]
            cells.append(" / ".join(f"{v:.1f}" if key == "fid" else f"{v:.3f}" for v in values))
        print(f"| {g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
