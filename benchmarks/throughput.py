"""Training throughput of every image preset: gankit's engine next to a hand-written PyTorch loop.

For each one-G, one-D preset (``plain_presets()``: the gan and infogan recipes without tricks, all on
28x28 single-channel images with 10 classes, batch 64) this builds the preset's real
config and two copies of its networks from the same seed, then times, in the same
process and in alternating rounds:

* gankit: ``Trainer.fit()`` for K generator steps per round - every phase, the
  non-finite check, stats, loss accumulation, EMA and a metrics row every
  ``train.log_every`` (25) steps and at the end of each round. Sample grids and
  checkpoints are stubbed out (they are file writing every few hundred steps, not
  per-step cost), and the run directory's TensorBoard writer stays open between
  rounds as it does in one long run.
* plain: the same architectures trained by a minimal loop written here with torch
  ops and torch.optim: n_critic D steps (adversarial loss, gradient penalty / R1
  by hand, weight clipping, AC-GAN cross-entropy, InfoGAN's mutual information),
  a G step with D frozen, and the same EMA of G.

The synthetic data set (random images in [-1, 1], random labels) lives in memory on
the device, so no files are needed. ``--check`` first asserts that both sides give
bitwise-identical networks after two steps in deterministic mode, so the two loops
compute the same thing and the table compares only their cost.

Run::

    .venv/bin/python benchmarks/throughput.py [--steps 30] [--presets dcgan,wgan-gp] [--check] [--json out.json]

Defaults: 5 rounds of 6 steps per side on CPU (about 5 minutes for all presets on 2 slow
cores; wgan and wgan-gp dominate with 5 critic steps each), 5 rounds of 200 on CUDA. On a
shared CPU, ``--threads 1`` avoids OpenMP oversubscription, which otherwise swamps the
numbers. The "noise" column is half the range of one side's round rates over their median:
an overhead smaller than it is not resolved (``--json`` keeps every round's rate).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import config as cfgmod
from gankit import distributed as noise
from gankit.api import build_recipe, pick_device
from gankit.config import Config, list_presets, resolve
from gankit.data import Dataset, InMemoryLoader
from gankit.errors import ConfigError
from gankit.recipes import Recipe
from gankit.train.rundir import RunDir
from gankit.train.trainer import Trainer, configure_determinism
from gankit.types import DataInfo

IMAGE_SIZE = 28  # the default; --sizes 32,64,128 adds rows at other sizes
NUM_CLASSES = 10
DATA_SIZE = 4096  # samples in the synthetic set: 64 batches of 64 per epoch
NEVER = 10**9  # an interval no benchmark reaches
TARGET_OVERHEAD_PCT = 5.0


# the ways of running the same networks faster, timed on both sides (``--variants``; "+" joins them)
VARIANTS = {"fp32": [], "bf16": ["amp=bf16"], "channels_last": ["train.channels_last=true"],
            "compile": ["train.compile=true"]}


def variant_overrides(variant: str) -> list[str]:
    """The config overrides of a variant such as "bf16+channels_last"."""
    parts = variant.split("+")
    unknown = [p for p in parts if p not in VARIANTS]
    if unknown:
        raise SystemExit(f"throughput.py: unknown variant {'+'.join(unknown)}; choose from {', '.join(VARIANTS)} "
                         "joined by +")
    return [o for p in parts for o in VARIANTS[p]]


# --- data and config ------------------------------------------------------------------------
def synthetic_images(device: torch.device, seed: int = 0, size: int = IMAGE_SIZE) -> Dataset:
    """Random size x size gray images in [-1, 1] with 10 random labels, on ``device``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand((DATA_SIZE, 1, size, size), generator=gen) * 2 - 1  # (N, 1, size, size)
    y = torch.randint(0, NUM_CLASSES, (DATA_SIZE,), generator=gen)  # (N,)
    return Dataset(name=f"synthetic{size}", x=x, y=y, num_classes=NUM_CLASSES, kind="image").to(device)


def preset_config(preset: str, batch_size: int, device: torch.device, log_every: int, ema: bool,
                  size: int = IMAGE_SIZE, variant: str = "fp32") -> Config:
    """The preset's real config on mnist-like data of ``size``, with file writing pushed past the benchmark."""
    overrides = [f"train.batch_size={batch_size}", f"data.image_size={size}", "train.progress=false",
                 f"train.log_every={log_every}", f"train.sample_every={NEVER}", f"train.checkpoint_every={NEVER}",
                 f"train.steps={NEVER}", f"device={device}", *variant_overrides(variant)]
    if not ema:
        overrides.append("ema=null")
    return resolve(preset, "mnist", overrides)


def data_info(data: Dataset) -> DataInfo:
    """What the recipe needs to know about the synthetic data."""
    return DataInfo(data.name, data.sample_shape, data.num_classes, data.kind, data.class_names)


# --- the gankit side ------------------------------------------------------------------------
class _OpenRunDir(RunDir):
    """A run directory whose TensorBoard writer survives fit()'s close, as in one long run."""

    def close(self) -> None:
        """Keep the writer open between timed rounds; ``finish`` closes it."""

    def finish(self) -> None:
        """Really close the writer."""
        super().close()


class _NoFilesTrainer(Trainer):
    """The real Trainer with sample grids and checkpoints stubbed out (fit() writes both at its last step)."""

    def save(self) -> None:
        """No checkpoint files while timing."""

    def save_samples(self, stage: str | None = None) -> None:
        """No sample grids while timing."""


@dataclass
class EngineSide:
    """A gankit recipe and trainer ready to run ``fit()`` in chunks."""

    recipe: Recipe
    trainer: _NoFilesTrainer
    run: _OpenRunDir

    def steps(self, k: int) -> None:
        """``k`` more generator steps through Trainer.fit()."""
        self.trainer.cfg = cfgmod.replace(self.trainer.cfg, train={"steps": self.trainer.step + k})  # read-only: a new one
        self.trainer.fit()


def make_engine(cfg: Config, data: Dataset, device: torch.device, folder: Path) -> EngineSide:
    """Recipe, loader and trainer exactly as gankit.train builds them, writing into ``folder``."""
    recipe = build_recipe(cfg, data_info(data), device)
    run = _OpenRunDir(folder)
    run.create()
    loader = InMemoryLoader(data, cfg.train.batch_size, seed=cfg.seed)
    return EngineSide(recipe, _NoFilesTrainer(recipe, loader, cfg, run, device, data_info(data)), run)


# --- the plain side -------------------------------------------------------------------------
D_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "minimax": lambda real, fake: F.softplus(-real).mean() + F.softplus(fake).mean(),
    "nonsat": lambda real, fake: F.softplus(-real).mean() + F.softplus(fake).mean(),
    "lsgan": lambda real, fake: 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(),
    "wasserstein": lambda real, fake: fake.mean() - real.mean(),
    "hinge": lambda real, fake: F.relu(1 - real).mean() + F.relu(1 + fake).mean(),
    "relativistic": lambda real, fake: F.softplus(fake - real).mean(),  # RpGAN: row i real against row i fake
}
PAIRED_G_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {  # G's loss that also reads D on the real batch
    "relativistic": lambda real, fake: F.softplus(real - fake).mean(),
}
G_LOSSES: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": lambda fake: -F.softplus(fake).mean(),
    "nonsat": lambda fake: F.softplus(-fake).mean(),
    "lsgan": lambda fake: 0.5 * ((fake - 1) ** 2).mean(),
    "wasserstein": lambda fake: -fake.mean(),
    "hinge": lambda fake: -fake.mean(),
}


@dataclass
class Objective:
    """The preset's objective read off its config: what the hand-written loop must compute."""

    loss: str
    n_critic: int
    gp: dict | None = None  # {weight, target, every}
    r1: dict | None = None  # {weight, every}
    r2: dict | None = None  # {weight, every}: R1 on the generated samples (R3GAN)
    clip: float | None = None
    cls_weight: float | None = None  # AC-GAN classification term


def read_objective(cfg: Config) -> Objective:
    """Penalties and terms of ``cfg`` as plain numbers; anything unknown is an error, not a silent skip."""
    obj = Objective(cfg.loss, cfg.n_critic)
    for spec in cfg.penalties:
        spec = {"name": spec} if isinstance(spec, str) else dict(spec)
        name = spec.pop("name")
        if name == "gp":
            obj.gp = {"weight": 10.0, "target": 1.0, "every": 1} | spec
        elif name in ("r1", "r2"):
            setattr(obj, name, {"weight": 10.0, "every": 1} | spec)
        elif name == "clip":
            obj.clip = float(spec.get("clip", 0.01))
        else:
            raise NotImplementedError(f"the plain loop has no hand-written version of penalty {name!r}")
    for spec in cfg.terms:
        spec = {"name": spec} if isinstance(spec, str) else dict(spec)
        name = spec.pop("name")
        if name != "classification":
            raise NotImplementedError(f"the plain loop has no hand-written version of term {name!r}")
        obj.cls_weight = float(spec.get("weight", 1.0))
    return obj


def make_optimizer(params: list[nn.Parameter], cfg: Config, lr: float | None) -> torch.optim.Optimizer:
    """torch.optim's Adam or RMSprop with the config's lr and betas."""
    o = cfg.optim
    if o.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr or o.lr)
    return torch.optim.Adam(params, lr=lr or o.lr, betas=(o.beta1, o.beta2))


class PlainBatches:
    """Shuffled batches by hand: a permutation per epoch from a private generator, remainder dropped."""

    def __init__(self, data: Dataset, batch_size: int, seed: int) -> None:
        self.x, self.y, self.batch_size = data.x, data.y, batch_size
        self.gen = torch.Generator().manual_seed(seed)
        self.order, self.pos = torch.empty(0, dtype=torch.long), 0

    def next(self) -> tuple[Tensor, Tensor]:
        """(x (B, C, H, W), y (B,))."""
        if self.pos + self.batch_size > len(self.order):
            self.order, self.pos = torch.randperm(len(self.x), generator=self.gen).to(self.x.device), 0
        index = self.order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return self.x[index], self.y[index]


class PlainLoop:
    """The same networks trained by a minimal hand-written PyTorch loop."""

    def __init__(self, recipe: Recipe, cfg: Config, data: Dataset) -> None:
        self.G, self.D = recipe.G, recipe.D
        self.obj = read_objective(cfg)
        self.batches = PlainBatches(data, cfg.train.batch_size, cfg.seed)
        self.batch_size, self.device = cfg.train.batch_size, data.x.device
        self.z_dim, self.num_classes = getattr(recipe, "z_dim", 0), getattr(recipe, "num_classes", 0)
        self.layout = getattr(recipe, "layout", None)  # InfoGAN's code layout
        self.info = recipe.objective.terms.get("info") if self.layout is not None else None
        self.opt_g = make_optimizer(list(self.G.parameters()), cfg, cfg.optim.settings("G").lr)
        self.opt_d = make_optimizer(list(self.D.parameters()), cfg, cfg.optim.settings("D").lr)
        self.ema_decay = cfg.ema
        self.ema = copy.deepcopy(self.G).eval().requires_grad_(False) if cfg.ema is not None else None
        self.ema_updates = 0
        self.step_index = 0
        self.n_critic = recipe.n_critic  # an int, or WGAN's schedule (boosted critic steps at first): step -> count
        self.amp = cfg.amp

    def latent(self) -> tuple[Tensor, Tensor | None]:
        """G's input z (B, Z) and fake labels (B,) or None; InfoGAN: [noise, one-hot cat codes, U(-1,1) codes]."""
        n, dev = self.batch_size, self.device  # drawn from the stream gankit's recipes draw from, in their order,
        if self.layout is not None:  # so that --check can compare the two loops bit for bit
            parts = [noise.batch_randn(n, self.layout.noise_dim, device=dev)]
            parts += [F.one_hot(noise.batch_randint(k, n, device=dev), k).float() for k in self.layout.cat_dims]
            parts.append(noise.batch_rand(n, self.layout.n_cont, device=dev) * 2 - 1)
            return torch.cat(parts, dim=1), None
        z = noise.batch_randn(n, self.z_dim, device=dev)
        y = noise.batch_randint(self.num_classes, n, device=dev) if self.num_classes else None
        return z, y

    def zero_centred(self, x: Tensor, y: Tensor | None, spec: dict) -> Tensor:
        """weight/2 * mean ||grad D(x)||^2 (lazy: times ``every``): R1 on real x, R2 on generated x."""
        x_in = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(self.D(x_in, y).logit.sum(), x_in, create_graph=True)
        return 0.5 * spec["weight"] * spec["every"] * grad.flatten(1).pow(2).sum(dim=1).mean()

    def r2(self, fake: Tensor, y_fake: Tensor | None) -> Tensor | None:
        """R2 (R3GAN): R1 on the generated samples, by hand."""
        r2 = self.obj.r2
        return None if r2 is None or self.step_index % r2["every"] else self.zero_centred(fake, y_fake, r2)

    def penalty(self, x: Tensor, y: Tensor, fake: Tensor) -> Tensor | None:
        """Gradient penalty (Gulrajani et al. 2017) or R1 (Mescheder et al. 2018), by hand."""
        gp, r1, step = self.obj.gp, self.obj.r1, self.step_index
        if gp is not None and step % gp["every"] == 0:
            alpha = noise.batch_rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)
            x_hat = (alpha * x + (1 - alpha) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(self.D(x_hat, y).logit.sum(), x_hat, create_graph=True)
            return gp["weight"] * gp["every"] * ((grad.flatten(1).norm(2, dim=1) - gp["target"]) ** 2).mean()
        if r1 is not None and step % r1["every"] == 0:
            return self.zero_centred(x, y, r1)
        return None

    def d_step(self) -> None:
        """One discriminator update on a fresh real batch."""
        x, y = self.batches.next()
        z, y_fake = self.latent()
        with torch.no_grad():
            fake = self.G(z, y_fake)  # (B, C, H, W), no graph into G
        d_real, d_fake = self.D(x, y), self.D(fake, y_fake)
        loss = D_LOSSES[self.obj.loss](d_real.logit, d_fake.logit)
        if self.obj.cls_weight is not None:
            loss = loss + self.obj.cls_weight * (F.cross_entropy(d_real.aux, y) + F.cross_entropy(d_fake.aux, y_fake))
        if self.info is not None:
            loss = loss + self.info.loss(z, d_fake.aux)
        self.last_real = (x, y)  # G's step shows D this batch again (gankit's G phase: new_batch=False)
        for penalty in (self.penalty(x, y, fake), self.r2(fake, y_fake)):  # gankit's order: the config's (r1, r2)
            if penalty is not None:
                loss = loss + penalty
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        if self.obj.clip is not None:
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-self.obj.clip, self.obj.clip)

    def g_step(self) -> None:
        """One generator update with D frozen."""
        z, y_fake = self.latent()
        self.D.requires_grad_(False)
        d_fake = self.D(self.G(z, y_fake), y_fake)
        if self.obj.loss in PAIRED_G_LOSSES:
            x, y = self.last_real
            loss = PAIRED_G_LOSSES[self.obj.loss](self.D(x, y).logit.detach(), d_fake.logit)
        else:
            loss = G_LOSSES[self.obj.loss](d_fake.logit)
        if self.obj.cls_weight is not None:
            loss = loss + self.obj.cls_weight * F.cross_entropy(d_fake.aux, y_fake)
        if self.info is not None:
            loss = loss + self.info.loss(z, d_fake.aux)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)

    @torch.no_grad()
    def update_ema(self) -> None:
        """G's moving average with the warm-up min(decay, (1 + t) / (10 + t)); buffers copied."""
        if self.ema is None:
            return
        decay = min(self.ema_decay, (1 + self.ema_updates) / (10 + self.ema_updates))
        for avg, cur in zip(self.ema.parameters(), self.G.parameters()):
            avg.lerp_(cur, 1 - decay)
        for avg, cur in zip(self.ema.buffers(), self.G.buffers()):
            avg.copy_(cur)
        self.ema_updates += 1

    def steps(self, k: int) -> None:
        """``k`` generator steps, each after n_critic discriminator steps (under bf16 autocast when the config's amp
        asks for it, as gankit's trainer runs its phases)."""
        for _ in range(k):
            self.step_index += 1
            n_critic = self.n_critic(self.step_index) if callable(self.n_critic) else self.n_critic
            with self.autocast():
                for _ in range(n_critic):
                    self.d_step()
                self.g_step()
            self.update_ema()

    def autocast(self):  # noqa: ANN201
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.amp == "bf16" else contextlib.nullcontext()


def make_plain(cfg: Config, data: Dataset, device: torch.device) -> PlainLoop:
    """A second copy of the preset's networks (same seed, so the same initial weights) in a plain loop."""
    recipe = build_recipe(dataclasses.replace(cfg, ema=None), data_info(data), device)
    return PlainLoop(recipe, cfg, data)


# --- timing ---------------------------------------------------------------------------------
def sync(device: torch.device) -> None:
    """Wait for queued GPU work so wall time covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def steps_per_second(run: Callable[[int], None], k: int, device: torch.device) -> float:
    """Generator steps per second of ``run(k)``."""
    sync(device)
    start = time.perf_counter()
    run(k)
    sync(device)
    return k / (time.perf_counter() - start)


@dataclass
class Row:
    """One preset's result."""

    preset: str
    n_critic: int
    size: int
    variant: str
    gankit_steps_per_s: float
    plain_steps_per_s: float
    ratio: float  # gankit / plain steps per second
    overhead_pct: float  # extra wall time per step of gankit over plain
    spread_pct: float  # half the range of a side's round rates over their median (the larger side): the noise
    gankit_rounds: list[float]
    plain_rounds: list[float]
    batch_size: int = 64


def bench_preset(preset: str, args: argparse.Namespace, data: Dataset, device: torch.device, folder: Path,
                 variant: str = "fp32") -> Row | None:
    """Warm both sides up, then alternate timed rounds; the median round of each side counts. None: the variant
    does not apply to the preset (compile with a penalty that differentiates twice)."""
    size = data.sample_shape[-1]
    if "compile" in variant:
        torch._dynamo.reset()  # compiled code is cached per function: new networks would hit its recompile limit
    try:
        cfg = preset_config(preset, args.batch_size, device, args.log_every, not args.no_ema, size, variant)
        engine = make_engine(cfg, data, device, folder / f"{preset}-{size}-{variant}")
    except ConfigError as e:
        print(f"  {preset} at {size} px, {variant}: skipped ({e})", flush=True)
        return None
    plain = make_plain(cfg, data, device)
    rates = alternate_rounds(engine, plain.steps, args, device)
    g, p = statistics.median(rates["gankit"]), statistics.median(rates["plain"])
    return Row(preset, cfg.n_critic, size, variant, g, p, g / p, (p / g - 1) * 100, spread_pct(rates),
               rates["gankit"], rates["plain"], args.batch_size)


def alternate_rounds(engine: EngineSide, plain_steps: Callable[[int], None], args: argparse.Namespace,
                     device: torch.device) -> dict[str, list[float]]:
    """Warm both sides up, then args.rounds timed rounds of args.steps each, alternating which side goes first."""
    try:
        engine.steps(args.warmup)
        plain_steps(args.warmup)
        sides = {"gankit": engine.steps, "plain": plain_steps}
        rates: dict[str, list[float]] = {"gankit": [], "plain": []}
        for r in range(args.rounds):
            for name in (("gankit", "plain") if r % 2 == 0 else ("plain", "gankit")):
                rates[name].append(steps_per_second(sides[name], args.steps, device))
    finally:
        engine.run.finish()
    return rates


def spread_pct(rates: dict[str, list[float]]) -> float:
    """The noise: half the range of a side's round rates over their median, the larger side's."""
    return max(50 * (max(r) - min(r)) / statistics.median(r) for r in rates.values())


# --- the equivalence check ------------------------------------------------------------------
def check_preset(preset: str, args: argparse.Namespace, data: Dataset, device: torch.device, folder: Path) -> None:
    """Assert that two steps of gankit and of the plain loop leave bitwise-identical networks."""
    cfg = preset_config(preset, args.batch_size, device, args.log_every, not args.no_ema)
    engine, plain = make_engine(cfg, data, device, folder / f"check-{preset}"), make_plain(cfg, data, device)
    try:
        for side in (engine, plain):
            torch.manual_seed(1234)
            noise.SHARED.seed(1234)  # the per-sample noise stream (gankit.distributed), as gankit.train seeds it
            side.steps(2)
    finally:
        engine.run.finish()
    pairs = [("G", engine.recipe.G, plain.G), ("D", engine.recipe.D, plain.D)]
    if plain.ema is not None:
        pairs.append(("EMA G", engine.recipe.ema.net, plain.ema))
    for label, a, b in pairs:
        for (name, ta), tb in zip(a.state_dict().items(), b.state_dict().values()):
            if not torch.equal(ta, tb):
                diff = (ta.double() - tb.double()).abs().max().item()
                raise AssertionError(f"{preset}: {label} {name} differs after 2 steps (max |diff| {diff:.3g})")
    print(f"check {preset}: gankit and the plain loop agree bitwise after 2 steps")


def run_checks(presets: list[str], args: argparse.Namespace, data: Dataset, device: torch.device, folder: Path) -> None:
    """The equivalence check for every preset, in deterministic mode, then back to normal kernels."""
    configure_determinism(True)
    try:
        for preset in presets:
            check_preset(preset, args, data, device, folder)
    finally:
        torch.use_deterministic_algorithms(False)
        configure_determinism(False)


# --- report ---------------------------------------------------------------------------------
def header(args: argparse.Namespace, device: torch.device) -> list[str]:
    """What ran where, and what is timed."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return [
        f"device: {device} ({name}); torch {torch.__version__}; threads {torch.get_num_threads()}",
        f"data: synthetic 1-channel images of {', '.join(f'{s}x{s}' for s in args.sizes)} px, {NUM_CLASSES} classes, "
        f"in memory; batch {args.batch_size}; variants {', '.join(args.variants)}; "
        f"EMA {'off' if args.no_ema else 'as the preset'}",
        f"timed: {args.rounds} alternating rounds of {args.steps} generator steps per side after {args.warmup} "
        "warm-up steps; median round reported",
        f"gankit = Trainer.fit() (all phases, checks, stats, EMA, a metrics row every {args.log_every} steps and "
        "at each round's end; sample/checkpoint writing stubbed)",
        "plain  = hand-written loop, same networks and optimisers, same math "
        "(n_critic D steps, G step with D frozen, EMA)",
    ]


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Aligned markdown lines: the first column left-aligned, the others (numbers) right-aligned."""
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return [line(header), rule, *(line(cells) for cells in rows)]


def table(rows: list[Row]) -> list[str]:
    """An aligned markdown table and the verdict line."""
    base = {(r.preset, r.size): r.gankit_steps_per_s for r in rows if r.variant == "fp32"}
    lines = markdown_table(["preset", "px", "variant", "n_critic", "gankit steps/s", "images/s", "vs fp32",
                            "plain steps/s", "ratio", "overhead %", "noise +-%"],
                           [[r.preset, str(r.size), r.variant, str(r.n_critic), f"{r.gankit_steps_per_s:.2f}",
                             f"{r.gankit_steps_per_s * r.batch_size:.0f}",
                             f"{r.gankit_steps_per_s / base[(r.preset, r.size)]:.2f}x" if (r.preset, r.size) in base else "",
                             f"{r.plain_steps_per_s:.2f}", f"{r.ratio:.3f}", f"{r.overhead_pct:+.1f}",
                             f"{r.spread_pct:.1f}"] for r in rows])
    median = statistics.median(r.overhead_pct for r in rows)
    noise = statistics.median(r.spread_pct for r in rows)
    verdict = "meets" if median <= TARGET_OVERHEAD_PCT else "misses"
    lines.append(f"median overhead {median:+.1f}% across {len(rows)} rows (median round-to-round noise "
                 f"+-{noise:.1f}%): {verdict} the {TARGET_OVERHEAD_PCT:.0f}% target")
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None,
                   help="generator steps per timed round (default 6 on CPU, 200 on CUDA)")
    p.add_argument("--rounds", type=int, default=5, help="alternating timed rounds per side (default 5)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed steps per side first (default 3 on CPU, 20 on CUDA)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--presets", default=None, help="comma list (default: every preset)")
    p.add_argument("--log-every", type=int, default=25, help="gankit's train.log_every (default 25)")
    p.add_argument("--no-ema", action="store_true", help="EMA off on both sides (default: as the preset, on)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--check", action="store_true", help="first assert both loops give identical networks")
    p.add_argument("--sizes", default=str(IMAGE_SIZE), help="comma list of image sizes (default 28; e.g. 32,64,128)")
    p.add_argument("--variants", default="fp32", help="comma list of fp32, bf16, channels_last, compile, or "
                   "several joined by + (e.g. bf16+channels_last); each timed on both sides (default fp32)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    return p.parse_args(argv)


def plain_presets() -> list[str]:
    """The presets the hand-written loop reproduces: one G and one D, on the gan or infogan recipe, no tricks."""
    return [p for p in list_presets() if resolve(p).recipe in ("gan", "infogan") and not resolve(p).tricks]


def main(argv: list[str] | None = None) -> list[Row]:
    """Run the benchmark and print the table."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    on_gpu = device.type == "cuda"
    args.steps = args.steps or (200 if on_gpu else 6)
    args.warmup = args.warmup if args.warmup is not None else (20 if on_gpu else 3)
    presets = args.presets.split(",") if args.presets else plain_presets()
    unsupported = sorted(set(presets) - set(plain_presets()))
    if unsupported:
        raise SystemExit(f"throughput.py: the hand-written loop covers the one-G, one-D presets "
                         f"({', '.join(plain_presets())}); not {', '.join(unsupported)}")
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.variants = args.variants.split(",")
    for variant in args.variants:
        variant_overrides(variant)  # unknown names fail before anything runs
    data = {size: synthetic_images(device, size=size) for size in args.sizes}
    cells = [(preset, size, variant) for preset in presets for size in args.sizes for variant in args.variants]
    return run_all(cells, args, header(args, device), table,
                   check=lambda tmp: run_checks(presets, args, data[args.sizes[0]], device, tmp),
                   bench=lambda cell, tmp: bench_preset(cell[0], args, data[cell[1]], device, tmp, cell[2]))


def run_all(presets: list, args: argparse.Namespace, lines: list[str], table: Callable[[list], list[str]], *,
            check: Callable[[Path], None], bench: Callable[[Any, Path], Any]) -> list:
    """Print the header, run the checks when asked (deterministic), time every preset, print the table, save --json."""
    print("\n".join(lines), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gankit-bench-") as tmp:
        if args.check:
            check(Path(tmp))
        configure_determinism(False)
        for preset in presets:
            row = bench(preset, Path(tmp))
            if row is None:  # a combination that does not apply (said when skipped)
                continue
            rows.append(row)
            print(f"  {preset}: gankit {row.gankit_steps_per_s:.2f}/s, plain {row.plain_steps_per_s:.2f}/s", flush=True)
    print("\n".join(table(rows)))
    if args.json is not None:
        args.json.write_text(json.dumps({"header": lines, "rows": [dataclasses.asdict(r) for r in rows]}, indent=2))
    return rows


if __name__ == "__main__":
    main()
