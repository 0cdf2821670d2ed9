"""Nowozin et al. 2016 (f-GAN), section 4: fit a single Gaussian Q = N(mu, sigma) to a two-mode mixture
P = 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2) by each f-divergence of gankit's ``loss=f_*`` family.

The divergences differ in what they pay for: KL (and Pearson chi-squared) for missing any of P's mass, so Q
spreads over both modes (the KL optimum is moment matching: mu = 0, sigma = sqrt(4.25) = 2.06); reverse KL
for putting mass where P has none, so Q sits on one mode (mu = +-2, sigma = 0.5). The others lie between.
Q's mean and std are learnt by the generator loss, a 2x64 MLP critic by the discriminator loss, both from
gankit.losses, each step an alternating Adam update.

    .venv/bin/python benchmarks/fgan_gaussian.py                 # every f-divergence, seeds 0 and 1
    .venv/bin/python benchmarks/fgan_gaussian.py --losses f_kl,f_reverse_kl --steps 1500
"""
from __future__ import annotations

import argparse
import math

import torch
from torch import nn

from gankit.losses import get_loss
from gankit.losses.adversarial import F_DIVERGENCES

MODES, MODE_STD = (-2.0, 2.0), 0.5
KL_OPTIMUM = (0.0, math.sqrt(4.0 + MODE_STD**2))  # moment matching


def mixture(n: int, generator: torch.Generator) -> torch.Tensor:
    """n samples (n, 1) of the two-mode mixture, modes chosen with equal probability."""
    sign = torch.randint(0, 2, (n, 1), generator=generator).float() * 2 - 1
    return sign * MODES[1] + MODE_STD * torch.randn(n, 1, generator=generator)


def fit(loss_name: str, *, steps: int = 3000, batch: int = 256, seed: int = 0) -> tuple[float, float]:
    """The (mu, sigma) a Gaussian reaches by minimising ``loss_name`` against the mixture."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    loss = get_loss(loss_name)
    mu, log_sigma = nn.Parameter(torch.tensor([0.5])), nn.Parameter(torch.tensor([0.0]))
    critic = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    opt_g = torch.optim.Adam([mu, log_sigma], lr=1e-2)
    opt_d = torch.optim.Adam(critic.parameters(), lr=1e-3)
    score = lambda x: critic(x).squeeze(1)  # noqa: E731
    sample = lambda: mu + log_sigma.exp() * torch.randn(batch, 1, generator=gen)  # noqa: E731
    for _ in range(steps):
        opt_d.zero_grad()
        loss.d(real=score(mixture(batch, gen)), fake=score(sample().detach())).backward()
        opt_d.step()
        opt_g.zero_grad()
        loss.g(fake=score(sample())).backward()
        opt_g.step()
    return float(mu.detach()), float(log_sigma.detach().exp())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--losses", default=",".join(f.name for f in F_DIVERGENCES))
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seeds", default="0,1")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"P = 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2); Q = N(mu, sigma); {args.steps} steps; "
          f"KL optimum mu={KL_OPTIMUM[0]:.2f} sigma={KL_OPTIMUM[1]:.2f}, a mode: mu=+-2 sigma=0.5")
    print(f"| loss | {' | '.join(f'mu, sigma (seed {s})' for s in seeds)} |")
    print("|---|" + "---|" * len(seeds))
    for name in args.losses.split(","):
        cells = [fit(name, steps=args.steps, seed=s) for s in seeds]
        print(f"| `{name}` | " + " | ".join(f"{m:+.2f}, {sd:.2f}" for m, sd in cells) + " |")


if __name__ == "__main__":
    main()
