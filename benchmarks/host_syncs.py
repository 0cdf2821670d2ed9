"""How often gankit's training loop makes the host wait for the GPU (issue 13: a GPU run must not sync on every
step without measuring it).

For each preset, the real Trainer (as ``benchmarks/throughput.py`` builds it: synthetic 28x28 data on the device,
no sample grids or checkpoint files) runs ``--steps`` generator steps under ``torch.cuda.set_sync_debug_mode``
("warn"), which reports every operation that blocks the host on the device (``.item()``, ``bool(tensor)``, a
device-to-host copy). The table gives the synchronising calls per step and the source lines they come from, so a
change to the loop shows up as a number. Needs CUDA; on a CPU it says so and exits.

    python benchmarks/host_syncs.py --presets dcgan,r3gan,stylegan --steps 50
"""
from __future__ import annotations

import argparse
import collections
import tempfile
import traceback
import warnings
from pathlib import Path

import torch

from throughput import make_engine, preset_config, synthetic_images  # benchmarks/ is the script's folder


def count_syncs(preset: str, steps: int, device: torch.device, folder: Path) -> tuple[float, collections.Counter]:
    """(synchronising calls per step, where they come from) over ``steps`` steps after a warm-up of 5."""
    cfg = preset_config(preset, 64, device, log_every=25, ema=True)
    engine = make_engine(cfg, synthetic_images(device), device, folder / preset)
    try:
        engine.steps(5)
        torch.cuda.synchronize(device)
        sources: collections.Counter = collections.Counter()
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                engine.steps(steps)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        for w in caught:
            if "synchroniz" in str(w.message):
                sources[f"{Path(w.filename).name}:{w.lineno}"] += 1
    finally:
        engine.run.finish()
    return sum(sources.values()) / steps, sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default="dcgan,wgan-gp,r3gan,stylegan")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("host_syncs.py measures waits for a CUDA device; none is here")
    device = torch.device(args.device)
    print(f"synchronising calls per generator step on {torch.cuda.get_device_name(device)}, {args.steps} steps, "
          "batch 64, log row every 25 steps\n")
    print("| preset | syncs per step | top sources (file:line count) |")
    print("| --- | ---: | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets.split(","):
            try:
                per_step, sources = count_syncs(preset, args.steps, device, Path(tmp))
            except Exception:  # noqa: BLE001  (one preset failing must not hide the others' rows)
                traceback.print_exc()
                continue
            top = ", ".join(f"{k} {v}" for k, v in sources.most_common(4))
            print(f"| {preset} | {per_step:.2f} | {top} |")


if __name__ == "__main__":
    main()
