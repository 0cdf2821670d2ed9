"""Training speed of the image-to-image translation presets: gankit's engine next to a hand-written PyTorch loop.

For ``pix2pix`` and ``cyclegan`` this resolves the preset's real config (its 64 px size, widths, losses,
weights and batch size; ``data.augment=false``, since the plain loop does no jitter), builds the recipe
once and deep-copies its networks (and CycleGAN's image pools) right away, so both sides start from
identical weights, then times, in the same process and in alternating rounds:

* gankit: ``Trainer.fit()`` for K training steps per round - every phase with its freezing of the
  other networks, the non-finite check, D statistics, loss accumulation, the lr schedule and a metrics
  row every ``train.log_every`` steps and at the end of each round. Sample grids and checkpoints are
  stubbed out and the TensorBoard writer stays open between rounds (throughput.py's engine pieces).
* plain: the same networks, losses and torch.optim.Adam optimisers in a minimal loop written here.
  pix2pix: a D step on ``cat(a, b)`` against ``cat(a, G(a))`` (G under no_grad), half the non-saturating
  loss; then, on the same batch with D frozen, G's adversarial loss + 100 x L1. cyclegan: the G phase
  first (both generators: LSGAN terms x adv_weight, cycle terms x 10, identity terms x 5, D frozen),
  then the D phase on the same batch with the G phase's detached fakes passed through the image pools.

The lr schedule is the one gankit builds (LambdaLR, constant then linear decay from
``optim.decay_from`` x ``train.steps``) on both sides; with ``train.steps`` pushed past the benchmark
the decay never starts, but both sides pay for the scheduler step. The pools are gankit's
``ImagePool`` on both sides; once full they draw from torch's global RNG, which both sides consume in
the same order. Each side reads its own ``InMemoryLoader`` built from the same data, batch size and
seed, so both see the same batches. The synthetic data (512 random 3-channel images in [-1, 1], paired
for pix2pix, unpaired for cyclegan) lives in memory on the device.

``--check`` first runs 2 steps of each side from the same seed in deterministic mode and asserts
that every state-dict tensor of the networks (and pools) is bitwise identical, so the table compares
only the cost of the two loops. On CUDA, CycleGAN's reflection padding has no deterministic backward
kernel, so there its check is reported as skipped rather than run.

Run::

    .venv/bin/python benchmarks/translation_speed.py [--presets pix2pix,cyclegan] [--steps 5] [--rounds 3] \\
        [--check] [--json out.json]

Defaults: 3 rounds of 5 steps per side after 2 warm-up steps on CPU, 3 rounds of 50 after 10 on CUDA.
On a shared CPU, ``--threads 1`` (or OMP_NUM_THREADS=1) avoids OpenMP oversubscription. The "noise"
column is half the range of one side's round rates over their median (the larger side): a ratio
closer to 1 than that is not resolved (``--json`` keeps every round's rate).
"""
from __future__ import annotations

import argparse
import copy
import os
import shlex
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.api import build_recipe, pick_device
from gankit.config import Config, resolve
from gankit.data import Dataset, InMemoryLoader
from gankit.recipes import Recipe
from gankit.train.trainer import configure_determinism
from gankit.types import Batch, DataInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import (  # noqa: E402
    D_LOSSES, G_LOSSES, NEVER, EngineSide, _NoFilesTrainer, _OpenRunDir, alternate_rounds, make_optimizer, markdown_table,
    run_all, spread_pct,
)

PRESETS = ("pix2pix", "cyclegan")  # the presets with a hand-written loop here
PAIRING = {"pix2pix": "paired", "cyclegan": "unpaired"}
CHANNELS = 3
DATA_SIZE = 512  # samples per domain in the synthetic set
CHECK_STEPS = 2
CHECK_SEED = 1234


# --- data and config ------------------------------------------------------------------------
def preset_config(preset: str, device: torch.device) -> Config:
    """The preset's real config, without augmentation, with file writing pushed past the benchmark."""
    overrides = ["train.progress=false", f"train.sample_every={NEVER}", f"train.checkpoint_every={NEVER}",
                 f"train.steps={NEVER}", f"device={device}", "data.augment=false"]
    cfg = resolve(preset, None, overrides)
    if cfg.penalties or cfg.ema is not None or cfg.amp is not None:
        raise NotImplementedError(f"{preset}: the plain loop has no penalties, EMA or AMP; the config asks for some")
    return cfg


def synthetic_translation(pairing: str, size: int, device: torch.device, seed: int = 0) -> Dataset:
    """Random 3-channel ``size`` px images in [-1, 1] for domains A (``a``) and B (``x``), on ``device``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand((DATA_SIZE, CHANNELS, size, size), generator=gen) * 2 - 1  # (N, 3, H, W): targets / domain B
    a = torch.rand((DATA_SIZE, CHANNELS, size, size), generator=gen) * 2 - 1  # (N, 3, H, W): inputs / domain A
    return Dataset(name=f"synthetic-{pairing}{size}", x=x, y=None, num_classes=0, kind="image", a=a,
                   pairing=pairing).to(device)


def data_info(data: Dataset) -> DataInfo:
    """What the recipe needs to know about the synthetic data, source domain and pairing included."""
    return DataInfo(data.name, data.sample_shape, data.num_classes, data.kind, data.class_names,
                    source_shape=data.source_shape, pairing=data.pairing)


def setup(preset: str, device: torch.device) -> tuple[Config, Dataset]:
    """The preset's config and synthetic data at its image size."""
    cfg = preset_config(preset, device)
    return cfg, synthetic_translation(PAIRING[preset], cfg.data.image_size, device)


def make_loader(cfg: Config, data: Dataset) -> InMemoryLoader:
    """The loader gankit.train builds for ``cfg``."""
    return InMemoryLoader(data, cfg.train.batch_size, seed=cfg.seed, augment=cfg.data.augment)


# --- the gankit side ------------------------------------------------------------------------
def make_engine(cfg: Config, data: Dataset, device: torch.device, folder: Path) -> EngineSide:
    """throughput.make_engine for translation data: the DataInfo carries source shape and pairing."""
    cfg = copy.deepcopy(cfg)  # fit() is steered through cfg.train.steps
    info = data_info(data)
    recipe = build_recipe(cfg, info, device)
    run = _OpenRunDir(folder)
    run.create()
    return EngineSide(recipe, _NoFilesTrainer(recipe, make_loader(cfg, data), cfg, run, device, info), run)


# --- the plain side -------------------------------------------------------------------------
def linear_decay(optimizer: torch.optim.Optimizer, cfg: Config) -> torch.optim.lr_scheduler.LambdaLR:
    """Constant lr, then linear decay to zero from optim.decay_from x train.steps (CycleGAN's schedule)."""
    total = cfg.train.steps
    start = int(cfg.optim.decay_from * total)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - max(0, step - start) / max(1, total - start))


def params(nets: list[nn.Module]) -> list[nn.Parameter]:
    """Every parameter of ``nets``, in order."""
    return [p for net in nets for p in net.parameters()]


class PlainLoop:
    """What both hand-written loops share: batches, one Adam for the generators and one for the discriminators."""

    def __init__(self, cfg: Config, data: Dataset, networks: dict[str, nn.Module], gens: list[str],
                 discs: list[str]) -> None:
        self.networks = networks  # recipe attribute name -> this loop's copy
        self.batches = make_loader(cfg, data)
        self.opt_g = make_optimizer(params([networks[n] for n in gens]), cfg, cfg.optim.settings("G").lr)
        self.opt_d = make_optimizer(params([networks[n] for n in discs]), cfg, cfg.optim.settings("D").lr)
        decay = cfg.optim.decay_from is not None
        self.schedules = [linear_decay(o, cfg) for o in (self.opt_g, self.opt_d)] if decay else []
        self.d_loss, self.g_loss = D_LOSSES[cfg.loss], G_LOSSES[cfg.loss]

    def step(self, batch: Batch) -> None:
        """One training step (every network updated once) on ``batch``."""
        raise NotImplementedError

    @staticmethod
    def update(optimizer: torch.optim.Optimizer, loss: Tensor) -> None:
        """Back-propagate ``loss`` and step ``optimizer``."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def steps(self, k: int) -> None:
        """``k`` training steps, each on a fresh batch, each followed by the lr schedule."""
        for _ in range(k):
            self.step(self.batches.next())
            for schedule in self.schedules:
                schedule.step()


class Pix2PixLoop(PlainLoop):
    """pix2pix by hand: D on (a, b) vs (a, G(a)), then G with D frozen on the same batch."""

    def __init__(self, recipe: Recipe, cfg: Config, data: Dataset) -> None:
        nets = {"G": copy.deepcopy(recipe.G), "D": copy.deepcopy(recipe.D)}
        super().__init__(cfg, data, nets, ["G"], ["D"])
        self.G, self.D = nets["G"], nets["D"]
        self.l1_weight, self.adv_weight = recipe.l1_weight, recipe.adv_weight

    def step(self, batch: Batch) -> None:
        """D step (half the adversarial loss), then G step: adv_weight x adversarial + l1_weight x L1."""
        a, b = batch.a, batch.x  # (B, 3, H, W) input and its target
        with torch.no_grad():
            fake = self.G(a)
        real_logit = self.D(torch.cat([a, b], dim=1)).logit  # (B, H', W') patch logits
        fake_logit = self.D(torch.cat([a, fake], dim=1)).logit
        self.update(self.opt_d, 0.5 * self.d_loss(real_logit, fake_logit))
        self.D.requires_grad_(False)
        fake = self.G(a)
        loss = self.l1_weight * F.l1_loss(fake, b)
        if self.adv_weight:
            loss = loss + self.adv_weight * self.g_loss(self.D(torch.cat([a, fake], dim=1)).logit)
        self.update(self.opt_g, loss)
        self.D.requires_grad_(True)


class CycleGANLoop(PlainLoop):
    """CycleGAN by hand: both generators with the discriminators frozen, then both discriminators on pooled fakes."""

    def __init__(self, recipe: Recipe, cfg: Config, data: Dataset) -> None:
        nets = {n: copy.deepcopy(getattr(recipe, n)) for n in ("G", "G_BA", "D", "D_A", "pool_a", "pool_b")}
        super().__init__(cfg, data, nets, ["G", "G_BA"], ["D", "D_A"])
        self.G, self.G_BA, self.D, self.D_A = nets["G"], nets["G_BA"], nets["D"], nets["D_A"]
        self.pool_a, self.pool_b = nets["pool_a"], nets["pool_b"]
        self.adv_weight, self.cycle_weight = recipe.adv_weight, recipe.cycle_weight
        self.identity_weight = recipe.identity_weight  # already relative to the cycle weight (0.5 x 10)

    def g_phase(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        """Update G (A -> B) and G_BA (B -> A); the detached fakes (fake_a, fake_b) for the D phase."""
        self.D.requires_grad_(False)
        self.D_A.requires_grad_(False)
        fake_b, fake_a = self.G(a), self.G_BA(b)
        adv_b = self.adv_weight * self.g_loss(self.D(fake_b).logit)
        adv_a = self.adv_weight * self.g_loss(self.D_A(fake_a).logit)
        cycle_a = self.cycle_weight * F.l1_loss(self.G_BA(fake_b), a)
        cycle_b = self.cycle_weight * F.l1_loss(self.G(fake_a), b)
        terms = [adv_b, adv_a, cycle_a, cycle_b]
        if self.identity_weight:
            terms.append(self.identity_weight * F.l1_loss(self.G_BA(a), a))  # G_BA(a) should be a
            terms.append(self.identity_weight * F.l1_loss(self.G(b), b))
        self.update(self.opt_g, sum(terms[1:], terms[0]))  # summed after all forwards, in gankit's order
        self.D.requires_grad_(True)
        self.D_A.requires_grad_(True)
        return fake_a.detach(), fake_b.detach()

    def d_phase(self, a: Tensor, b: Tensor, fake_a: Tensor, fake_b: Tensor) -> None:
        """Update D (domain B) and D_A (domain A) on real images against pooled fakes."""
        real_b, pooled_b = self.D(b).logit, self.D(self.pool_b.query(fake_b)).logit
        real_a, pooled_a = self.D_A(a).logit, self.D_A(self.pool_a.query(fake_a)).logit
        self.update(self.opt_d, self.d_loss(real_b, pooled_b) + self.d_loss(real_a, pooled_a))

    def step(self, batch: Batch) -> None:
        """The G phase, then the D phase on the same batch."""
        a, b = batch.a, batch.x  # (B, 3, H, W) from domains A and B, unpaired
        self.d_phase(a, b, *self.g_phase(a, b))


PLAIN_LOOPS: dict[str, type[PlainLoop]] = {"pix2pix": Pix2PixLoop, "cyclegan": CycleGANLoop}


def make_sides(cfg: Config, data: Dataset, device: torch.device, folder: Path) -> tuple[EngineSide, PlainLoop]:
    """The gankit engine and a plain loop on copies of its freshly built networks."""
    engine = make_engine(cfg, data, device, folder)
    return engine, PLAIN_LOOPS[cfg.recipe](engine.recipe, cfg, data)


# --- timing ---------------------------------------------------------------------------------
@dataclass
class Row:
    """One preset's result."""

    preset: str
    image_size: str
    batch: int
    gankit_steps_per_s: float
    plain_steps_per_s: float
    ratio: float  # gankit / plain steps per second
    overhead_pct: float  # extra wall time per step of gankit over plain
    spread_pct: float  # half the range of a side's round rates over their median (the larger side): the noise
    gankit_rounds: list[float]
    plain_rounds: list[float]


def bench_preset(preset: str, args: argparse.Namespace, device: torch.device, folder: Path) -> Row:
    """Warm both sides up, then alternate timed rounds; the median round of each side counts."""
    cfg, data = setup(preset, device)
    engine, plain = make_sides(cfg, data, device, folder / preset)
    rates = alternate_rounds(engine, plain.steps, args, device)
    g, p = statistics.median(rates["gankit"]), statistics.median(rates["plain"])
    size = "x".join(str(s) for s in data.sample_shape[1:])
    return Row(preset, size, cfg.train.batch_size, g, p, g / p, (p / g - 1) * 100, spread_pct(rates),
               rates["gankit"], rates["plain"])


# --- the equivalence check ------------------------------------------------------------------
def compare(preset: str, recipe: Recipe, plain: PlainLoop) -> None:
    """AssertionError unless every state-dict tensor of the plain loop's networks equals gankit's bitwise."""
    for label, net in plain.networks.items():
        for (name, ta), tb in zip(getattr(recipe, label).state_dict().items(), net.state_dict().values()):
            if not torch.equal(ta, tb):
                diff = (ta.double() - tb.double()).abs().max().item()
                raise AssertionError(f"{preset}: {label}.{name} differs after {CHECK_STEPS} steps "
                                     f"(max |diff| {diff:.3g})")


def check_preset(preset: str, device: torch.device, folder: Path) -> None:
    """Assert that a few steps of gankit and of the plain loop from one seed leave bitwise-identical networks."""
    cfg, data = setup(preset, device)
    engine, plain = make_sides(cfg, data, device, folder / f"check-{preset}")
    try:
        torch.manual_seed(CHECK_SEED)
        engine.steps(CHECK_STEPS)
        torch.manual_seed(CHECK_SEED)
        plain.steps(CHECK_STEPS)
    except RuntimeError as e:
        if "deterministic" not in str(e):
            raise
        print(f"check skipped: {preset}: {str(e).splitlines()[0]}")
        return
    finally:
        engine.run.finish()
    compare(preset, engine.recipe, plain)
    print(f"check ok: {preset}: {', '.join(plain.networks)} bitwise identical after {CHECK_STEPS} steps")


def run_checks(presets: list[str], device: torch.device, folder: Path) -> None:
    """The equivalence check for every preset, in deterministic mode, then back to normal kernels."""
    configure_determinism(True)
    try:
        for preset in presets:
            check_preset(preset, device, folder)
    finally:
        torch.use_deterministic_algorithms(False)
        configure_determinism(False)


# --- report ---------------------------------------------------------------------------------
def command_line(argv: list[str] | None) -> str:
    """The command that ran, with OMP_NUM_THREADS when set."""
    env = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " if "OMP_NUM_THREADS" in os.environ else ""
    return env + shlex.join([sys.executable, sys.argv[0], *(sys.argv[1:] if argv is None else argv)])


def header(args: argparse.Namespace, device: torch.device, argv: list[str] | None) -> list[str]:
    """What ran where, and what is timed."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return [
        f"device: {device} ({name}); torch {torch.__version__}; threads {torch.get_num_threads()}",
        f"command: {command_line(argv)}",
        f"data: synthetic, {DATA_SIZE} random {CHANNELS}-channel images per domain in [-1, 1], in memory; "
        "the presets' sizes and batch sizes; data.augment=false",
        f"timed: {args.rounds} alternating rounds of {args.steps} training steps per side after {args.warmup} "
        "warm-up steps; median round reported",
        "gankit = Trainer.fit() (phases, freezing, checks, stats, lr schedule, a metrics row every "
        "train.log_every steps and at each round's end; sample/checkpoint writing stubbed)",
        "plain  = hand-written loop, same networks, losses, optimisers, lr schedule and pools",
    ]


def table(rows: list[Row]) -> list[str]:
    """An aligned markdown table."""
    return markdown_table(["preset", "image size", "batch", "gankit steps/s", "plain steps/s", "ratio", "noise"],
                          [[r.preset, r.image_size, str(r.batch), f"{r.gankit_steps_per_s:.2f}", f"{r.plain_steps_per_s:.2f}",
                            f"{r.ratio:.3f}", f"+-{r.spread_pct:.1f}%"] for r in rows])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", default=",".join(PRESETS), help=f"comma list (default: {','.join(PRESETS)})")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps per timed round (default 5 on CPU, 50 on CUDA)")
    p.add_argument("--rounds", type=int, default=3, help="alternating timed rounds per side (default 3)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed steps per side first (default 2 on CPU, 10 on CUDA)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--check", action="store_true", help="first assert both loops give bitwise-identical networks")
    p.add_argument("--json", type=Path, default=None, help="also write the header and rows here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> list[Row]:
    """Run the benchmark and print the table."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    on_gpu = device.type == "cuda"
    args.steps = args.steps or (50 if on_gpu else 5)
    args.warmup = args.warmup if args.warmup is not None else (10 if on_gpu else 2)
    presets = [p for p in args.presets.split(",") if p]
    unsupported = sorted(set(presets) - set(PRESETS))
    if unsupported:
        raise SystemExit(f"translation_speed.py: the hand-written loops cover {', '.join(PRESETS)}; "
                         f"not {', '.join(unsupported)}")
    return run_all(presets, args, header(args, device, argv), table,
                   check=lambda tmp: run_checks(presets, device, tmp),
                   bench=lambda preset, tmp: bench_preset(preset, args, device, tmp))


if __name__ == "__main__":
    main()
