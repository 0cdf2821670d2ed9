"""Wang et al. 2017 (IRGAN), item recommendation: a generative retrieval model G and a discriminative one D play a
minimax game over (user, item) pairs; G learns by policy gradient since its samples are discrete items.

Both are matrix-factorisation scorers (gankit/nets/factorisation.py, embeddings of model.g_width / model.d_width).
Following the authors' released item-recommendation code (geek-ai/irgan, item_recommendation/cf_gan.py,
dis_model.py, gen_model.py):

- D's phase: the batch's (user, item) rows are the reals; for each row G draws one item for its user from its
  softmax at temperature ``d_temperature`` (0.2, their ``generate_for_d``), the fakes. D's loss is the configured
  adversarial loss through the Objective (``loss=nonsat``, their sigmoid cross-entropy), plus ``d_l2`` x half
  the squared norms of each real and fake row's embeddings and bias, averaged over the rows (their lamda 0.1 /
  BATCH_SIZE on the batch's tf.nn.l2_loss).
- G's phase: for each row, ``g_samples`` items (their 2 per positive) from the proposal (1 - mix) p_G(.|u) +
  mix * [the row's positive item] (their importance sampling, sample_lambda 0.2: each user's positives in turn),
  rewarded by D and reweighted by p_G / proposal; G's loss is REINFORCE (gankit/losses/policy.py),
  -mean(log p_G(i|u) * reward * p_G / proposal). ``reward``: "sigmoid", their code's 2 (sigmoid(s_D) - 0.5), or
  "softplus", the paper's log(1 + exp(s_D)) (Eq. 5's reward for G).
- Their G starts from a pre-trained MF (model_dns_ori.pkl, DNS); here ``pretrain_steps`` steps of BPR (Rendle et al.
  2009, uniformly drawn unseen negatives) train G first, D waiting; 0 (the default) starts both from scratch.
- Their optimiser is plain SGD (lr 0.001, one update per user); gankit's optim.* applies (the preset: Adam).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit import distributed as noise
from gankit.errors import ConfigError
from gankit.losses.policy import reinforce
from gankit.losses.ranking import bpr
from gankit.nets.common import inverse_cdf
from gankit.nets.factorisation import ItemPolicy, PairScorer
from gankit.objective import Objective
from gankit.recipes.base import LossTerms, Phase, check_recipe_args, register_recipe
from gankit.recipes.recommend import Recommender
from gankit.types import Batch

REWARDS = ("sigmoid", "softplus")


@dataclass(frozen=True)
class IRGANArgs:
    """recipe_args of irgan (defaults: the authors' item-recommendation code)."""

    d_temperature: float = 0.2  # G's softmax temperature when it draws D's fakes
    g_samples: int = 2  # items G draws per real row in its phase
    mix: float = 0.2  # share of the importance-sampling proposal on the row's positive item (0: G's policy alone)
    reward: str = "sigmoid"  # "sigmoid": 2 (sigmoid(s_D) - 0.5); "softplus": log(1 + exp(s_D))
    d_l2: float = 0.1  # D's weight decay on the rows it scores
    g_l2: float = 0.0  # G's (theirs: 0)
    pretrain_steps: int = 0  # generator steps of BPR pre-training of G before the game (D waits)

    @classmethod
    def from_config(cls, args: dict) -> "IRGANArgs":
        check_recipe_args(args, tuple(f.name for f in fields(cls)), "irgan")
        out = cls(**args)
        number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
        count = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
        rules = [("d_temperature", number(out.d_temperature) and out.d_temperature > 0, "a temperature > 0"),
                 ("g_samples", count(out.g_samples) and out.g_samples >= 1, "an int >= 1"),
                 ("mix", number(out.mix) and 0 <= out.mix < 1, "a share in [0, 1)"),
                 ("reward", out.reward in REWARDS, f"one of {', '.join(REWARDS)}"),
                 ("d_l2", number(out.d_l2) and out.d_l2 >= 0, "a weight >= 0"),
                 ("g_l2", number(out.g_l2) and out.g_l2 >= 0, "a weight >= 0"),
                 ("pretrain_steps", count(out.pretrain_steps) and out.pretrain_steps >= 0, "an int >= 0")]
        for name, ok, rule in rules:
            if not ok:
                raise ConfigError(f"recipe_args.{name}={getattr(out, name)!r}: {rule}")
        return out


@register_recipe("irgan")
class IRGAN(Recommender):
    """G (a softmax policy over items) draws items for users; D tells them from the users' real items."""

    paper = "Wang et al. 2017, IRGAN: A Minimax Game for Unifying Generative and Discriminative IR Models"

    def __init__(self, G: ItemPolicy, D: PairScorer, *, args: IRGANArgs = IRGANArgs(), n_critic: int = 1,
                 objective: Objective | None = None) -> None:
        super().__init__()
        self.G, self.D, self.args, self.n_critic = G, D, args, n_critic
        self.use_objective(objective or Objective())

    @classmethod
    def from_config(cls, cfg, data) -> "IRGAN":  # noqa: ANN001
        args = IRGANArgs.from_config(dict(cfg.recipe_args))
        users, items = cls.table(cfg, data)
        objective = cls.objective_for(cfg)
        G = ItemPolicy(users, items, cfg.model.g_width)
        D = PairScorer(users, items, cfg.model.d_width)
        return cls(G, D, args=args, n_critic=cfg.n_critic, objective=objective)

    def phases(self) -> list[Phase]:
        pretrain = self.args.pretrain_steps
        return [Phase("G_pre", self.pretrain_step, trains="G", repeats=lambda step: int(step <= pretrain)),
                Phase("D", self.d_step, trains="D", repeats=lambda step: self.n_critic * int(step > pretrain)),
                Phase("G", self.g_step, trains="G", repeats=lambda step: int(step > pretrain))]

    def pretrain_step(self, batch: Batch, step: int) -> LossTerms:
        """BPR on G: each real row against an item its user has no row with."""
        users, positives = batch.x[:, 0], batch.x[:, 1]
        negatives = self.negatives(users)
        return {"bpr": bpr(positive=self.G.pair_scores(users, positives), negative=self.G.pair_scores(users, negatives))}

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        users = batch.x[:, 0]
        with torch.no_grad():
            probs = self.G.probs(users, self.args.d_temperature)  # (B, I)
        fake = torch.stack([users, inverse_cdf(probs, noise.rand(len(users), device=users.device))], dim=1)  # (B, 2)
        judged = self.objective.d_loss(self.D, real=batch.x, fake=fake, step=step)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        terms = dict(judged.terms)
        if self.args.d_l2:
            rows = torch.cat([batch.x, fake])  # (2B, 2): each row's user, item and bias, as their batches count them
            terms["l2"] = self.args.d_l2 * self.D.l2(rows[:, 0], rows[:, 1])
        return terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        users, positives = batch.x[:, 0], batch.x[:, 1]
        items, weight = self.draw(users, positives)  # (B, S) each
        with torch.no_grad():
            pairs = torch.stack([users[:, None].expand_as(items), items], dim=2).reshape(-1, 2)  # (B * S, 2)
            reward = self.reward(self.D(pairs).logit.reshape(items.shape))  # (B, S)
        terms = {"reinforce": reinforce(log_probs=self.G.log_probs(users, items), rewards=reward * weight)}
        if self.args.g_l2:
            terms["l2"] = self.args.g_l2 * self.G.l2(users, items.reshape(-1))
        self.record(reward=reward.mean(), positive_share=(items == positives[:, None]).float().mean())
        return terms

    def draw(self, users: Tensor, positives: Tensor) -> tuple[Tensor, Tensor]:
        """``g_samples`` items per row from the proposal (1 - mix) p_G + mix [positive], and their importance
        weights p_G / proposal (B, S), both without gradient."""
        samples, mix = self.args.g_samples, self.args.mix
        with torch.no_grad():
            probs = self.G.probs(users)  # (B, I)
            u = noise.rand(len(users), samples, 2, device=users.device)  # (B, S, 2): the component, the item
            drawn = inverse_cdf(probs, u[..., 1])  # (B, S)
            items = torch.where(u[..., 0] < mix, positives[:, None].expand_as(drawn), drawn)
            p = probs.gather(1, items)
            proposal = (1 - mix) * p + mix * (items == positives[:, None]).to(p.dtype)
        return items, p / proposal

    def reward(self, score: Tensor) -> Tensor:
        """D's score of a drawn (user, item) as G's reward."""
        return 2 * (torch.sigmoid(score) - 0.5) if self.args.reward == "sigmoid" else F.softplus(score)


__all__ = ["IRGAN", "IRGANArgs"]
