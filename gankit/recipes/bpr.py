"""Rendle et al. 2009 (BPR), the matrix-factorisation baseline of item recommendation: no discriminator.

G is the same matrix-factorisation policy as IRGAN's (gankit/nets/factorisation.py, model.g_width), trained by
BPR-Opt alone: each real (user, item) row against one item drawn uniformly among those the user has no training
row with, -mean log sigmoid(s(u, i) - s(u, j)) + ``l2`` x half the squared norms of the three rows' parameters per
row. Its samples (softmax of the scores) and rankings are read as IRGAN's, so the two compare on the same metrics
(precision_at_k, ndcg_at_k). ``loss=`` (the adversarial loss) is not read.
"""
from __future__ import annotations

from dataclasses import dataclass, fields


from gankit.errors import ConfigError
from gankit.losses.ranking import bpr
from gankit.nets.factorisation import ItemPolicy
from gankit.objective import Objective
from gankit.recipes.base import GeneratorOnly, LossTerms, Phase, check_recipe_args, register_recipe
from gankit.recipes.recommend import Recommender
from gankit.types import Batch


@dataclass(frozen=True)
class BPRArgs:
    """recipe_args of bpr."""

    l2: float = 0.01  # weight decay of the rows a step touches

    @classmethod
    def from_config(cls, args: dict) -> "BPRArgs":
        check_recipe_args(args, tuple(f.name for f in fields(cls)), "bpr")
        out = cls(**args)
        if not isinstance(out.l2, (int, float)) or isinstance(out.l2, bool) or out.l2 < 0:
            raise ConfigError(f"recipe_args.l2={out.l2!r}: a weight >= 0")
        return out


@register_recipe("bpr")
class BPR(GeneratorOnly, Recommender):
    """Matrix factorisation trained by pairwise ranking against unseen items; no discriminator."""

    paper = "Rendle et al. 2009, BPR: Bayesian Personalized Ranking from Implicit Feedback"

    def __init__(self, G: ItemPolicy, *, args: BPRArgs = BPRArgs(), objective: Objective | None = None) -> None:
        super().__init__()
        self.G, self.args = G, args
        self.use_objective(objective or Objective())

    @classmethod
    def from_config(cls, cfg, data) -> "BPR":  # noqa: ANN001
        args = BPRArgs.from_config(dict(cfg.recipe_args))
        users, items = cls.table(cfg, data)
        return cls(ItemPolicy(users, items, cfg.model.g_width), args=args, objective=cls.objective_for(cfg))

    def phases(self) -> list[Phase]:
        return [Phase("G", self.g_step, trains="G")]

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        users, positives = batch.x[:, 0], batch.x[:, 1]
        negatives = self.negatives(users)
        terms = {"bpr": bpr(positive=self.G.pair_scores(users, positives),
                            negative=self.G.pair_scores(users, negatives))}
        if self.args.l2:
            terms["l2"] = self.args.l2 * self.G.l2(users, positives, negatives)
        return terms


__all__ = ["BPR", "BPRArgs"]
