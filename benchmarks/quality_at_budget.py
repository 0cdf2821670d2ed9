"""Sample quality for the same wall-clock budget: gankit's dcgan presets next to a plain tutorial DCGAN.

For each data set (default: mnist, fashion-mnist, cifar10), one after the other in one process on
the same machine and the same number of threads:

* gankit: ``gankit.train("dcgan", data, train.minutes=M)``: the data set's preset
  (``gankit/configs/dcgan/<data>.yaml``), whose whole run - data loading, warm-up, training,
  sample grids, checkpoints, report - fits the budget.
* tutorial: the DCGAN of a common PyTorch tutorial as a plain loop, given the same M minutes of
  wall clock from the same starting point (before its data is loaded): G linear -> 512x4x4,
  transposed convolutions 256, 128, C with batch norm and ReLU, tanh; D convolutions 512, 256,
  128 with batch norm and LeakyReLU, global average pool, a linear layer and a sigmoid; binary
  cross-entropy (non-saturating G), Adam lr 1e-3, beta1 0.5, batch 64, data in memory. Its
  samples come from G in eval mode.

Both are scored the same way: 10,000 samples (``--n``) through the data set's domain evaluator
(``gankit evaluator train DATA``; trained and cached on first use) against its test split:
FID on the evaluator's features, its Inception Score, and the histogram of its predicted classes
(normalised entropy: 1 for uniform; the smallest and largest class share). The table shows the
ratio gankit / tutorial of each.

Run::

    .venv/bin/python benchmarks/quality_at_budget.py [--minutes 5] [--data mnist,fashion-mnist,cifar10]
        [--sides gankit,tutorial] [--seed 0] [--n 10000] [--threads 2] [--out runs/quality-at-budget] [key=value ...]

(``key=value``: overrides of gankit's preset, to try other settings at the same budget.)

With ``GANKIT_DATA`` pointing at the offline data sets (``../shared/data`` here). The whole run
takes 2 x minutes x data sets plus about a minute of scoring each (and the evaluators' training
the first time).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import gankit
from gankit.data import load_dataset
from gankit.metrics import fid, inception_score, load_evaluator
from gankit.metrics.class_balance import class_balance

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import markdown_table  # noqa: E402

TUTORIAL_LR, TUTORIAL_BETA1, TUTORIAL_BATCH, TUTORIAL_Z = 1e-3, 0.5, 64, 100


class TutorialG(nn.Module):
    """linear -> 512x4x4 -> ConvT 256 -> ConvT 128 -> ConvT C, batch norm + ReLU, tanh (28 px: 4 -> 7 -> 14 -> 28)."""

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        first = (3, 2, 1) if size == 28 else (4, 2, 1)  # 4 -> 7 for 28 px, 4 -> 8 for 32 px
        self.project = nn.Sequential(nn.Linear(TUTORIAL_Z, 512 * 4 * 4), nn.BatchNorm1d(512 * 4 * 4), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(512, 256, *first), nn.BatchNorm2d(256), nn.ReLU(),
            nn.ConvTranspose2d(256, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.ReLU(),
            nn.ConvTranspose2d(128, channels, 4, 2, 1), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.project(z).view(-1, 512, 4, 4))  # (B, C, H, W)


class TutorialD(nn.Module):
    """Conv 512 -> 256 -> 128 (stride 2, batch norm, LeakyReLU 0.2), global average pool, linear, sigmoid."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, 512, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(512, 256, 4, 2, 1), nn.BatchNorm2d(256), nn.LeakyReLU(0.2),
            nn.Conv2d(256, 128, 3, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.net(x)).squeeze(1)  # (B,) probability of "real"


def train_tutorial(data: str, minutes: float, seed: int, device: torch.device) -> tuple[TutorialG, int]:
    """The tutorial loop, from loading the data until ``minutes`` of wall clock have passed; (G, steps)."""
    started = time.time()
    torch.manual_seed(seed)
    x = load_dataset(data, split="train").x.to(device)  # (N, C, H, W) in [-1, 1], in memory
    G, D = TutorialG(x.shape[1], x.shape[-1]).to(device), TutorialD(x.shape[1]).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=TUTORIAL_LR, betas=(TUTORIAL_BETA1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=TUTORIAL_LR, betas=(TUTORIAL_BETA1, 0.999))
    ones, zeros = torch.ones(TUTORIAL_BATCH, device=device), torch.zeros(TUTORIAL_BATCH, device=device)
    steps = 0
    while time.time() - started < 60 * minutes:
        real = x[torch.randint(0, len(x), (TUTORIAL_BATCH,), device=device)]
        fake = G(torch.randn(TUTORIAL_BATCH, TUTORIAL_Z, device=device))
        loss_d = F.binary_cross_entropy(D(real), ones) + F.binary_cross_entropy(D(fake.detach()), zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.binary_cross_entropy(D(fake), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        steps += 1
    return G.eval(), steps


@dataclass
class Score:
    """One generator's scores on the domain evaluator."""

    side: str
    data: str
    steps: int
    seconds: float
    fid: float
    inception_score: float
    class_entropy: float  # entropy of the predicted-class histogram / log(classes): 1 when uniform
    min_share: float
    max_share: float


@torch.no_grad()
def score(side: str, data: str, samples: Tensor, steps: int, seconds: float) -> Score:
    """FID, IS and the class histogram of ``samples`` (N, C, H, W) against the test split."""
    evaluator = load_evaluator(data, train_if_missing=True)
    real_features, _ = evaluator.extract(load_dataset(data, split="test").x)
    features, logits = evaluator.extract(samples)
    probs = logits.softmax(1)
    balance = class_balance(logits, evaluator.num_classes)
    max_share = float(torch.bincount(probs.argmax(1), minlength=probs.shape[1]).max()) / len(probs)
    return Score(side, data, steps, round(seconds, 1), float(fid(real_features, features)), inception_score(probs)[0],
                 abs(balance["class_entropy"]), balance["class_min_share"], max_share)


def run_gankit(data: str, args: argparse.Namespace) -> Score:
    t0 = time.time()
    run = gankit.train("dcgan", data, out=Path(args.out) / f"dcgan-{data}-seed{args.seed}",
                       overrides=[f"train.minutes={args.minutes}", f"seed={args.seed}", f"device={args.device}",
                                  "train.progress=false", *args.overrides])
    seconds = time.time() - t0
    return score("gankit", data, run.sample(args.n, seed=args.seed), run.step, seconds)


def run_tutorial(data: str, args: argparse.Namespace) -> Score:
    t0 = time.time()
    G, steps = train_tutorial(data, args.minutes, args.seed, torch.device(args.device))
    seconds = time.time() - t0
    generator = torch.Generator(device=args.device).manual_seed(args.seed)
    with torch.no_grad():
        z = torch.randn(args.n, TUTORIAL_Z, device=args.device, generator=generator)
        samples = torch.cat([G(part) for part in z.split(500)]).cpu()
    return score("tutorial", data, samples, steps, seconds)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "-"


def table(scores: list[Score]) -> list[str]:
    """One row per data set and side, then the ratio gankit / tutorial."""
    rows = []
    for data in dict.fromkeys(s.data for s in scores):
        by_side = {s.side: s for s in scores if s.data == data}
        for s in by_side.values():
            rows.append([f"{data}, {s.side}", str(s.steps), f"{s.seconds:.0f}", f"{s.fid:.2f}", f"{s.inception_score:.2f}",
                         f"{s.class_entropy:.3f}", f"{100 * s.min_share:.1f}", f"{100 * s.max_share:.1f}"])
        if {"gankit", "tutorial"} <= by_side.keys():
            g, t = by_side["gankit"], by_side["tutorial"]
            rows.append([f"{data}, ratio gankit / tutorial", ratio(g.steps, t.steps), "", f"**{ratio(g.fid, t.fid)}**",
                         ratio(g.inception_score, t.inception_score), ratio(g.class_entropy, t.class_entropy), "", ""])
    return markdown_table(["data, side", "steps", "seconds", "domain FID", "domain IS", "class entropy", "min class %",
                           "max class %"], rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=5.0, help="wall-clock budget of each training run")
    p.add_argument("--data", default="mnist,fashion-mnist,cifar10")
    p.add_argument("--sides", default="gankit,tutorial")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, default=10000, help="samples scored per generator")
    p.add_argument("--threads", type=int, default=2, help="torch threads for both sides")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="runs/quality-at-budget", help="gankit's runs and quality.json / quality.md")
    p.add_argument("overrides", nargs="*", help="key=value overrides of gankit's preset, e.g. model.g_width=64 optim.lr=1e-3")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    sides = {"gankit": run_gankit, "tutorial": run_tutorial}
    scores = []
    for data in [d.strip() for d in args.data.split(",") if d.strip()]:
        for side in [s.strip() for s in args.sides.split(",") if s.strip()]:
            scores.append(sides[side](data, args))
            print(json.dumps(asdict(scores[-1])), flush=True)
    lines = table(scores)
    print(f"\n{args.minutes:g} minutes per run, {args.threads} threads, {args.n} samples, seed {args.seed}")
    print("\n".join(lines))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality.json").write_text(json.dumps([asdict(s) for s in scores], indent=1))
    (out / "quality.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
