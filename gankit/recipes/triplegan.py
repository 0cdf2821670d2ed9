"""Li et al. 2017 (Triple Generative Adversarial Nets): a classifier C, a conditional generator G and a
discriminator D of (x, y) pairs, for semi-supervised learning.

C labels unlabelled images, p_c(x, y) = p(x) p_c(y | x); G draws images of given labels, p_g(x, y) = p(y)
p_g(x | y); D tells real labelled pairs from both. The game (the paper's Eq. 3 and 5):

    min_{C,G} max_D  E_p[log D(x, y)] + alpha E_{p_c}[log(1 - D(x, y))] + (1 - alpha) E_{p_g}[log(1 - D(G(z, y), y))]
                     + R_L (C's cross-entropy on the labelled pairs) + pseudo_weight * R_P (C's cross-entropy
                     on G's pairs, from ``pseudo_from`` of the training on, once G's pairs are worth learning from)

D's fake side is one batch of alpha*B of C's pairs, each image with a label drawn from p_c(y | x), and
(1-alpha)*B of G's, so its mean weighs the two as the game does. C's adversarial term is the expectation over
its labels, computed exactly (the authors' code's "integrate" option): alpha * mean_x sum_y p_c(y | x)
loss_G(D(x, y)), with the run's adversarial loss as loss_G, so C moves its probability towards the labels D
finds real for x. (Their "argmax" option, p_c(argmax | x) loss_G(D(x, argmax)), can only lower C's confidence
where D says "fake": on digits with 50 labels, 1,000 steps, C reached .37 test accuracy with it, .82 with this.)

C's adversarial term is weighed by ``c_adv_weight`` (0.01, the authors' code's ``alpha_cla_adversarial``; the
paper's equation has 1): at 1, C's game term outweighs its few labels and C ends below the same network trained on
the labels alone (digits, 20 labels, 600 steps: .744 / .684 against .768 / .714 on seeds 0 / 1). The authors' code
also regularises C on the unlabelled images, and so do the presets: ``entropy_weight`` (their 0.3) times C's mean
entropy (confident predictions), and ``balance_weight`` (their 0.3 in C's pre-training, 1e-3 after; the presets
use 1) times the cross-entropy of C's mean prediction over the batch against the uniform distribution, which keeps
the entropy term from putting every image in a few classes. On MNIST with 100 labels (2,000 steps, seed 0) C
reaches .710 without them, .822 with both, and .761 with both and no game at all (c_adv_weight=0,
pseudo_weight=0), against .748 for the labels alone: the game adds to the regularisers (README).

D reads labels through model.label_input (concat, the paper's, when null). C is the same K-class network
ssgan's D is (gankit/recipes/semi_supervised.py: ``ClassLogits``); ``classify`` and ``ssl_acc`` read it.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.losses.adversarial import AdversarialLoss
from gankit.nets import NetSpec
from gankit.objective import Accepts, Scorer
from gankit.recipes.base import LossTerms, Phase, check_recipe_args, register_recipe
from gankit.recipes.semi_supervised import ClassLogits, LabelledSet, SemiSupervised, build_classifier
from gankit.tricks import TRICKS
from gankit.types import Batch

# D judges each (x, y) pair alone, and its fake side mixes C's and G's pairs: no batch-level D features, and
# feature matching would replace C's adversarial term as well as G's.
TRIPLE_TRICKS = frozenset(TRICKS.names()) - {"pack", "minibatch_discrimination", "minibatch_stddev", "feature_matching"}


def per_sample(loss: AdversarialLoss, fake: Tensor) -> Tensor:
    """(B,) G-side losses of each score alone (every registered loss is a mean over samples)."""
    return torch.vmap(lambda score: loss.g(fake=score[None]))(fake)


@register_recipe("triplegan")
class TripleGAN(SemiSupervised):
    """Li et al. 2017: C labels images, G draws labelled images, D judges (x, y) pairs."""

    paper = "Li et al. 2017, Triple Generative Adversarial Nets"
    accepts = Accepts(tricks=TRIPLE_TRICKS, terms=frozenset(),
                      why="D judges (x, y) pairs one by one, and C's and G's pairs share its fake side")
    classifier_group = "C"

    def __init__(self, G: nn.Module, D: nn.Module, C: ClassLogits, *, labelled: LabelledSet, seed: int,
                 steps: int, alpha: float = 0.5, pseudo_weight: float = 0.1, pseudo_from: float = 0.3,
                 c_adv_weight: float = 0.01, entropy_weight: float = 0.0, balance_weight: float = 0.0,
                 **gan_kwargs) -> None:
        super().__init__(G, D, labelled=labelled, seed=seed, **gan_kwargs)
        if not 0 < alpha < 1:
            raise ConfigError(f"recipe_args.alpha={alpha}: C's share of D's fake side must be in (0, 1) (paper: 0.5)")
        if pseudo_weight < 0 or not 0 <= pseudo_from <= 1:
            raise ConfigError(f"recipe_args: pseudo_weight={pseudo_weight} must be >= 0 and pseudo_from={pseudo_from} "
                              "a fraction of train.steps in [0, 1]")
        if min(c_adv_weight, entropy_weight, balance_weight) < 0:
            raise ConfigError(f"recipe_args: c_adv_weight={c_adv_weight}, entropy_weight={entropy_weight} and "
                              f"balance_weight={balance_weight} are loss weights, >= 0")
        self.C = C
        self.alpha, self.pseudo_weight = alpha, pseudo_weight
        self.c_adv_weight, self.entropy_weight, self.balance_weight = c_adv_weight, entropy_weight, balance_weight
        self.pseudo_start = int(pseudo_from * steps)  # the authors start R_P after 300 of 1000 epochs

    @classmethod
    def from_config(cls, cfg, data) -> "TripleGAN":  # noqa: ANN001
        args = dict(cfg.recipe_args)
        check_recipe_args(args, ("labels", "alpha", "pseudo_weight", "pseudo_from", "c_adv_weight", "entropy_weight",
                                 "balance_weight"),
                          "triplegan")
        labelled = cls.labelled_set(cfg, data, args.pop("labels", 20))  # small default: fits any labelled data
        objective = cls.objective_for(cfg)
        if objective.adv.pairs:
            raise ConfigError(f"loss={cfg.loss!r} pairs each generated sample with a real one, and C's adversarial "
                              "term scores each unlabelled image alone: use a loss such as nonsat or hinge")
        k = data.num_classes
        d_reads_y = dataclasses.replace(cfg.model, label_input=cfg.model.label_input or "concat")
        paired = dataclasses.replace(cfg, model=d_reads_y)  # D reads y
        spec = NetSpec(sample_shape=data.sample_shape, z_dim=cfg.model.z_dim, g_classes=k, d_classes=k)
        G, D = cls.build(paired, data, objective, spec)
        common = {**cls.common_args(cfg, data, objective), "num_classes": k}  # G is always conditional
        return cls(G, D, build_classifier(cfg.model, data), labelled=labelled, seed=cfg.seed, steps=cfg.train.steps,
                   **common, **args)

    @property
    def classifier(self) -> ClassLogits:
        return self.C

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, "C": self.C}

    def groups(self) -> dict[str, list[str]]:
        return {"G": ["G"], "D": ["D"], "C": ["C"]}

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", repeats=self.n_critic, after=self.constrain),
                Phase("C", self.c_step, trains="C"),
                Phase("G", self.g_step, trains="G", new_batch=False)]

    def _generated(self, n: int) -> tuple[Tensor, Tensor]:
        """n of G's pairs: images (n, C, H, W) of uniformly drawn labels (n,)."""
        latent = self.sample_latent(n)
        return self.G(latent.z, latent.y), latent.y

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        n_c = min(max(round(self.alpha * len(batch)), 1), len(batch) - 1)  # C's pairs on D's fake side
        x_u = batch.x[:n_c]  # unlabelled images: the trainer's labels are never read
        with torch.no_grad():
            y_c = torch.multinomial(F.softmax(self.classify(x_u), dim=1), 1).squeeze(1)  # (n_c,) y ~ p_c(y | x)
        x_g, y_g = self._generated(len(batch) - n_c)
        x_l, y_l = self.labelled.batch(len(batch))
        judged = self.objective.d_loss(self.D, real=x_l, fake=torch.cat([x_g, x_u]), step=step, y_real=y_l,
                                       y_fake=torch.cat([y_g, y_c]))
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return judged.terms

    def c_step(self, batch: Batch, step: int) -> LossTerms:
        k = self.num_classes
        probs = F.softmax(self.classify(batch.x), dim=1)  # (B, K) p_c(y | x) of unlabelled images
        x_each = batch.x.repeat_interleave(k, dim=0)  # (B*K, C, H, W): every image with every label
        y_each = torch.arange(k, device=probs.device).repeat(len(batch))  # (B*K,)
        adv = self.objective.adv
        expected = Scorer(d=lambda real, fake: adv.d(real=real.logit, fake=fake.logit),  # sum_y p(y|x) loss(x, y)
                          g=lambda out: k * (probs.flatten() * per_sample(adv, out.logit)).mean(),
                          score=lambda out: out.logit)
        x_l, y_l = self.labelled.batch(len(batch))
        terms = self.objective.g_loss(self.D, real=x_l, fake=x_each, step=step, y_real=y_l, y_fake=y_each,
                                      scorer=expected, adv_weight=self.c_adv_weight * self.alpha).terms
        terms["supervised"] = F.cross_entropy(self.classify(x_l), y_l)  # R_L
        if self.entropy_weight:  # the authors' code: C confident on the unlabelled images
            terms["entropy"] = self.entropy_weight * -(probs * probs.clamp_min(1e-12).log()).sum(1).mean()
        if self.balance_weight:  # the authors' code: C's mean prediction over the batch near uniform
            terms["balance"] = self.balance_weight * -probs.mean(0).clamp_min(1e-12).log().mean()
        if self.pseudo_weight and step > self.pseudo_start:  # R_P: C learns G's pairs
            with torch.no_grad():
                x_g, y_g = self._generated(len(batch))
            terms["pseudo"] = self.pseudo_weight * F.cross_entropy(self.classify(x_g), y_g)
        return terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        x_g, y_g = self._generated(len(batch))
        x_l, y_l = self.labelled.batch(len(batch))
        return self.objective.g_loss(self.D, real=x_l, fake=x_g, step=step, y_real=y_l, y_fake=y_g,
                                     adv_weight=1 - self.alpha).terms


__all__ = ["TripleGAN", "per_sample"]
