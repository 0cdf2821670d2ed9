"""Class accuracy of conditional samples (cGAN, AC-GAN) and InfoGAN categorical-code accuracy.

Both score a generator through a classifier (usually the domain evaluator): the classifier's
predicted class of each sample is compared with the class the sample was generated for
(``class_accuracy``), or, for a code learnt without labels, with the code value after the best
one-to-one matching of code values to classes (``code_accuracy``, Hungarian algorithm on the
confusion matrix).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric
from gankit.metrics.stats import MetricInputError

Labels = Tensor | np.ndarray | list[int]


def as_labels(values: Labels, name: str) -> tuple[np.ndarray, int]:
    """(N,) integer labels, or (N, K) logits / probabilities (argmax taken) -> (int64 (N,), K or 0)."""
    array = values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)
    if array.ndim == 2:
        if array.shape[1] < 1:
            raise MetricInputError(f"{name} has shape {array.shape}: (N, K) scores need K >= 1 classes")
        return array.argmax(axis=1).astype(np.int64), array.shape[1]
    if array.ndim != 1:
        raise MetricInputError(f"{name} must be (N,) labels or (N, K) logits, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.equal(np.mod(array, 1), 0)):
            raise MetricInputError(f"{name} must hold integer labels (or be (N, K) logits); got {array.dtype} values "
                                   "with fractions")
        array = array.astype(np.int64)
    if array.size and array.min() < 0:
        raise MetricInputError(f"{name} must be non-negative labels; found {int(array.min())}")
    return array.astype(np.int64), 0


def _pair(a: Labels, b: Labels, names: tuple[str, str]) -> tuple[np.ndarray, int, np.ndarray, int]:
    la, ka = as_labels(a, names[0])
    lb, kb = as_labels(b, names[1])
    if len(la) != len(lb):
        raise MetricInputError(f"{names[0]} and {names[1]} must have the same length, got {len(la)} and {len(lb)}")
    if len(la) == 0:
        raise MetricInputError(f"{names[0]} and {names[1]} are empty: no samples to score")
    return la, ka, lb, kb


def class_accuracy(predicted: Labels, requested: Labels) -> float:
    """Fraction of conditional samples the classifier puts in the class they were generated for (cGAN, AC-GAN).

    ``predicted``: the classifier's (N,) labels or (N, K) logits; ``requested``: the (N,) classes asked for.
    """
    pred, _, want, _ = _pair(predicted, requested, ("predicted", "requested"))
    return float(np.mean(pred == want))


def confusion_matrix(codes: np.ndarray, classes: np.ndarray, num_codes: int, num_classes: int) -> np.ndarray:
    """(num_codes, num_classes) counts of (code, class) pairs."""
    matrix = np.zeros((num_codes, num_classes), dtype=np.int64)
    np.add.at(matrix, (codes, classes), 1)
    return matrix


def code_accuracy(codes: Labels, predicted: Labels, *, num_codes: int | None = None,
                  num_classes: int | None = None) -> tuple[float, dict[int, int]]:
    """InfoGAN (Chen et al. 2016) categorical-code accuracy: (accuracy, {code value: class}).

    Code values are matched one-to-one to classes so that the most samples agree (Hungarian
    algorithm, ``scipy.optimize.linear_sum_assignment``, on the confusion matrix). With more code
    values than classes (or fewer), only min(#codes, #classes) pairs are matched and the samples of
    unmatched code values count as wrong. ``predicted`` is the classifier's (N,) labels or (N, K) logits.
    """
    code, _, pred, k_logits = _pair(codes, predicted, ("codes", "predicted"))
    n_codes = max(int(code.max()) + 1, num_codes or 0)
    n_classes = max(int(pred.max()) + 1, k_logits, num_classes or 0)
    matrix = confusion_matrix(code, pred, n_codes, n_classes)
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    mapping = {int(r): int(c) for r, c in zip(rows, cols) if matrix[r].sum() > 0}  # code values never drawn: no match
    return float(matrix[rows, cols].sum() / len(code)), mapping


@register_metric("class_acc")
class ClassAccuracy(Metric):
    """Conditional samples the domain evaluator classifies as the class asked for (cGAN, AC-GAN, StarGAN)."""

    scores = {"class_acc": True}
    needs = frozenset({Need.SAMPLES, Need.LABELS, Need.LABELLER})

    def check(self, setting: Setting) -> None:
        from gankit.recipes.infogan import InfoGAN  # imported here: gankit.metrics loads without the recipes

        recipe = setting.recipe
        if not recipe.label_classes() or isinstance(recipe, InfoGAN):
            raise ConfigError("class_acc needs a conditional generator (cgan, acgan); this one takes no class labels: "
                              "train a conditional preset, or use code_acc for InfoGAN and classes for any G of images")

    def score(self, inputs: Inputs) -> dict[str, float]:
        return {"class_acc": class_accuracy(inputs.classes(self.labeller(inputs.setting)), inputs.labels)}


@register_metric("code_acc")
class CodeAccuracy(Metric):
    """InfoGAN cat0 vs the domain evaluator's classes, best one-to-one matching (Chen et al. 2016)."""

    scores = {"code_acc": True}
    needs = frozenset({Need.SAMPLES, Need.LABELS, Need.LABELLER})

    def check(self, setting: Setting) -> None:
        from gankit.recipes.infogan import InfoGAN

        if not (isinstance(setting.recipe, InfoGAN) and setting.recipe.label_classes()):
            raise ConfigError("code_acc needs an InfoGAN generator with a categorical code: train infogan, "
                              "or use class_acc for a conditional generator")

    def score(self, inputs: Inputs) -> dict[str, float]:
        return {"code_acc": code_accuracy(inputs.labels, inputs.classes(self.labeller(inputs.setting)))[0]}
