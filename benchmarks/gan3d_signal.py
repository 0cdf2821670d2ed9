"""3D-GAN's learning signal: domain FID and class coverage of a trained G against the untrained G of the same seed.

    python benchmarks/gan3d_signal.py [--out runs/3dgan-signal] [overrides ...]   # e.g. train.minutes=5

Trains the ``3dgan`` preset (shapes3d, 16^3, the CPU size; pass ``profile=gpu-32`` for the GPU size), then scores
its sampler and the networks the same seed builds before any step with the run's eval config (domain FID on the
voxel evaluator's features, the spread of the classes it sees in the samples). Prints a markdown table.
"""
from __future__ import annotations

import argparse
import time

import torch

import gankit
from gankit.api import build_recipe
from gankit.evaluate import Evaluation


def scores(run: gankit.Run, recipe) -> dict[str, float]:  # noqa: ANN001  (Recipe)
    """The run's eval metrics of ``recipe``'s generator."""
    evaluation = Evaluation(run.config.eval, run.config.data, run.data, recipe, run.device, train_missing=True)
    row = evaluation(recipe, run.step)
    return {k.removeprefix("eval/"): float(v) for k, v in row.items() if k.startswith("eval/")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/3dgan-signal")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    started = time.time()
    run = gankit.train("3dgan", out=args.out, overrides=["train.progress=false", *args.overrides])
    minutes = (time.time() - started) / 60
    trained = scores(run, run.recipe)
    untrained = scores(run, build_recipe(run.config, run.data, run.device).eval())
    print(f"| 3dgan on {run.data.name} | {run.step} steps ({minutes:.1f} min) | "
          + " | ".join(f"{k} {trained[k]:.4g} (untrained {untrained[k]:.4g})" for k in trained) + " |")
    torch.save({"trained": trained, "untrained": untrained}, f"{args.out}/signal.pt")


if __name__ == "__main__":
    main()
