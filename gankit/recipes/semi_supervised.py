"""The shared base of the semi-supervised GANs (SSGAN, Triple-GAN): a classifier learns from a few labelled
examples and the unlabelled rest of the training data.

Where the labels come from: the run's training data reaches the recipe once, through ``Recipe.use_data``,
before training; the recipe keeps ``labels`` examples of it with their labels (``labels / K`` per class,
the first of each class after a permutation seeded by the run's seed, as the authors' code picks them) in
buffers, so checkpoints hold them and a loaded run needs no data. The trainer's batches are used without
their labels. So the run sees exactly ``labels`` labels, and the choice is the same on every rank, at every
resume and in the supervised-only baseline.

Pieces:

- ``labelled_indices`` and ``LabelledSet``: which examples keep their labels, and batches of them;
- ``ClassLogits``: a discriminator architecture read as a K-class classifier;
- ``SemiSupervised``: the family base (labelled set, classifier, ``classify``);
- ``classifier_accuracy``: the classifier's accuracy on a labelled split (also the ``ssl_acc`` metric);
- ``gankit.bench.supervised_only``: the baseline, the same classifier network trained on the labelled examples alone
  with the same budget (steps, batch size, optimiser).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.errors import ConfigError
from gankit.nets import ModelConfig, NetSpec, build_nets
from gankit.recipes.base import eval_mode
from gankit.recipes.gan import GAN
from gankit.types import DOut


def labelled_indices(y: Tensor, count: int, num_classes: int, seed: int) -> Tensor:
    """(count,) rows of the training data that keep their labels: ``count / num_classes`` of each class, the
    first of the class in a permutation seeded by ``seed``; class by class."""
    per_class = count // num_classes
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(y)))
    labels = y.cpu()[order]
    picks = []
    for k in range(num_classes):
        rows = order[labels == k][:per_class]
        if len(rows) < per_class:
            raise ConfigError(f"recipe_args.labels={count} asks for {per_class} labelled examples of class {k}, and "
                              f"the training data has {len(rows)}; lower recipe_args.labels or use more data "
                              "(data.limit)")
        picks.append(rows)
    return torch.cat(picks)


class LabelledSet(nn.Module):
    """The few labelled training examples, in buffers (checkpoints hold them), drawn with replacement in batches."""

    def __init__(self, count: int, sample_shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        if num_classes < 2:
            raise ConfigError("a semi-supervised recipe learns to classify: use a labelled data set (digits, mnist, "
                              f"an image folder with class sub-folders); this one has {num_classes} classes")
        if not isinstance(count, int) or count < num_classes or count % num_classes:
            raise ConfigError(f"recipe_args.labels={count!r}: the labelled examples are balanced over the "
                              f"{num_classes} classes, so labels must be a positive multiple of {num_classes} "
                              f"(e.g. {10 * num_classes})")
        self.num_classes = num_classes
        self.register_buffer("x", torch.zeros(count, *sample_shape))  # (N_l, C, H, W)
        self.register_buffer("y", torch.zeros(count, dtype=torch.long))  # (N_l,)
        self.chosen = False  # set by ``choose`` or by loading a checkpoint

    def choose(self, data, seed: int) -> None:  # noqa: ANN001  (gankit.data.Dataset)
        """Keep the labelled examples of ``data`` (the run's training data) that ``labelled_indices`` picks."""
        if data.y is None:
            raise ConfigError(f"data set {data.name!r} has no labels: a semi-supervised recipe needs labelled data")
        index = labelled_indices(data.y, len(self.y), self.num_classes, seed).to(data.x.device)
        self.x.copy_(data.x[index])
        self.y.copy_(data.y[index])
        self.chosen = True

    def batch(self, n: int) -> tuple[Tensor, Tensor]:
        """n labelled examples (n, C, H, W) and their labels (n,), drawn uniformly with replacement."""
        if not self.chosen:
            raise RuntimeError("the labelled examples are not chosen yet: call recipe.use_data(training data) before "
                               "training (gankit.train does)")
        index = noise.randint(len(self.y), n, device=self.y.device)
        return self.x[index], self.y[index]

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # noqa: ANN002,ANN003
        super()._load_from_state_dict(*args, **kwargs)
        self.chosen = True


class ClassLogits(nn.Module):
    """A discriminator architecture read as a K-class classifier: built with K-1 auxiliary outputs, its logit and
    its auxiliary head together are one linear layer of K class logits, returned as ``aux`` (B, K).

    Its ``logit`` is logsumexp of the class logits: Salimans et al. 2016's K+1-class discriminator with the
    fake class's logit fixed at 0, whose probability of "real" is Z / (Z + 1) = sigmoid(logsumexp), Z = sum_k
    exp(l_k). So the usual cross-entropy GAN loss on this logit is their unsupervised loss.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        out = self.net(x, None)  # a classifier never sees labels
        logits = torch.cat([out.logit[:, None], out.aux], dim=1)  # (B, K)
        return DOut(logit=torch.logsumexp(logits, dim=1), features=out.features, aux=logits)


def classifier_spec(data, z_dim: int) -> NetSpec:  # noqa: ANN001  (DataInfo)
    """What a K-class ``ClassLogits`` network is built for (G's part of the spec is unconditional)."""
    return NetSpec(sample_shape=data.sample_shape, z_dim=z_dim, aux_dim=data.num_classes - 1)


def build_classifier(model: ModelConfig, data) -> ClassLogits:  # noqa: ANN001  (DataInfo)
    """A K-class classifier of model.arch's discriminator architecture (model.d_* settings, no label input)."""
    _, net = build_nets(classifier_spec(data, model.z_dim), replace(model, label_input=None))
    return ClassLogits(net)


class SemiSupervised(GAN):
    """Base of the semi-supervised recipes: the labelled set, the classifier and its parameter group."""

    classifier_group = "D"  # the parameter group (optimiser) that trains the classifier

    def __init__(self, G: nn.Module, D: nn.Module, *, labelled: LabelledSet, seed: int, **gan_kwargs) -> None:
        super().__init__(G, D, **gan_kwargs)
        self.labelled, self.seed = labelled, seed

    @classmethod
    def labelled_set(cls, cfg, data, labels: int) -> LabelledSet:  # noqa: ANN001  (Config, DataInfo)
        """An empty labelled set of ``labels`` examples for ``data``; ``use_data`` fills it."""
        if cfg.data.domains is not None or data.kind != "image":
            raise ConfigError(f"recipe {cfg.recipe!r} classifies images of a labelled data set (digits, mnist, ...); "
                              f"data {data.name!r} is {data.kind} data" +
                              (" with data.domains set: drop it" if cfg.data.domains is not None else ""))
        return LabelledSet(labels, data.sample_shape, data.num_classes)

    @property
    def classifier(self) -> ClassLogits:
        raise NotImplementedError

    def use_data(self, data) -> None:  # noqa: ANN001  (gankit.data.Dataset)
        self.labelled.choose(data, self.seed)

    def classify(self, x: Tensor) -> Tensor:
        """Class logits (B, K) of the classifier for images x (B, C, H, W)."""
        return self.classifier(x).aux


@torch.no_grad()
def accuracy(recipe: SemiSupervised, x: Tensor, y: Tensor, batch_size: int = 500) -> float:
    """Share of images x (N, C, H, W) the recipe's classifier (in eval mode) puts in their class y (N,)."""
    device, right = recipe.labelled.y.device, 0
    with eval_mode(recipe.classifier):
        for start in range(0, len(x), batch_size):
            predicted = recipe.classify(x[start:start + batch_size].to(device)).argmax(1).cpu()  # (b,)
            right += int((predicted == y[start:start + batch_size].cpu()).sum())
    return right / len(x)


def classifier_accuracy(recipe: SemiSupervised, data_cfg, *, split: str = "test",  # noqa: ANN001  (DataConfig)
                        limit: int | None = None, seed: int = 0) -> float:
    """The classifier's accuracy on ``split`` of the run's data set (``data_cfg``: its DataConfig), on all of it
    or a fixed random ``limit`` of it. E.g. ``classifier_accuracy(run.recipe, run.config.data)``."""
    from gankit.data import load_dataset

    d = data_cfg
    data = load_dataset(d.name, split=split, image_size=d.image_size, channels=d.channels, root=d.root, limit=limit,
                        seed=seed)
    return accuracy(recipe, data.x, data.y)


__all__ = ["labelled_indices", "LabelledSet", "ClassLogits", "build_classifier", "classifier_spec", "SemiSupervised",
           "accuracy", "classifier_accuracy"]
