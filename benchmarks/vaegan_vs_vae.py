"""VAE-GAN (Larsen et al. 2016) against the plain VAE (Kingma & Welling 2014) at the same number of steps.

Larsen et al.'s claim: measuring the reconstruction in a discriminator's feature space, with the GAN's
loss on the decoder, gives sharper samples than a VAE's pixel-wise likelihood. For each data set and
seed, the ``vae`` and ``vaegan`` presets train for the same ``--steps`` (default: the presets' own),
one after the other in one process with the same threads; each is scored by the data set's domain
evaluator on ``--n`` prior samples G(z), z ~ N(0, I) (domain FID against the test split) and on the
reconstructions G(E(x)) of ``--n`` test images (pixel MSE, images in [-1, 1], and the share the
evaluator puts in x's class). A VAE-GAN step updates three networks (D, G, E), a VAE step one pair,
so the time of each training is reported too (wall clock, and the process's CPU time, which other
programs on the machine do not inflate), and with ``--same-time`` a third row trains the VAE for as
many steps as fit in the VAE-GAN's CPU time of the same seed: its steps x the ratio of the two runs' CPU
times less the costs that do not grow with the steps (loading, building, the final report), measured
once per data set as the CPU time of a one-step VAE run.

Run::

    .venv/bin/python benchmarks/vaegan_vs_vae.py [--data digits,mnist] [--seeds 3] [--steps N] [--n 2000]
        [--threads 1] [--same-time] [--out runs/vaegan-vs-vae] [key=value ...]

(``key=value``: overrides applied to both presets.) Each finished result is appended to
``<out>/vaegan_vs_vae.jsonl``; run the same command again after an interruption and the finished ones are
kept (an unfinished run directory is trained again from the start). MNIST needs ``GANKIT_DATA`` (or ``data.root=``) pointing
at the offline data sets; its domain evaluator trains once on first use (about a minute).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

import gankit
from gankit.bench import mean_se, training_seconds

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import markdown_table  # noqa: E402

SCORES = ("fid", "recon_error", "recon_acc")


@dataclass
class Result:
    """One trained preset's scores."""

    model: str  # vae, vaegan, or "vae (same CPU time)"
    data: str
    seed: int
    steps: int
    seconds: float  # training wall time, from the run's log
    cpu_seconds: float  # CPU time of the process during gankit.train (all threads)
    fid: float
    recon_error: float
    recon_acc: float


def trained(preset: str, data: str, seed: int, overrides: list[str], out: Path, args: argparse.Namespace):  # noqa: ANN201
    """(a fresh run of ``preset`` in ``out``, the CPU seconds gankit.train took)."""
    shutil.rmtree(out, ignore_errors=True)  # an interrupted earlier attempt: start it again
    cpu = time.process_time()
    run = gankit.train(preset, data, out=out, overrides=["train.progress=false", f"device={args.device}", f"seed={seed}",
                                                         *args.overrides, *overrides])
    return run, time.process_time() - cpu


def fixed_cpu_seconds(data: str, args: argparse.Namespace) -> float:
    """The CPU time of a one-step VAE run: what a run costs besides its steps."""
    return trained("vae", data, 0, ["train.steps=1"], Path(args.out) / f"one-step-{data}", args)[1]


def train_and_score(model: str, preset: str, data: str, seed: int, overrides: list[str], args: argparse.Namespace) -> Result:
    out = Path(args.out) / f"{model.replace(' ', '-').replace('(', '').replace(')', '')}-{data}-seed{seed}"
    run, cpu = trained(preset, data, seed, overrides, out, args)
    row = run.evaluate(["reconstruction", "fid"], n=args.n, features="domain", seed=seed)
    return Result(model, data, seed, run.step, round(training_seconds(run.path), 1), round(cpu, 1),
                  *(float(row[f"eval/{k}"]) for k in SCORES))


def cell(values: list[float], digits: int) -> str:
    mean, se = mean_se(values)
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def table(results: list[Result]) -> list[str]:
    """Mean ± standard error over seeds per data set and model, then the paired FID difference vaegan - vae."""
    rows = []
    for data in dict.fromkeys(r.data for r in results):
        here = [r for r in results if r.data == data]
        for model in dict.fromkeys(r.model for r in here):
            rs = [r for r in here if r.model == model]
            rows.append([f"{data}, {model}", cell([r.steps for r in rs], 0), cell([r.seconds for r in rs], 0),
                         cell([r.cpu_seconds for r in rs], 0),
                         cell([r.fid for r in rs], 1), cell([r.recon_error for r in rs], 3),
                         cell([r.recon_acc for r in rs], 3)])
        for baseline in [m for m in dict.fromkeys(r.model for r in here) if m.startswith("vae") and m != "vaegan"]:
            pairs = [(a.fid, b.fid) for a in here if a.model == "vaegan" for b in here
                     if b.model == baseline and b.seed == a.seed]
            if pairs:
                wins = sum(a < b for a, b in pairs)
                rows.append([f"{data}, vaegan - {baseline} (vaegan lower: {wins}/{len(pairs)} seeds)", "", "", "",
                             cell([a - b for a, b in pairs], 1), "", ""])
    return markdown_table(["data, model", "steps", "train wall s", "train CPU s", "domain FID (prior samples)", "recon error (MSE)",
                           "recon class kept"], rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="digits")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=None, help="training steps of both (default: the presets')")
    p.add_argument("--n", type=int, default=2000, help="prior samples and test images scored per model")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--same-time", action="store_true", help="also train the VAE for the VAE-GAN's CPU time")
    p.add_argument("--out", default="runs/vaegan-vs-vae", help="the runs and vaegan_vs_vae.json / .md")
    p.add_argument("overrides", nargs="*", help="key=value overrides of both presets, e.g. model.z_dim=32")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    steps = [f"train.steps={args.steps}"] if args.steps else []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "vaegan_vs_vae.jsonl"
    done = {(r.model, r.data, r.seed): r for r in
            (Result(**json.loads(line)) for line in (log.read_text().splitlines() if log.is_file() else []))}
    results = []

    def result(model: str, preset: str, data: str, seed: int, overrides: list[str]) -> Result:
        if (model, data, seed) not in done:
            done[model, data, seed] = train_and_score(model, preset, data, seed, overrides, args)
            with log.open("a") as f:
                f.write(json.dumps(asdict(done[model, data, seed])) + "\n")
        print(json.dumps(asdict(done[model, data, seed])), flush=True)
        return done[model, data, seed]

    for data in [d.strip() for d in args.data.split(",") if d.strip()]:
        fixed = None
        for seed in range(args.seeds):
            t0 = time.time()
            vae, vaegan = (result(model, model, data, seed, steps) for model in ("vae", "vaegan"))
            results += [vae, vaegan]
            if args.same_time:  # the VAE's steps scaled by the CPU time a VAE-GAN step takes over a VAE step
                if ("vae (same CPU time)", data, seed) not in done and fixed is None:
                    fixed = fixed_cpu_seconds(data, args)
                    print(f"{data}: a one-step run takes {fixed:.1f} CPU seconds", flush=True)
                same = round(vae.steps * (vaegan.cpu_seconds - (fixed or 0)) / (vae.cpu_seconds - (fixed or 0)))
                results.append(result("vae (same CPU time)", "vae", data, seed, [f"train.steps={same}"]))
            print(f"{data}, seed {seed}: {time.time() - t0:.0f} s", flush=True)
    lines = table(results)
    print(f"\n{args.seeds} seeds, {args.threads} thread(s), {args.n} samples; steps: {args.steps or 'the presets'}")
    print("\n".join(lines))
    (out / "vaegan_vs_vae.json").write_text(json.dumps([asdict(r) for r in results], indent=1))
    (out / "vaegan_vs_vae.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
