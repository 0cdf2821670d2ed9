"""The metric contract and its registry: what a metric needs, where it applies, what it writes.

A metric is one class in one file, registered by name::

    @register_metric("fid")
    class FID(Metric):
        \"\"\"Frechet distance of feature Gaussians (Heusel et al. 2017).\"\"\"
        scores = {"fid": False}               # eval/fid, lower is better
        needs = frozenset({Need.MOMENTS})
        def score(self, inputs: Inputs) -> dict[str, float]:
            ...

``gankit.evaluate.Evaluation`` computes every need of the metrics asked for once (the
features once for all feature metrics, the samples once, each labeller's classes once)
and hands them to each metric in an ``Inputs``; it never branches on a metric's name.
A field of ``Inputs`` that no metric asked for is None.
"""
from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from torch import Tensor

from gankit.metrics.stats import RunningStats
from gankit.registry import Registry

if TYPE_CHECKING:
    from gankit.config import DataConfig, EvalConfig
    from gankit.metrics.extractor import FeatureExtractor
    from gankit.recipes.base import Latent, Recipe
    from gankit.types import DataInfo

TRAIN_IMAGES = 10_000  # Need.TRAIN_ROWS: at most this many training images (a fixed random subset)


class Need(enum.Enum):
    """What a metric reads; the evaluation computes each once, only when some metric asks for it."""

    MOMENTS = "feature mean and covariance of the reference split and of the samples (streamed)"
    FEATURE_ROWS = "the feature rows themselves, (n, D) for the reference split and for the samples"
    CLASS_PROBS = "the feature network's class probabilities of the samples (its class head)"
    TRAIN_ROWS = f"feature rows of up to {TRAIN_IMAGES:,} images of the training split (data.split)"
    SAMPLES = "the generated samples, (n, ...) on the CPU (images clamped to [-1, 1])"
    REAL_SAMPLES = "every sample of the reference split (not capped by eval.n), on the CPU (texts, sequences, ...)"
    LABELS = "the class (or code) each sample was asked for, (n,)"
    LABELLER = "a domain classifier's predicted classes of the samples (the data set named by Metric.labeller)"
    PAIRS = "G's inputs and, for paired translation, the target of each input (the Latent)"
    BASELINE = "the translation recipe's output without learning, e.g. bicubic upsampling (or None)"


FEATURE_NEEDS = frozenset({Need.MOMENTS, Need.FEATURE_ROWS, Need.CLASS_PROBS, Need.TRAIN_ROWS})


@dataclass(frozen=True)
class Setting:
    """What an evaluation is configured with: enough to decide whether a metric applies. Every metric gets it."""

    cfg: EvalConfig
    data_cfg: DataConfig
    data: DataInfo
    recipe: Recipe  # the recipe scored (in Inputs: the one of this call, e.g. an untrained G beside the trained one)


@dataclass
class Features:
    """One image set through the feature network: moments, rows and class probabilities, each None unless needed."""

    stats: RunningStats | None = None
    rows: Tensor | None = None  # (n, D) float32
    probs: Tensor | None = None  # (n, K) float64 softmax of the class head


@dataclass
class Inputs:
    """What one evaluation hands every metric; a field stays None unless some metric declared its need."""

    setting: Setting
    n_real: int  # reference images (eval.split, capped at eval.n)
    n_fake: int  # generated samples (translation: as many as the reference split has inputs, up to eval.n)
    extractor: FeatureExtractor | None  # the feature network all feature metrics share
    real: Features | None  # the reference split
    fake: Features | None  # the generated samples
    train: Tensor | None = None  # Need.TRAIN_ROWS: (n_train, D)
    samples: Tensor | None = None  # Need.SAMPLES
    real_samples: Tensor | None = None  # Need.REAL_SAMPLES
    labels: Tensor | None = None  # Need.LABELS, on the CPU
    latent: Latent | None = None  # Need.PAIRS
    baseline: Tensor | None = None  # Need.BASELINE
    labellers: dict[str, FeatureExtractor] = field(default_factory=dict)  # Need.LABELLER, by data set
    batch_size: int = 250
    _classes: dict[str, Tensor] = field(default_factory=dict, repr=False)

    def classes(self, labeller: str) -> Tensor:
        """(n,) classes the ``labeller`` data set's domain classifier predicts for the samples; computed once."""
        if labeller not in self._classes:
            _, logits = self.labellers[labeller].extract(self.samples, self.batch_size)
            self._classes[labeller] = logits.argmax(dim=1)
        return self._classes[labeller]


class Metric:
    """One metric. Subclasses write a one-line docstring (the CLI's help) and set ``scores`` and ``needs``."""

    name: ClassVar[str] = ""  # set by register_metric
    scores: ClassVar[dict[str, bool]] = {}  # score key (logged as eval/<key>) -> higher is better
    needs: ClassVar[frozenset[Need]] = frozenset()
    keys: ClassVar[tuple[str, ...]] = ()  # the keys of ``scores``, in order

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.keys = tuple(cls.scores)

    def check(self, setting: Setting) -> None:
        """Raise ConfigError, naming this metric and what to change, where it does not apply. Default: anywhere."""

    def labeller(self, setting: Setting) -> str | None:
        """The data set whose domain classifier labels the samples (Need.LABELLER); None: no labeller here."""
        return setting.data.name

    def score(self, inputs: Inputs) -> dict[str, float]:  # pragma: no cover - abstract
        """{key: value} for the keys of ``scores`` (and any baseline beside them)."""
        raise NotImplementedError

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        """What the scores depend on besides the evaluation's common protocol. Default: nothing more."""
        return {}


@contextlib.contextmanager
def generator_in_eval(inputs: Inputs) -> Iterator[tuple[Any, Any]]:
    """For metrics that draw their own samples (ppl, style_mixing): the recipe's sampling G in eval mode (its
    mode restored after) and a random generator on G's device seeded with eval.seed."""
    import torch

    from gankit.recipes.base import eval_mode

    with eval_mode(inputs.setting.recipe.sampler()) as G:
        device = next(G.parameters()).device
        yield G, torch.Generator(device=device).manual_seed(inputs.setting.cfg.seed)


METRICS: Registry[type[Metric]] = Registry("metric")


def register_metric(name: str) -> Callable[[type[Metric]], type[Metric]]:
    """Register a Metric subclass under ``name`` (its doc: the class docstring's first line)."""
    def add(cls: type[Metric]) -> type[Metric]:
        cls.name = name
        return METRICS.register(name)(cls)
    return add
