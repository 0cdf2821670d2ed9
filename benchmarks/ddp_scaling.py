"""Multi-process (DDP) training throughput: samples per second at 1 and N processes, and the scaling efficiency.

For each preset (default: dcgan and sngan, the preset's real networks and optimiser on MNIST-shaped data,
batch 64 per process) this starts torch's launcher (``torch.distributed.run --standalone --nproc_per_node P``)
once per process count P in (1, N), each rank running gankit's real training step (``Trainer.fit()``: every
phase through DDP, the buffer sync, the EMA, the loss checks, a metrics row every ``--log-every`` steps; sample
grids and checkpoints stubbed), and times ``--steps`` generator steps after ``--warmup`` untimed ones (rank 0's
wall clock, between two barriers). ``train.batch_size`` is per process, so P processes train on a global batch
of P x 64:

    samples/s   = P x batch x steps / seconds
    efficiency  = samples/s at P / (P x samples/s at 1)      (1.0: perfect linear scaling)

On the CPU every process gets one thread (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``; ``--threads``
changes it), so P processes want P free cores: on a machine with fewer, or shared with other work, the
efficiency measures the contention as much as DDP. Each (preset, P) runs ``--rounds`` times (the process
counts alternating) and the median counts; "noise" is half the range of its rounds over their median. On CUDA each process has its own GPU (P is capped at
the number of GPUs) and NCCL carries the gradients.

Data: ``synthetic`` (default) is MNIST-shaped random images in memory (1x28x28, 10 classes, the same compute
as MNIST, no files needed); ``digits``, ``mnist`` or any data set name loads that data set instead.

Run::

    .venv/bin/python benchmarks/ddp_scaling.py [--nproc 2] [--presets dcgan,sngan] [--data synthetic]
        [--steps 60] [--warmup 5] [--rounds 3] [--batch-size 64] [--device auto] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import markdown_table, synthetic_images  # noqa: E402

from gankit import config as cfgmod  # noqa: E402
from gankit import distributed  # noqa: E402
from gankit.api import build_recipe, pick_device  # noqa: E402
from gankit.data import InMemoryLoader, load_dataset  # noqa: E402
from gankit.train.rundir import RunDir  # noqa: E402
from gankit.train.trainer import Trainer, configure_determinism  # noqa: E402
from gankit.types import DataInfo  # noqa: E402

NEVER = 10**9  # an interval no benchmark reaches


# --- one rank (under torchrun) -------------------------------------------------------------------------------
class _TimedTrainer(Trainer):
    """The real Trainer, its clock started at the first timed step; no sample grids or checkpoints."""

    warmup = 0
    started: float | None = None

    def save(self) -> None:
        """No checkpoint files while timing."""

    def save_samples(self, stage: str | None = None) -> None:
        """No sample grids while timing."""

    def train_step(self, phases):  # noqa: ANN001,ANN201
        if self.step == self.warmup + 1:  # every rank at the same point, its queued GPU work done
            _sync(self.device)
            distributed.barrier()
            self.started = time.perf_counter()
        return super().train_step(phases)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _data(name: str, device: torch.device):  # noqa: ANN202  (Dataset)
    if name == "synthetic":
        return synthetic_images(device)
    return load_dataset(name, split="train", image_size=None, channels=None, root=None, limit=None, seed=0).to(device)


def worker(args: argparse.Namespace) -> None:
    """One rank: train ``args.preset`` for warmup + steps steps, rank 0 writes the timing to ``args.result``."""
    if pick_device(args.device).type == "cpu":
        torch.set_num_threads(args.threads)
    with distributed.process_group(pick_device(args.device).type):
        device = pick_device(args.device)
        data = _data(args.data, device)
        overrides = [f"train.batch_size={args.batch_size}", "train.progress=false", f"train.log_every={args.log_every}",
                     f"train.sample_every={NEVER}", f"train.checkpoint_every={NEVER}",
                     f"train.steps={args.warmup + args.steps}", f"device={args.device}", "symptoms.enabled=false"]
        cfg = cfgmod.resolve(args.preset, "mnist" if args.data == "synthetic" else args.data, overrides)
        info = DataInfo(data.name, data.sample_shape, data.num_classes, data.kind, data.class_names)
        configure_determinism(False)
        recipe = build_recipe(cfg, info, device)
        with tempfile.TemporaryDirectory(prefix="gankit-ddp-bench-") as tmp:
            run = RunDir(distributed.broadcast_object(tmp))  # rank 0's folder: only rank 0 writes in it
            run.create()
            trainer = _TimedTrainer(recipe, InMemoryLoader(data, args.batch_size, seed=cfg.seed), cfg, run, device, info)
            trainer.warmup = args.warmup
            trainer.fit()
            _sync(device)
            distributed.barrier()
            seconds = time.perf_counter() - trainer.started
            distributed.barrier()  # rank 0's folder stays until every rank is done with it
        if distributed.is_main():
            world = distributed.world_size()
            Path(args.result).write_text(json.dumps({
                "preset": args.preset, "processes": world, "batch_per_process": args.batch_size, "steps": args.steps,
                "seconds": seconds, "steps_per_s": args.steps / seconds,
                "samples_per_s": world * args.batch_size * args.steps / seconds, "n_critic": cfg.n_critic,
                "device": str(device), "threads": torch.get_num_threads()}))


# --- the driver ----------------------------------------------------------------------------------------------
def launch(preset: str, processes: int, args: argparse.Namespace, folder: Path) -> dict:
    """One torchrun of ``processes`` ranks of this script's worker; its rank 0's timing."""
    result = folder / f"{preset}-{processes}.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
           str(Path(__file__).resolve()), "--worker", "--preset", preset, "--result", str(result),
           "--data", args.data, "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--batch-size", str(args.batch_size), "--device", args.device, "--log-every", str(args.log_every),
           "--threads", str(args.threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ddp_scaling.py: {preset} with {processes} processes failed:\n{done.stderr[-4000:]}")
    return json.loads(result.read_text())


def median_row(rounds: list[dict]) -> dict:
    """The round with the median samples/s, with the noise of all rounds (half their range over the median)."""
    ordered = sorted(rounds, key=lambda r: r["samples_per_s"])
    middle = ordered[len(ordered) // 2]
    rates = [r["samples_per_s"] for r in rounds]
    return {**middle, "noise_pct": 50 * (max(rates) - min(rates)) / middle["samples_per_s"],
            "rounds": rates}


def table(rows: list[dict]) -> list[str]:
    """Markdown table: one row per preset and process count; efficiency against the preset's 1-process row."""
    base = {r["preset"]: r["samples_per_s"] for r in rows if r["processes"] == 1}
    cells = []
    for r in rows:
        efficiency = r["samples_per_s"] / (r["processes"] * base[r["preset"]])
        cells.append([r["preset"], str(r["processes"]), str(r["batch_per_process"]),
                      str(r["processes"] * r["batch_per_process"]), f"{r['steps_per_s']:.2f}",
                      f"{r['samples_per_s']:.0f}", f"{r['noise_pct']:.0f}", f"{efficiency:.2f}"])
    return markdown_table(["preset", "processes", "batch/process", "global batch", "steps/s", "samples/s",
                           "noise +-%", "efficiency"], cells)


def header(args: argparse.Namespace, device: torch.device, counts: list[int]) -> list[str]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    threads = (f"{args.threads} thread(s) per process (OMP_NUM_THREADS={args.threads}); {os.cpu_count()} cores here"
               if device.type == "cpu" else "one process per GPU, NCCL")
    return [
        f"device: {device.type} ({name}); torch {torch.__version__}; {threads}",
        f"data: {args.data if args.data != 'synthetic' else 'synthetic MNIST-shaped images (1x28x28) in memory'}; "
        f"batch {args.batch_size} per process; processes {', '.join(map(str, counts))}",
        f"timed: {args.steps} generator steps after {args.warmup} warm-up steps, median of {args.rounds} rounds; "
        "Trainer.fit() on every rank "
        "(DDP, buffer sync, EMA, a metrics row every "
        f"{args.log_every} steps; sample/checkpoint writing stubbed), rank 0's wall clock between barriers",
        "efficiency = samples/s at P processes / (P x samples/s at 1 process)",
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nproc", type=int, default=2, help="processes to compare with one (default 2; on CUDA at most "
                   "the number of GPUs)")
    p.add_argument("--presets", default="dcgan,sngan")
    p.add_argument("--data", default="synthetic", help="synthetic (MNIST-shaped, default), digits, mnist, ...")
    p.add_argument("--steps", type=int, default=None, help="timed generator steps (default 60 on CPU, 200 on CUDA)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5 on CPU, 20 on CUDA)")
    p.add_argument("--rounds", type=int, default=3, help="launches per preset and process count; the median counts")
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--threads", type=int, default=1, help="threads per process on the CPU (default 1)")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--preset", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    device = pick_device(args.device)
    args.steps = args.steps or (200 if device.type == "cuda" else 60)
    args.warmup = args.warmup if args.warmup is not None else (20 if device.type == "cuda" else 5)
    if args.worker:
        worker(args)
        return []
    nproc = min(args.nproc, torch.cuda.device_count()) if device.type == "cuda" else args.nproc
    counts = sorted({1, nproc})
    lines = header(args, device, counts)
    if device.type == "cuda" and nproc < args.nproc:
        lines.append(f"(asked for {args.nproc} processes; {nproc} GPU(s) here)")
    print("\n".join(lines), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gankit-ddp-scaling-") as tmp:
        for preset in args.presets.split(","):
            rounds: dict[int, list[dict]] = {p: [] for p in counts}
            for r in range(args.rounds):
                for processes in (counts if r % 2 == 0 else counts[::-1]):
                    rounds[processes].append(launch(preset, processes, args, Path(tmp)))
                    print(f"  {preset} x{processes}, round {r + 1}: {rounds[processes][-1]['samples_per_s']:.0f} "
                          "samples/s", flush=True)
            rows += [median_row(rounds[p]) for p in counts]
    print("\n".join(table(rows)))
    if args.json is not None:
        args.json.write_text(json.dumps({"header": lines, "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
