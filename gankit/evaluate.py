"""Evaluate a generator against real data: FID, KID, IS, precision/recall, density/coverage,
class and code accuracy, mode counts; every score with the protocol it was computed under.

``Evaluation`` is built once (it loads the reference data and the feature network and
computes the real features) and then scores a recipe's generator as often as asked: by
``gankit eval RUN`` after training, or every ``eval.every`` steps during training.

Generated samples are drawn with a fixed seed, generated and pushed through the feature
network in chunks: FID keeps only running float64 moments, so its memory does not grow
with n; KID and precision/recall/density/coverage need the features themselves
(n x D float32 on the CPU).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.config import DataConfig, EvalConfig
from gankit.errors import ConfigError, unknown
from gankit.metrics import RunningStats, density_coverage, fid_from_stats, inception_score, kid, modes_2d, precision_recall
from gankit.metrics.extractor import FeatureExtractor
from gankit.recipes.base import Latent, Recipe
from gankit.types import DataInfo


@dataclass(frozen=True)
class MetricSpec:
    keys: tuple[str, ...]  # the scores it writes (as eval/<key>)
    higher_is_better: tuple[bool, ...]
    doc: str


METRICS: dict[str, MetricSpec] = {
    "fid": MetricSpec(("fid",), (False,), "Frechet distance of feature Gaussians (Heusel et al. 2017)"),
    "kid": MetricSpec(("kid", "kid_std"), (False, False), "unbiased kernel inception distance (Binkowski et al. 2018)"),
    "is": MetricSpec(("is", "is_std"), (True, False), "Inception Score of the class probabilities (Salimans et al. 2016)"),
    "pr": MetricSpec(("precision", "recall"), (True, True), "improved precision/recall, k=3 (Kynkaanniemi et al. 2019)"),
    "dc": MetricSpec(("density", "coverage"), (True, True), "density/coverage, k=5 (Naeem et al. 2020)"),
    "class_acc": MetricSpec(("class_acc",), (True,), "conditional samples classified as the class asked for"),
    "code_acc": MetricSpec(("code_acc",), (True,), "InfoGAN cat0 vs classes, best one-to-one matching"),
    "classes": MetricSpec(("class_entropy", "class_min_share"), (True, True),
                          "spread of the domain evaluator's predicted classes: normalised entropy, rarest share"),
    "modes": MetricSpec(("modes", "high_quality", "reverse_kl"), (True, True, False),
                        "modes covered: 2D mixtures (PacGAN protocol) or stacked-mnist (1000 modes)"),
    "psnr": MetricSpec(("psnr",), (True,), "peak signal-to-noise ratio (dB) of outputs vs paired targets (pix2pix, srgan)"),
    "ssim": MetricSpec(("ssim",), (True,), "structural similarity of outputs vs paired targets (Wang et al. 2004)"),
    "cycle": MetricSpec(("cycle_l1",), (False,), "mean |F(G(a)) - a| in [-1, 1] units: CycleGAN's cycle reconstruction error"),
}
IMAGE_PAIR_METRICS = {"psnr", "ssim", "cycle"}
FEATURE_METRICS = {"fid", "kid", "pr", "dc"}
FEATURES = ("auto", "inception", "domain")
KID_SUBSETS, PR_K, DC_K = 100, 3, 5


def higher_is_better(key: str) -> bool:
    """Direction of a score key such as 'fid' or 'eval/precision'."""
    key = key.removeprefix("eval/")
    for spec in METRICS.values():
        if key in spec.keys:
            return spec.higher_is_better[spec.keys.index(key)]
    raise ConfigError(unknown("score", key, [k for s in METRICS.values() for k in s.keys]))


def check_metrics(metrics: list[str]) -> list[str]:
    if not metrics:
        raise ConfigError("no metrics asked for; choose from " + ", ".join(METRICS))
    for m in metrics:
        if m not in METRICS:
            raise ConfigError(unknown("metric", m, list(METRICS)))
    return list(dict.fromkeys(metrics))


class PointsExtractor(FeatureExtractor):
    """2D points are their own features (FID/KID/PR of the coordinates)."""

    name, resize = "points", "none"

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.feature_dim = dim
        self.register_buffer("_device_anchor", torch.zeros(1))

    def forward(self, images: Tensor) -> tuple[Tensor, None]:
        return images.float().reshape(len(images), -1), None

    def parameters(self, recurse: bool = True) -> Iterator[torch.nn.Parameter]:  # extract() reads the device here
        yield torch.nn.Parameter(self._device_anchor, requires_grad=False)


def load_extractor(features: str, data: DataInfo, data_cfg: DataConfig, device: torch.device,
                   train_missing: bool = False) -> FeatureExtractor:
    """The feature network for ``features`` on this data: inception, domain (this data set's evaluator),
    domain:NAME (another labelled data set's evaluator, e.g. domain:cifar10 for unlabelled photos), or auto."""
    other = features.removeprefix("domain:") if features.startswith("domain:") else None
    if features not in FEATURES and not other:
        raise ConfigError(unknown("features", features, [*FEATURES, "domain:NAME"]))
    if data.kind == "points":
        return PointsExtractor(data.sample_shape[-1]).to(device)
    if other:
        return domain_evaluator(other, data_cfg, device, train_missing)
    from gankit.metrics.inception import inception_available, load_inception

    if features == "inception" or (features == "auto" and inception_available()):
        return load_inception(device=device)
    return domain_evaluator(data.name, data_cfg, device, train_missing)


def domain_evaluator(name: str, data_cfg: DataConfig, device: torch.device, train_missing: bool = False) -> FeatureExtractor:
    """The cached domain evaluator of a data set; with ``train_missing`` it is trained (once) when absent."""
    from gankit.metrics.domain import load_evaluator

    return load_evaluator(name, root=data_cfg.root, device=device, train_if_missing=train_missing)


class Evaluation:
    """Scores generators against one fixed reference set with fixed generated-sample seeds."""

    def __init__(self, cfg: EvalConfig, data_cfg: DataConfig, data: DataInfo, recipe: Recipe, device: torch.device,
                 *, batch_size: int = 250, train_missing: bool = False) -> None:
        from gankit.data import load_dataset
        from gankit.data.dataset import subset

        self.cfg, self.data, self.device, self.batch_size = cfg, data, device, batch_size
        self.metrics = check_metrics(cfg.metrics)
        if cfg.n < 2:
            raise ConfigError(f"eval.n={cfg.n}: at least 2 samples are needed")
        self._check_applicable(recipe)
        real = load_dataset(data_cfg.name, split=cfg.split, image_size=data_cfg.image_size, channels=data_cfg.channels,
                            root=data_cfg.root, pairing=data_cfg.pairing, domains=data_cfg.domains)
        real = subset(real, cfg.n, cfg.seed)  # as many real samples as generated ones, when the split has them
        self.n_real = len(real)
        self.real_data = real.to(device) if recipe.needs_data_to_sample else None  # translation recipes' inputs
        needs_features = bool(FEATURE_METRICS & set(self.metrics)) or "is" in self.metrics
        self.extractor = load_extractor(cfg.features, data, data_cfg, device, train_missing) if needs_features else None
        if "is" in self.metrics and not (self.extractor and self.extractor.num_classes):
            raise ConfigError(f"metric 'is' needs class probabilities; the {self.extractor.name} features have none "
                              "(use features=inception or features=domain)")
        self.labeller = None  # the domain classifier for class/code accuracy and stacked-mnist modes
        if {"class_acc", "code_acc", "classes"} & set(self.metrics):
            self.labeller = domain_evaluator(data.name, data_cfg, device, train_missing)
        if "modes" in self.metrics and data.name == "stacked-mnist":
            self.labeller = domain_evaluator("mnist", data_cfg, device, train_missing)
        self.real = self._features(_chunks(real.x, batch_size)) if self.extractor else None

    def _check_applicable(self, recipe: Recipe) -> None:
        m = set(self.metrics)
        if "class_acc" in m and not (recipe.label_classes() and not recipe.code_names()):
            raise ConfigError("class_acc needs a conditional generator (cgan, acgan); this one takes no class labels")
        if "code_acc" in m and not (recipe.label_classes() and recipe.code_names()):
            raise ConfigError("code_acc needs an InfoGAN generator with a categorical code")
        if {"psnr", "ssim"} & m and not recipe.has_targets:
            raise ConfigError("psnr and ssim compare outputs with paired targets: they are for pix2pix and srgan runs")
        if "cycle" in m and type(recipe).reconstruct is Recipe.reconstruct:
            raise ConfigError("cycle needs a recipe that maps its outputs back to its inputs (cyclegan)")
        if "classes" in m and self.data.kind != "image":
            raise ConfigError(f"classes counts the classes a classifier sees in generated images; {self.data.name!r} "
                              "holds points (use modes)")
        if "modes" in m and self.data.kind != "points" and self.data.name != "stacked-mnist":
            raise ConfigError(f"modes is defined for 2D mixtures (ring8, grid25) and stacked-mnist, not {self.data.name!r}")

    # --- features -----------------------------------------------------------------------
    def _features(self, chunks: Iterator[Tensor]) -> dict[str, Any]:
        """Streamed features: running moments always, the rows only when a metric needs them."""
        assert self.extractor is not None
        stats = RunningStats(self.extractor.feature_dim)
        keep = bool({"kid", "pr", "dc"} & set(self.metrics))
        rows, probs = [], []
        for x in chunks:
            f, logits = self.extractor.extract(x, self.batch_size)
            stats.update(f)
            if keep:
                rows.append(f)
            if logits is not None and "is" in self.metrics:
                probs.append(F.softmax(logits.double(), dim=1))
        return {"stats": stats, "rows": torch.cat(rows) if rows else None, "probs": torch.cat(probs) if probs else None}

    def latent(self, recipe: Recipe, labels: Tensor | None) -> Latent:
        """G's inputs from a fixed seed: noise, or for translation recipes up to n images of the reference split."""
        gen = torch.Generator(device=self.device).manual_seed(self.cfg.seed)
        return recipe.fixed_latent(self.cfg.n, labels=labels, data=self.real_data, generator=gen)

    def _fake_chunks(self, recipe: Recipe, latent: Latent, sink: list[Tensor]) -> Iterator[Tensor]:
        """Generated samples in chunks; each chunk is also appended to ``sink`` when asked."""
        for start in range(0, len(latent), self.batch_size):
            x = recipe.generate(latent[start:start + self.batch_size], self.batch_size).float()
            if self.data.kind == "image":  # pixels live in [-1, 1]; points (grid25 spans -4..4) are kept as they are
                x = x.clamp(-1, 1)
            if sink is not None:
                sink.append(x.cpu())
            yield x

    # --- scoring --------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, recipe: Recipe, step: int) -> dict[str, Any]:
        """One evaluation row: {'step', 'eval/<score>': value, ..., 'protocol': {...}}."""
        k = recipe.label_classes()
        labels = (torch.arange(self.cfg.n, device=self.device) % k) if k else None  # balanced classes / codes
        latent = self.latent(recipe, labels)
        labels = labels[:len(latent)] if labels is not None else None  # translation recipes may have fewer inputs
        keep_images = self.labeller is not None or self.data.kind == "points" or bool(IMAGE_PAIR_METRICS & set(self.metrics))
        images: list[Tensor] = []
        chunks = self._fake_chunks(recipe, latent, images if keep_images else None)
        fake = self._features(chunks) if self.extractor else None
        if fake is None:
            for _ in chunks:  # generate anyway: the labeller scores the kept samples
                pass
        images_all = torch.cat(images) if images else None
        scores = self._scores(fake, images_all, labels)
        scores.update(self._pair_scores(recipe, latent, images_all))
        row: dict[str, Any] = {"step": step, "kind": "eval"}
        row.update({f"eval/{key}": value for key, value in scores.items()})
        row["protocol"] = self.protocol(recipe, n_fake=len(latent))
        return row

    def _pair_scores(self, recipe: Recipe, latent: Latent, outputs: Tensor | None) -> dict[str, float]:
        """PSNR/SSIM against paired targets and the cycle reconstruction error of translation recipes."""
        from gankit.metrics.image import psnr, ssim

        m, out = set(self.metrics), {}
        if {"psnr", "ssim"} & m:
            target = latent.target.float().cpu()
            baseline = self._baseline(recipe, latent)
            for key, score in (("psnr", psnr), ("ssim", ssim)):
                if key in m:
                    out[key] = score(outputs, target)
                    if baseline is not None:  # beside G's: the same inputs without learning, e.g. psnr_bicubic (srgan)
                        out[f"{key}_{recipe.baseline_name}"] = score(baseline, target)
        if "cycle" in m:
            rebuilt = [recipe.reconstruct(latent[i:i + self.batch_size], outputs[i:i + self.batch_size].to(self.device))
                       for i in range(0, len(outputs), self.batch_size)]
            out["cycle_l1"] = float((torch.cat(rebuilt).float().cpu() - latent.z.float().cpu()).abs().mean())
        return out

    def _baseline(self, recipe: Recipe, latent: Latent) -> Tensor | None:
        """The translation recipe's output without learning for ``latent`` (on the CPU, in [-1, 1]), or None."""
        from gankit.recipes.translation import Translation

        if not isinstance(recipe, Translation) or recipe.baseline_name is None:
            return None
        parts = [recipe.baseline(latent[i:i + self.batch_size]) for i in range(0, len(latent), self.batch_size)]
        return torch.cat(parts).float().clamp(-1, 1).cpu()

    def _scores(self, fake: dict | None, images: Tensor | None, labels: Tensor | None) -> dict[str, float]:
        out: dict[str, float] = {}
        real = self.real
        m = set(self.metrics)
        if "fid" in m:
            out["fid"] = fid_from_stats(real["stats"].mean(), real["stats"].cov(), fake["stats"].mean(), fake["stats"].cov())
        if "kid" in m:
            out["kid"], out["kid_std"] = kid(real["rows"], fake["rows"], subsets=KID_SUBSETS,
                                             subset_size=self._kid_subset_size(), seed=self.cfg.seed)
        if "is" in m:
            out["is"], out["is_std"] = inception_score(fake["probs"], splits=min(10, len(fake["probs"])))
        if "pr" in m:
            out.update(precision_recall(real["rows"], fake["rows"], k=PR_K))
        if "dc" in m:
            out.update(density_coverage(real["rows"], fake["rows"], k=DC_K))
        if {"class_acc", "code_acc"} & m:
            from gankit.metrics.conditional import class_accuracy, code_accuracy

            predicted = self._classify(images)
            if "class_acc" in m:
                out["class_acc"] = class_accuracy(predicted, labels.cpu())
            else:
                out["code_acc"] = code_accuracy(labels.cpu(), predicted)[0]
        if "classes" in m:
            from gankit.metrics.class_balance import class_balance

            out.update(class_balance(self._classify(images), self.labeller.num_classes))
        if "modes" in m:
            out.update(self._modes(images))
        return out

    def _kid_subset_size(self) -> int:
        return min(1000, self.n_real, self.cfg.n)

    def _classify(self, images: Tensor) -> Tensor:
        _, logits = self.labeller.extract(images, self.batch_size)
        return logits.argmax(dim=1)

    def _modes(self, images: Tensor) -> dict[str, float]:
        if self.data.kind == "points":
            return modes_2d(images, self.data.name)
        from gankit.metrics.stacked import stacked_mnist_modes

        result = stacked_mnist_modes(images, self.labeller)
        return {"modes": result["modes"], "reverse_kl": result["kl"]}

    def protocol(self, recipe: Recipe, n_fake: int) -> dict[str, Any]:
        """Everything the scores depend on besides the generator's weights."""
        import gankit

        p: dict[str, Any] = {"metrics": self.metrics, "n_real": self.n_real, "n_fake": n_fake,
                             "reference": f"{self.data.name}:{self.cfg.split}", "seed": self.cfg.seed,
                             "sampler": "ema" if recipe.ema is not None else "G", "gankit": gankit.__version__}
        if recipe.needs_data_to_sample:
            p["inputs"] = f"{self.data.name}:{self.cfg.split} (translated)"
            if getattr(recipe, "baseline_name", None) and {"psnr", "ssim"} & set(self.metrics):
                p["baseline"] = recipe.baseline_name  # psnr_<baseline>, ssim_<baseline>: scores of no learning
        if self.extractor is not None:
            p.update(self.extractor.protocol())
        if "kid" in self.metrics:
            p.update(kid_subsets=KID_SUBSETS, kid_subset_size=self._kid_subset_size())
        if "pr" in self.metrics:
            p["pr_k"] = PR_K
        if "dc" in self.metrics:
            p["dc_k"] = DC_K
        if self.labeller is not None:
            p["labeller"] = self.labeller.protocol()
        if "classes" in self.metrics:
            p["classes"] = self.labeller.num_classes  # K: a balanced G gives every class the share 1/K
        return p


def _chunks(x: Tensor, size: int) -> Iterator[Tensor]:
    for start in range(0, len(x), size):
        yield x[start:start + size]


def best_key(cfg: EvalConfig) -> str:
    """The score that picks checkpoints/best.pt: eval.best, else the first metric's first score."""
    key = cfg.best or METRICS[check_metrics(cfg.metrics)[0]].keys[0]
    higher_is_better(key)  # validates the name
    return "eval/" + key.removeprefix("eval/")


def is_better(value: float, best: float | None, key: str) -> bool:
    if best is None or math.isnan(best):
        return not math.isnan(value)
    return value > best if higher_is_better(key) else value < best
