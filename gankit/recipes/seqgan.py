"""SeqGAN (Yu et al. 2017): G is a policy that writes tokens, D a CNN that tells real sentences from G's, and G
learns from D's verdicts on Monte Carlo rollouts of each prefix (REINFORCE).

The schedule, as generator steps of the run (each a pure function of the step, so resumes are exact):
1. ``mle_share`` of train.steps: G pre-trained by maximum likelihood (phase G_mle);
2. ``d_pretrain_share``: D alone, real sentences against G's samples (phase D);
3. the rest: each step one policy-gradient update of G (phase G) and ``d_steps`` updates of D. Before the first
   one the rollout policy becomes a copy of G; after each it follows G with a delay (SeqGAN's code: new = 0.8 old
   + 0.2 G for the LSTM and the output layer, the embedding copied).
The paper runs 5 x 3 epochs of D per G update; ``d_steps`` counts mini-batch updates instead.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.data.text import Vocabulary
from gankit.errors import ConfigError
from gankit.losses.policy import reinforce
from gankit.nets.text import SEQGAN_FILTERS, TextDiscriminator, TextGenerator, filters
from gankit.objective import Objective
from gankit.recipes.base import LossTerms, Phase, eval_mode, register_recipe
from gankit.recipes.text import TextRecipe, share_steps, typed_args
from gankit.types import Batch


@dataclass(frozen=True)
class SeqGANArgs:
    """recipe_args of seqgan."""

    mle_share: float = 0.5  # share of train.steps pre-training G by maximum likelihood
    d_pretrain_share: float = 0.1  # then D alone on real sentences against G's
    rollouts: int = 16  # Monte Carlo completions of each prefix (the paper's N)
    rollout_delay: float = 0.8  # the rollout policy's weights: delay * its own + (1 - delay) * G's, after each G update
    d_steps: int = 5  # D updates per G update once adversarial
    baseline: bool = True  # subtract the batch's mean reward at each position (REINFORCE with a baseline)

    def __post_init__(self) -> None:
        if not isinstance(self.rollouts, int) or self.rollouts < 1:
            raise ConfigError(f"recipe_args.rollouts={self.rollouts!r}: an int >= 1 (the paper: 16)")
        if not 0 <= self.rollout_delay <= 1:
            raise ConfigError(f"recipe_args.rollout_delay={self.rollout_delay!r}: in [0, 1] (the paper's code: 0.8)")
        if not isinstance(self.d_steps, int) or self.d_steps < 0:
            raise ConfigError(f"recipe_args.d_steps={self.d_steps!r}: an int >= 0")


class AdversarialText(TextRecipe):
    """Shared by SeqGAN and RelGAN: G and D, the MLE warm-up, then D and G in turns (two optimisers over G: G_mle
    and G, so pre-training and adversarial learning rates differ, as in both papers)."""

    def __init__(self, G: TextGenerator, D: nn.Module, vocab: Vocabulary, objective: Objective, *, mle_steps: int,
                 d_pretrain_steps: int, d_steps: int) -> None:
        super().__init__(G, vocab)
        self.D = D
        self.use_objective(objective)
        self.mle_steps, self.adv_start, self.d_steps = mle_steps, mle_steps + d_pretrain_steps + 1, d_steps

    def groups(self) -> dict[str, list[str]]:
        return {"G_mle": ["G"], "G": ["G"], "D": ["D"]}

    def phases(self) -> list[Phase]:
        return [Phase("G_mle", self.mle_step, trains="G_mle", repeats=lambda s: int(s <= self.mle_steps)),
                Phase("D", self.d_step, trains="D", repeats=self.d_repeats),
                Phase("G", self.g_step, trains="G", repeats=lambda s: int(s >= self.adv_start), after=self.after_g)]

    def d_repeats(self, step: int) -> int:
        """None while G pre-trains, one a step while D pre-trains, ``d_steps`` once adversarial."""
        return 0 if step <= self.mle_steps else 1 if step < self.adv_start else self.d_steps

    def representative_step(self) -> int:
        """An adversarial step, the dearest kind (train.minutes then never overruns; the cheap pre-training steps
        leave time to spare)."""
        return self.adv_start

    def stage(self, step: int) -> str | None:
        return "mle" if step <= self.mle_steps else "d-pretrain" if step < self.adv_start else "adversarial"

    def after_g(self) -> None:
        """After each adversarial G update (default: nothing)."""

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        raise NotImplementedError


@register_recipe("seqgan")
class SeqGAN(AdversarialText):
    """Yu et al. 2017: REINFORCE on D's probability of real for rollouts of each prefix."""

    paper = "Yu et al. 2017, SeqGAN: Sequence Generative Adversarial Nets with Policy Gradient"

    def __init__(self, G: TextGenerator, D: nn.Module, vocab: Vocabulary, objective: Objective, args: SeqGANArgs,
                 steps: int) -> None:
        super().__init__(G, D, vocab, objective, mle_steps=share_steps(args.mle_share, steps, "mle_share"),
                         d_pretrain_steps=share_steps(args.d_pretrain_share, steps, "d_pretrain_share"),
                         d_steps=args.d_steps)
        self.args = args
        self.rollout = copy.deepcopy(G).requires_grad_(False)  # a delayed copy of G; not trained, checkpointed

    @classmethod
    def from_config(cls, cfg, data) -> "SeqGAN":  # noqa: ANN001
        args = typed_args(SeqGANArgs, cfg)
        G = cls.generator(cfg, data)
        D = TextDiscriminator(G.vocab, filters(SEQGAN_FILTERS, G.length, cfg.model.d_width), embed_dim=cfg.model.embed_dim)
        return cls(G, D, Vocabulary(data.tokens), cls.objective_for(cfg), args, cfg.train.steps)

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        with torch.no_grad():
            fake = self.G(self.sample_latent(len(batch)).z)
        judged = self.objective.d_loss(self.D, real=batch.x, fake=fake, step=step)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return judged.terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        if step == self.adv_start:  # the rollout policy starts as the pre-trained G (SeqGAN builds it here)
            self.rollout.load_state_dict(self.G.state_dict())
        with torch.no_grad():
            tokens = self.G(self.sample_latent(len(batch)).z)  # (B, T)
            rewards = self.rewards(tokens)
        mask = self.G.mask(tokens)
        self.record(reward=(rewards * mask).sum() / mask.sum())
        baseline = rewards.mean(dim=0, keepdim=True) if self.args.baseline else None  # the batch's mean at each t
        return {"pg": reinforce(log_probs=self.G.log_probs(tokens), rewards=rewards, baseline=baseline, mask=mask)}

    @torch.no_grad()
    def rewards(self, tokens: Tensor) -> Tensor:
        """(B, T) Q-values: for t < T the mean of D's probability of real over ``rollouts`` completions of
        tokens[:, :t+1] by the rollout policy; for t = T, D's probability of the sentence itself."""
        B, T = tokens.shape
        N = self.args.rollouts
        out = torch.empty(B, T, device=tokens.device)
        with eval_mode(self.D) as D:
            states = self.rollout.states(tokens)
            for t in range(1, T):  # prefix tokens[:, :t] kept, the rest completed
                h, c = (s.repeat_interleave(N, dim=1) for s in states[t - 1])
                prefix = tokens[:, :t].repeat_interleave(N, dim=0)  # (B*N, t)
                done = (prefix == self.G.eos).any(dim=1) if self.G.eos is not None else None  # finished: pads follow
                u = noise.rand(B * N, T - t, device=tokens.device)
                tail = self.rollout.continue_from((h, c), prefix[:, -1], u, done=done)
                judged = torch.sigmoid(D(torch.cat([prefix, tail], dim=1)).logit.float())
                out[:, t - 1] = judged.view(B, N).mean(dim=1)
            out[:, T - 1] = torch.sigmoid(D(tokens).logit.float())
        return out

    @torch.no_grad()
    def after_g(self) -> None:
        """The rollout policy follows G with a delay; its embedding is G's (SeqGAN's rollout.update_params)."""
        delay = self.args.rollout_delay
        for (name, mine), theirs in zip(self.rollout.named_parameters(), self.G.parameters()):
            mine.copy_(theirs) if name.startswith("embed") else mine.lerp_(theirs, 1 - delay)


__all__ = ["SeqGAN", "SeqGANArgs", "AdversarialText"]
