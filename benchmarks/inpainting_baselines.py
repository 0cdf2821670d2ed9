"""Context Encoder runs (Pathak et al. 2016) against the fills made without learning, on one protocol.

For each trained run given, and for two baselines built from the first run's config (its seed): an untrained G
(the same networks at their initial weights) and the mean fill (the hole painted the mean colour of the image's
context), prints hole PSNR, hole L1 and the FID of the completed images on ``--features`` (default
``domain:cifar10``: the CIFAR-10 domain evaluator, offline) against ``--n`` test images.

Run::

    .venv/bin/python benchmarks/inpainting_baselines.py runs/context-encoder-... runs/context-encoder-l2-... \\
        [--n 2000] [--features domain:cifar10]
"""
from __future__ import annotations

import argparse

import torch
from torch import Tensor, nn

import gankit
from gankit.api import build_recipe

METRICS = ["hole_psnr", "hole_l1", "fid"]


class MeanFill(nn.Module):
    """The no-learning fill: every hole pixel the mean colour of its image's context (the recipe's baseline)."""

    def forward(self, source: Tensor, y: Tensor | None = None) -> Tensor:
        image, hole = source[:, :-1], source[:, -1:]  # (B, C, H, W), (B, 1, H, W)
        keep = 1 - hole
        mean = (image * keep).sum(dim=(2, 3), keepdim=True) / keep.sum(dim=(2, 3), keepdim=True)
        return mean.expand_as(image)


def scores(run: gankit.api.Run, n: int, features: str) -> dict[str, float]:
    row = run.evaluate(METRICS, n=n, features=features, log=False)
    return {m: row[f"eval/{m}"] for m in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--features", default="domain:cifar10")
    args = parser.parse_args()
    rows = {}
    for path in args.runs:
        run = gankit.load(path, device="cpu")
        rows[f"{run.config.preset} (step {run.step})"] = scores(run, args.n, args.features)
    run = gankit.load(args.runs[0], device="cpu")
    run.recipe = build_recipe(run.config, run.data, torch.device("cpu"))  # the run's seed: its initial weights
    rows["untrained G"] = scores(run, args.n, args.features)
    run.recipe.G = MeanFill()
    rows["mean fill"] = scores(run, args.n, args.features)
    print(f"| fill | hole PSNR (dB) | hole L1 | FID ({args.features}) |\n| --- | ---: | ---: | ---: |")
    for name, s in rows.items():
        print(f"| {name} | {s['hole_psnr']:.2f} | {s['hole_l1']:.4f} | {s['fid']:.1f} |")


if __name__ == "__main__":
    main()
