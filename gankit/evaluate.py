"""Evaluate a generator against real data with the metrics of the ``METRICS`` registry (FID, KID, IS,
precision/recall, density/coverage, class and code accuracy, modes, ...); every score with the protocol
it was computed under.

``Evaluation`` is built once (it checks that each metric applies, loads the reference data and the
feature network and computes the real features) and then scores a recipe's generator as often as
asked: by ``gankit eval RUN`` after training, or every ``eval.every`` steps during training. It never
names a metric: each metric declares what it needs (``gankit.metrics.base.Need``), the evaluation
computes each need once for all of them and hands the lot to every metric.

Generated samples are drawn with a fixed seed, generated and pushed through the feature network in
chunks: the moments (FID) are running float64 sums, so their memory does not grow with n; the rows
(KID, precision/recall, density/coverage, memorisation) are n x D float32 on the CPU.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit import distributed
from gankit.config import DataConfig, EvalConfig
from gankit.errors import ConfigError, unknown
from gankit.metrics import METRICS, RunningStats
from gankit.metrics.base import FEATURE_NEEDS, TRAIN_IMAGES, Features, Inputs, Metric, Need, Setting
from gankit.metrics.extractor import FeatureExtractor
from gankit.recipes.base import Latent, Recipe
from gankit.recipes.translation import Translation
from gankit.types import DataInfo

FEATURES = ("auto", "inception", "domain")


def higher_is_better(key: str) -> bool:
    """Direction of a score key such as 'fid' or 'eval/precision'."""
    key = key.removeprefix("eval/")
    for name in METRICS:
        scores = METRICS.get(name).scores
        if key in scores:
            return scores[key]
    raise ConfigError(unknown("score", key, [k for name in METRICS for k in METRICS.get(name).scores]))


def check_metrics(metrics: list[str]) -> list[str]:
    """The metric names asked for, each known, without repeats."""
    if not metrics:
        raise ConfigError("no metrics asked for; choose from " + ", ".join(METRICS))
    for name in metrics:
        METRICS.get(name)  # an unknown name raises with the nearest ones
    return list(dict.fromkeys(metrics))


def metrics_help() -> str:
    """One line per registered metric: its name, its scores and its doc (the CLI's help)."""
    return "\n".join(f"  {name}: {', '.join(METRICS.get(name).keys)} - {METRICS.doc(name)}" for name in METRICS)


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


# data kinds whose feature network is always their own data set's domain evaluator (gankit/metrics/domain.py)
NOT_IMAGES = {"sequence": "continuous sequences (a 1D CNN reads them)", "voxel": "voxel shapes (a 3D CNN reads them)"}


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
    if data.kind in NOT_IMAGES:  # Inception reads images: sequences and voxels have their data set's evaluator
        if features == "inception":
            raise ConfigError(f"features=inception reads images, but {data.name!r} holds {NOT_IMAGES[data.kind]}; use "
                              "features=domain (or auto): a classifier trained on the data set's labels")
        return domain_evaluator(data.name, data_cfg, device, train_missing)
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
        from gankit.data.datasets import load_configured
        from gankit.data.dataset import subset

        self.cfg, self.data_cfg, self.data, self.device, self.batch_size = cfg, data_cfg, data, device, batch_size
        self.names = check_metrics(cfg.metrics)
        self.metrics: list[Metric] = [METRICS.get(name)() for name in self.names]
        if cfg.n < 2:
            raise ConfigError(f"eval.n={cfg.n}: at least 2 samples are needed")
        self.setting = Setting(cfg, data_cfg, data, recipe)
        for metric in self.metrics:  # before any loading: a metric that does not apply fails at once
            metric.check(self.setting)
        self.needs: set[Need] = {need for metric in self.metrics for need in metric.needs}
        real = load_configured(data_cfg, split=cfg.split)
        if data.tokens is not None and real.tokens != data.tokens:
            raise ConfigError(f"the vocabulary of {data_cfg.name!r} built now differs from the one this run was trained "
                              "with (the text files or data.vocab_size/min_count changed); evaluate on the same data")
        self.real_samples = real.x.cpu() if Need.REAL_SAMPLES in self.needs else None  # the whole split
        real = subset(real, cfg.n, cfg.seed)  # as many real samples as generated ones, when the split has them
        self.n_real = len(real)
        self.real_data = real.to(device) if isinstance(recipe, Translation) else None  # translation recipes' inputs
        self.extractor = (load_extractor(cfg.features, data, data_cfg, device, train_missing)
                          if self.needs & FEATURE_NEEDS else None)
        self._check_class_probs()
        self.labellers = {name: domain_evaluator(name, data_cfg, device, train_missing)
                          for name in self._labeller_names()}
        self.real = self._features(_chunks(real.x, batch_size)) if self.extractor else None
        self.train = self._train_rows() if Need.TRAIN_ROWS in self.needs else None

    def _check_class_probs(self) -> None:
        """Class probabilities come from the feature network's class head: say which metrics need one."""
        if Need.CLASS_PROBS in self.needs and not self.extractor.num_classes:
            asking = ", ".join(repr(m.name) for m in self.metrics if Need.CLASS_PROBS in m.needs)
            raise ConfigError(f"metric {asking} needs class probabilities; the {self.extractor.name} features have "
                              "none (use features=inception or features=domain)")

    def _labeller_names(self) -> list[str]:
        """The data sets whose domain classifiers label the samples, in the order the metrics ask."""
        names = [m.labeller(self.setting) for m in self.metrics if Need.LABELLER in m.needs]
        return list(dict.fromkeys(name for name in names if name is not None))

    # --- features -----------------------------------------------------------------------
    def _features(self, chunks: Iterator[Tensor], *, shared: bool = False) -> Features:
        """Streamed features: running moments, rows and class probabilities, each only when a metric needs it.

        ``shared``: under torchrun each rank holds its share of the images (the generated samples); the rows are
        gathered in rank order and then folded in as one process folds in its chunks."""
        assert self.extractor is not None
        stats = RunningStats(self.extractor.feature_dim) if Need.MOMENTS in self.needs else None
        rows, probs = [], []
        extract = self.extractor.extract
        for f, logits in self._gathered(chunks) if shared else (extract(x, self.batch_size) for x in chunks):
            if stats is not None:
                stats.update(f)
            if Need.FEATURE_ROWS in self.needs:
                rows.append(f)
            if logits is not None and Need.CLASS_PROBS in self.needs:
                probs.append(F.softmax(logits.double(), dim=1))
        return Features(stats, torch.cat(rows) if rows else None, torch.cat(probs) if probs else None)

    def _gathered(self, chunks: Iterator[Tensor]) -> Iterator[tuple[Tensor, Tensor | None]]:
        """(features, logits) per chunk of every rank's share, gathered and re-chunked in rank order."""
        assert self.extractor is not None
        if distributed.world_size() == 1:
            for x in chunks:
                yield self.extractor.extract(x, self.batch_size)
            return
        parts = [self.extractor.extract(x, self.batch_size) for x in chunks]
        dim = self.extractor.feature_dim
        features = distributed.all_gather_rows(torch.cat([f for f, _ in parts]) if parts else torch.zeros(0, dim))
        has_logits = bool(parts) and parts[0][1] is not None
        logits = distributed.all_gather_rows(torch.cat([lg for _, lg in parts])) if has_logits else None
        for start in range(0, len(features), self.batch_size):
            part = slice(start, start + self.batch_size)
            yield features[part], None if logits is None else logits[part]

    def _train_rows(self) -> Tensor:
        """Feature rows of up to TRAIN_IMAGES images of the training split (a fixed random subset)."""
        from gankit.data.datasets import load_configured
        from gankit.data.dataset import subset

        d = self.data_cfg
        train = load_configured(d, split=d.split)
        train = subset(train, TRAIN_IMAGES, self.cfg.seed)
        return torch.cat([self.extractor.extract(x, self.batch_size)[0] for x in _chunks(train.x, self.batch_size)])

    def latent(self, recipe: Recipe, labels: Tensor | None) -> Latent:
        """G's inputs from a fixed seed: noise, or for translation recipes up to n images of the reference split."""
        gen = torch.Generator(device=self.device).manual_seed(self.cfg.seed)
        latent = recipe.fixed_latent(self.cfg.n, labels=labels, data=self.real_data, generator=gen)
        return latent if self.cfg.truncation is None else recipe.truncate(latent, self.cfg.truncation)

    def _fake_chunks(self, recipe: Recipe, latent: Latent, sink: list[Tensor] | None) -> Iterator[Tensor]:
        """Generated samples in chunks; each chunk is also appended to ``sink`` when asked."""
        for start in range(0, len(latent), self.batch_size):
            x = recipe.generate(latent[start:start + self.batch_size], self.batch_size)
            x = x.float() if x.is_floating_point() else x  # token ids stay integers
            if self.data.kind == "image":  # pixels live in [-1, 1]; points (grid25 spans -4..4) are kept as they are
                x = x.clamp(-1, 1)
            if sink is not None:
                sink.append(x.cpu())
            yield x

    # --- scoring --------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, recipe: Recipe, step: int) -> dict[str, Any]:
        """One evaluation row: {'step', 'eval/<score>': value, ..., 'protocol': {...}}."""
        inputs = self.inputs(recipe)
        scores: dict[str, float] = {}
        for metric in self.metrics:
            scores.update(metric.score(inputs))
        row: dict[str, Any] = {"step": step, "kind": "eval"}
        row.update({f"eval/{key}": value for key, value in scores.items()})
        row["protocol"] = self.protocol(inputs)
        return row

    def inputs(self, recipe: Recipe) -> Inputs:
        """Generate the samples of ``recipe`` and compute what the metrics need of them, each thing once."""
        k = recipe.label_classes()
        labels = (torch.arange(self.cfg.n, device=self.device) % k) if k else None  # balanced classes / codes
        latent = self.latent(recipe, labels)
        labels = labels[:len(latent)] if labels is not None else None  # translation recipes may have fewer inputs
        mine = latent[distributed.shard(len(latent))]  # under torchrun each rank generates its share (all: one process)
        samples: list[Tensor] = []
        chunks = self._fake_chunks(recipe, mine, samples if Need.SAMPLES in self.needs else None)
        fake = self._features(chunks, shared=True) if self.extractor else None
        for _ in chunks:  # without features, generate anyway: the samples are the metrics' input
            pass
        needs = self.needs
        return Inputs(setting=replace(self.setting, recipe=recipe), n_real=self.n_real, n_fake=len(latent),
                      extractor=self.extractor, real=self.real, fake=fake, train=self.train,
                      samples=distributed.all_gather_rows(torch.cat(samples)) if samples else None,
                      real_samples=self.real_samples,
                      labels=labels.cpu() if labels is not None and Need.LABELS in needs else None,
                      latent=latent if Need.PAIRS in needs else None,
                      baseline=self._baseline(recipe, latent) if Need.BASELINE in needs else None,
                      labellers=self.labellers, batch_size=self.batch_size)

    def _baseline(self, recipe: Recipe, latent: Latent) -> Tensor | None:
        """The translation recipe's output without learning for ``latent`` (on the CPU, in [-1, 1]), or None."""
        if not isinstance(recipe, Translation) or recipe.baseline_name is None:
            return None
        parts = [recipe.baseline(latent[i:i + self.batch_size]) for i in range(0, len(latent), self.batch_size)]
        return torch.cat(parts).float().clamp(-1, 1).cpu()

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        """Everything the scores depend on besides the generator's weights."""
        import gankit

        recipe = inputs.setting.recipe
        p: dict[str, Any] = {"metrics": self.names, "n_real": self.n_real, "n_fake": inputs.n_fake,
                             "reference": f"{self.data.name}:{self.cfg.split}", "seed": self.cfg.seed,
                             "sampler": "ema" if recipe.ema is not None else "G", "gankit": gankit.__version__}
        if isinstance(recipe, Translation):
            p["inputs"] = f"{self.data.name}:{self.cfg.split} (translated)"
        if self.cfg.truncation is not None:
            p["truncation"] = self.cfg.truncation
        if self.extractor is not None:
            p.update(self.extractor.protocol())
        for metric in self.metrics:
            p.update(metric.protocol(inputs))
        for name, labeller in self.labellers.items():  # one in practice; each named by its data set when several
            p["labeller" if len(self.labellers) == 1 else f"labeller:{name}"] = labeller.protocol()
        return p


def evaluate_once(cfg: Any, data: DataInfo, recipe: Recipe, device: torch.device, step: int,  # noqa: ANN401
                  **given: Any) -> dict[str, Any]:  # noqa: ANN401
    """One evaluation row of ``recipe`` under the run's config ``cfg`` (its ``eval`` section, with each ``given``
    setting that is not None over it: metrics, n, features, split, seed, truncation), missing domain evaluators
    trained on the way: what ``Run.evaluate`` and ``gankit eval FILE`` score with."""
    eval_cfg = replace(cfg.eval, **{k: v for k, v in given.items() if v is not None})
    return Evaluation(eval_cfg, cfg.data, data, recipe, device, train_missing=True)(recipe, step)


def _chunks(x: Tensor, size: int) -> Iterator[Tensor]:
    for start in range(0, len(x), size):
        yield x[start:start + size]


def best_key(cfg: EvalConfig) -> str:
    """The score that picks checkpoints/best.pt: eval.best, else the first metric's first score."""
    key = cfg.best or METRICS.get(check_metrics(cfg.metrics)[0]).keys[0]
    higher_is_better(key)  # validates the name
    return "eval/" + key.removeprefix("eval/")


def is_better(value: float, best: float | None, key: str) -> bool:
    if best is None or math.isnan(best):
        return not math.isnan(value)
    return value > best if higher_is_better(key) else value < best
