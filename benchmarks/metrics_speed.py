"""Speed of gankit's evaluation: feature extraction, then FID / KID / precision-recall, next to torchmetrics' FID.

Images are deterministic: ``--n`` MNIST test digits as "real" (``--root``, else
``$GANKIT_DATA`` / ``~/.cache/gankit/data``; random images when the file is absent) and a perturbed copy (Gaussian noise
0.3, clamped to [-1, 1], fixed seed) as "fake". Every image is 28x28 grey in [-1, 1].

Rows:

* extraction: images/s of the FID InceptionV3 (the official weights when
  ``find_inception_weights()`` finds them, else random ones - the speed is the same) and of
  the domain evaluator when ``gankit.metrics.domain`` can build one;
* FID end to end: gankit (``extract`` + ``fid``) next to torchmetrics'
  ``FrechetInceptionDistance(feature=<the same FIDInceptionV3>)`` fed the same tensors in the
  same batches, with both values and their relative difference. torchmetrics hands a custom
  feature module the images unchanged (its uint8 / ``normalize`` conversion is only for its
  built-in network), so both see identical pixels and the same resize (the extractor's own
  bilinear 299x299); only the FID arithmetic differs (torchmetrics: float64 sums and
  eigenvalues of S1 S2; gankit: ``np.cov`` and ``scipy.linalg.sqrtm``);
* FID, KID (100 subsets of min(n, 1000)) and precision/recall (k=3) on the n x 2048
  features alone.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/metrics_speed.py [--n 10000] [--device auto] [--batch 100] [--quick]
    .venv/bin/python benchmarks/metrics_speed.py --features-only --n 10000   # the metrics alone, 10k x 2048

torchmetrics is optional: ``pip install -e ".[bench]"``. Timings on a shared CPU are noisy;
the table is for orders of magnitude, never a timed assertion.
"""
from __future__ import annotations

import argparse
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit.api import pick_device
from gankit.errors import GankitError
from gankit.metrics import fid, kid, precision_recall
from gankit.metrics.extractor import FeatureExtractor
from gankit.metrics.inception import FIDInceptionV3, find_inception_weights, load_inception

QUICK_N = 200


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10000, help="real images, and as many fake ones (default 10000)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--batch", type=int, default=100, help="extraction batch size (default 100)")
    parser.add_argument("--quick", action="store_true", help=f"n={QUICK_N}: checks that everything runs")
    parser.add_argument("--root", default=None, help="where mnist.npz lives (default: $GANKIT_DATA)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--features-only", action="store_true",
                        help="skip extraction: time FID/KID/PR on n synthetic 2048-d features per side "
                             "(the metric arithmetic at 10k without hours of InceptionV3 on a CPU)")
    return parser.parse_args()


def make_images(n: int, root: str | None) -> tuple[Tensor, Tensor, str]:
    """(real, fake, description): n MNIST test digits (random images without the file) and a noisy copy."""
    from gankit.data import load_dataset
    try:
        real = load_dataset("mnist", split="test", root=root, limit=n).x[:n].float()  # (n, 1, 28, 28) in [-1, 1]
        source = f"MNIST test ({root or '$GANKIT_DATA'})"
    except GankitError as e:
        print(f"note: MNIST not loaded ({e}); using random images")
        real = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
        source = "random"
    if real.shape[0] < n:
        raise SystemExit(f"--n {n} but only {real.shape[0]} {source} images")
    noise = torch.randn(real.shape, generator=torch.Generator().manual_seed(1))
    fake = (real + 0.3 * noise).clamp(-1, 1)
    return real, fake, f"{source}, fake = real + N(0, 0.3^2) clamped"


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[Any, float]:
    """fn() and its wall time in seconds (CUDA synchronised)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, time.perf_counter() - start


def calibrate_batchnorm(net: nn.Module, images: Tensor) -> None:
    """Batch-norm running statistics from one batch of ``images``, so that a randomly initialised
    network gives O(1) features (with the default statistics they shrink to about 1e-8 by pool3)."""
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
        bn.training = True  # set directly: FIDInceptionV3.train() always stays in eval mode
    net(images)
    for bn in norms:
        bn.training = False


def build_inception(device: torch.device, calibration: Tensor) -> tuple[FIDInceptionV3, str]:
    """The official weights when present locally (never downloads), else random ones with calibrated batch norm."""
    if find_inception_weights() is not None:
        net = load_inception(device=device, download=False)
        return net, f"file sha256 {net.weights_sha256[:12]}"
    print("note: no FID InceptionV3 weights file found; timing a randomly initialised network with batch-norm "
          "statistics from 8 of the images (speed does not depend on the weights; the values are not real FIDs)")
    torch.manual_seed(0)
    net = FIDInceptionV3().to(device)
    calibrate_batchnorm(net, calibration.to(device))
    return net, "random init"


def build_domain(device: torch.device) -> tuple[FeatureExtractor | None, str]:
    """A domain evaluator for 1x28x28 images with 10 classes, when gankit.metrics.domain can build one."""
    try:
        import gankit.metrics.domain as domain
    except ImportError as e:
        return None, f"gankit.metrics.domain not importable ({e})"
    guesses = {"data": "mnist", "channels": 1, "in_channels": 1, "image_size": 28, "size": 28, "resolution": 28,
               "num_classes": 10}
    for name, cls in vars(domain).items():
        if not (isinstance(cls, type) and issubclass(cls, FeatureExtractor) and cls is not FeatureExtractor):
            continue
        kwargs = {}
        for param in inspect.signature(cls).parameters.values():
            if param.name in guesses:
                kwargs[param.name] = guesses[param.name]
            elif param.default is inspect.Parameter.empty and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                break
        else:
            try:
                return cls(**kwargs).to(device).eval(), f"{name}({', '.join(f'{k}={v}' for k, v in kwargs.items())}), random init"
            except Exception as e:  # noqa: BLE001 - an unknown constructor; skip the row with the reason
                return None, f"{name}(**{kwargs}) failed: {type(e).__name__}: {e}"
    return None, "no FeatureExtractor subclass in gankit.metrics.domain buildable from (data, channels, image_size, num_classes)"


class FeaturesOnly(nn.Module):
    """torchmetrics' custom-feature contract: images -> (N, num_features); the extractor's own preprocessing."""

    def __init__(self, extractor: FeatureExtractor) -> None:
        super().__init__()
        self.extractor = extractor
        self.num_features = extractor.feature_dim  # torchmetrics reads this instead of running a dummy image

    def forward(self, images: Tensor) -> Tensor:
        return self.extractor(images)[0]


def torchmetrics_fid(extractor: FeatureExtractor, real: Tensor, fake: Tensor, batch: int,
                     device: torch.device) -> tuple[float, float, float] | None:
    """(FID, total seconds, compute() seconds) of torchmetrics on the same images, or None without torchmetrics."""
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance
    except ImportError:
        print('note: torchmetrics is not installed; install it with `pip install -e ".[bench]"` to compare')
        return None
    metric = FrechetInceptionDistance(feature=FeaturesOnly(extractor), normalize=False).to(device)

    def run() -> tuple[float, float]:
        with torch.no_grad():
            for images, is_real in ((real, True), (fake, False)):
                for i in range(0, len(images), batch):
                    metric.update(images[i:i + batch].to(device), real=is_real)
        value, seconds = timed(metric.compute, device)
        return float(value), seconds

    (value, compute_s), total_s = timed(run, device)
    return value, total_s, compute_s


def row(cells: list[str], widths: list[int]) -> str:
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(row(header, widths))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(row(r, widths))


def synthetic_features(n: int, dim: int = 2048, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Real and fake features (n, dim): correlated Gaussians (a random mixing matrix, ReLU like pool3), the
    fake ones mixed a little differently and shifted, so FID, KID and PR are all far from their extremes."""
    gen = torch.Generator().manual_seed(seed)
    mix = torch.randn(dim, dim, generator=gen) / dim**0.5
    real = torch.relu(torch.randn(n, dim, generator=gen) @ mix)
    fake = torch.relu(torch.randn(n, dim, generator=gen) @ (mix + 0.1 * torch.randn(dim, dim, generator=gen) / dim**0.5) + 0.05)
    return real, fake


def features_only(n: int, device: torch.device) -> None:
    """Time gankit's FID, KID and PR on n x 2048 features per side; torchmetrics' FID arithmetic beside FID."""
    real_f, fake_f = synthetic_features(n)
    gankit_fid, fid_s = timed(lambda: fid(real_f, fake_f), device)
    (kid_mean, kid_std), kid_s = timed(lambda: kid(real_f, fake_f), device)
    pr, pr_s = timed(lambda: precision_recall(real_f, fake_f), device)
    rows = [["FID", f"{fid_s:.3f}", "-", f"{gankit_fid:.6g}", "-"]]
    try:
        from torchmetrics.image.fid import _compute_fid  # the arithmetic of FrechetInceptionDistance.compute()

        def tm() -> float:
            r, f = real_f.double(), fake_f.double()
            return float(_compute_fid(r.mean(0), torch.cov(r.T), f.mean(0), torch.cov(f.T)))

        tm_fid, tm_s = timed(tm, device)
        rows[0][2], rows[0][4] = f"{tm_s:.3f}", f"{tm_fid:.6g} (rel. diff {abs(gankit_fid - tm_fid) / abs(tm_fid):.1e})"
    except ImportError:
        print('note: torchmetrics is not installed; install it with `pip install -e ".[bench]"` to compare')
    rows.append(["KID (100 subsets)", f"{kid_s:.3f}", "-", f"{kid_mean:.4g} +- {kid_std:.2g}", "-"])
    rows.append(["precision/recall k=3", f"{pr_s:.3f}", "-", f"P {pr['precision']:.3f} R {pr['recall']:.3f}", "-"])
    print(f"\nmetrics on {n} x 2048 synthetic features per side, torch threads {torch.get_num_threads()}")
    table(["metric", "gankit (s)", "torchmetrics (s)", "gankit value", "torchmetrics value"], rows)


def main() -> None:
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    n = QUICK_N if args.quick else args.n
    device = pick_device(args.device)
    if args.features_only:
        features_only(n, device)
        return
    real, fake, source = make_images(n, args.root)
    print(f"images: {n} real + {n} fake, {tuple(real.shape[1:])}, {source}; device {device}, "
          f"batch {args.batch}, torch threads {torch.get_num_threads()}")

    inception, weights = build_inception(device, torch.cat([real[:4], fake[:4]]))
    domain, domain_note = build_domain(device)
    extraction = []
    features: dict[str, tuple[Tensor, Tensor]] = {}
    for label, net, note in (("FID InceptionV3", inception, weights), ("domain evaluator", domain, domain_note)):
        if net is None:
            extraction.append([label, note, "-", "-", "skipped"])
            continue
        net.extract(real[:args.batch], batch_size=args.batch)  # warm-up: allocator, cuDNN autotuning, lazy init
        (feats, seconds) = timed(lambda net=net: (net.extract(real, args.batch)[0], net.extract(fake, args.batch)[0]), device)
        features[label] = feats
        extraction.append([label, note, str(2 * n), f"{seconds:.2f}", f"{2 * n / seconds:.1f}"])
    print("\nfeature extraction")
    table(["extractor", "weights", "images", "time (s)", "images/s"], extraction)

    real_f, fake_f = features["FID InceptionV3"]
    extract_s = float(extraction[0][3])
    gankit_fid, fid_s = timed(lambda: fid(real_f, fake_f), device)
    (kid_mean, kid_std), kid_s = timed(lambda: kid(real_f, fake_f), device)
    pr, pr_s = timed(lambda: precision_recall(real_f, fake_f), device)
    tm = torchmetrics_fid(inception, real, fake, args.batch, device)

    rows = []
    if tm is None:
        rows.append(["FID, extraction + FID", f"{extract_s + fid_s:.2f}", "not installed", "-", f"{gankit_fid:.6g}", "-", "-"])
        rows.append(["FID from features", f"{fid_s:.3f}", "not installed", "-", f"{gankit_fid:.6g}", "-", "-"])
    else:
        tm_fid, tm_total, tm_compute = tm
        rel = abs(gankit_fid - tm_fid) / max(abs(tm_fid), 1e-30)
        rows.append(["FID, extraction + FID", f"{extract_s + fid_s:.2f}", f"{tm_total:.2f}",
                     f"{(extract_s + fid_s) / tm_total:.2f}", f"{gankit_fid:.6g}", f"{tm_fid:.6g}", f"{rel:.2e}"])
        rows.append(["FID from features", f"{fid_s:.3f}", f"{tm_compute:.3f}", f"{fid_s / tm_compute:.2f}",
                     f"{gankit_fid:.6g}", f"{tm_fid:.6g}", f"{rel:.2e}"])
    rows.append(["KID (100 subsets)", f"{kid_s:.3f}", "-", "-", f"{kid_mean:.4g} +- {kid_std:.2g}", "-", "-"])
    rows.append(["precision/recall k=3", f"{pr_s:.3f}", "-", "-",
                 f"P {pr['precision']:.3f} R {pr['recall']:.3f}", "-", "-"])
    print(f"\nmetrics on {n} x {real_f.shape[1]} features per side (gankit extraction time included only in the first row)")
    table(["metric", "gankit (s)", "torchmetrics (s)", "gankit / torchmetrics", "gankit value", "torchmetrics value",
           "rel. diff"], rows)


if __name__ == "__main__":
    main()
