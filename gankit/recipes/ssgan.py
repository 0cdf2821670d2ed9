"""Salimans et al. 2016 (Improved Techniques for Training GANs, Sec. 5; Odena 2016): semi-supervised GAN.

D is a classifier over the K classes plus "generated". With the fake class's logit fixed at 0 (the paper's
parametrisation), D's K class logits l give D(x) = Z / (Z + 1), Z = sum_k exp(l_k), so D's adversarial logit
is logsumexp(l) (``ClassLogits``) and the cross-entropy GAN loss on it is the paper's unsupervised loss:

    L_unsupervised = -log D(x) - log(1 - D(G(z))) = softplus(-lse(l(x))) + softplus(lse(l(G(z))))
    L_supervised   = cross-entropy of the K class logits on a batch of the few labelled examples
    D minimises L_supervised * supervised_weight + L_unsupervised; G minimises feature matching (the
    ``feature_matching`` trick: the distance between the batch means of D's penultimate features on real and
    generated data), the paper's choice for semi-supervised learning.

The trainer's batches are the unlabelled data (all of the training split, their labels unused); the labelled
examples come from ``LabelledSet`` (gankit/recipes/semi_supervised.py). D's class head is the classifier:
``classify`` and the ``ssl_acc`` metric read it.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from gankit.errors import ConfigError
from gankit.objective import Accepts
from gankit.recipes.base import LossTerms, check_recipe_args, register_recipe
from gankit.recipes.semi_supervised import ClassLogits, LabelledSet, SemiSupervised
from gankit.tricks import TRICKS
from gankit.types import Batch

# D's real/fake score is the logsumexp of its class logits: a trick that adds to the logit alone (minibatch
# features) or scores samples jointly (packing) would break that.
SSGAN_TRICKS = frozenset(TRICKS.names()) - {"pack", "minibatch_discrimination", "minibatch_stddev"}
PROBABILITY_LOSSES = ("nonsat", "minimax")  # D(x) = sigmoid(lse) is a probability: the cross-entropy losses


@register_recipe("ssgan")
class SSGAN(SemiSupervised):
    """Salimans et al. 2016: D classifies K classes + fake; labelled cross-entropy + unsupervised GAN loss."""

    paper = "Salimans et al. 2016, Improved Techniques for Training GANs (Sec. 5, semi-supervised learning)"
    accepts = Accepts(tricks=SSGAN_TRICKS, terms=frozenset(),
                      why="D's class head is the classifier and its logsumexp the real/fake score")
    classifier_group = "D"

    def __init__(self, G: nn.Module, D: ClassLogits, *, labelled: LabelledSet, seed: int,
                 supervised_weight: float = 2.0, **gan_kwargs) -> None:
        # 2: the authors' code weighs the unsupervised loss by 1/2 against the cross-entropy (Adam ignores the
        # overall scale of D's loss, so weighing the cross-entropy by 2 is the same balance)
        super().__init__(G, D, labelled=labelled, seed=seed, **gan_kwargs)
        self.supervised_weight = supervised_weight

    @classmethod
    def from_config(cls, cfg, data) -> "SSGAN":  # noqa: ANN001
        args = dict(cfg.recipe_args)
        check_recipe_args(args, ("labels", "supervised_weight"), "ssgan")
        if cfg.loss not in PROBABILITY_LOSSES:
            raise ConfigError(f"loss={cfg.loss!r}: ssgan's D(x) = sigmoid(logsumexp of the class logits) is a "
                              "probability, scored by a cross-entropy loss: use loss= one of "
                              f"{', '.join(PROBABILITY_LOSSES)}")
        if cfg.conditional or cfg.model.label_input is not None:
            raise ConfigError("ssgan's G is unconditional and its D is the classifier, so it never sees labels: set "
                              "conditional=false and model.label_input=null")
        labelled = cls.labelled_set(cfg, data, args.pop("labels", 20))  # small default: fits any labelled data
        objective = cls.objective_for(cfg)
        spec = cls.spec(cfg, data, objective, aux_dim=data.num_classes - 1)  # with D's logit: K class logits
        G, D = cls.build(cfg, data, objective, spec)
        return cls(G, ClassLogits(D), labelled=labelled, seed=cfg.seed, **cls.common_args(cfg, data, objective),
                   **args)

    @property
    def classifier(self) -> ClassLogits:
        return self.D

    @staticmethod
    def sides(batch: Batch, latent) -> dict:  # noqa: ANN001  (Latent)
        """The trainer's batch is unlabelled data: its labels are never read."""
        return {"y_real": None, "y_fake": None, "z": latent.z}

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        terms = super().d_step(batch, step)  # "adv": the unsupervised loss
        x, y = self.labelled.batch(len(batch))
        terms["supervised"] = self.supervised_weight * F.cross_entropy(self.classify(self.objective.view(x, step)), y)
        return terms


__all__ = ["SSGAN"]
