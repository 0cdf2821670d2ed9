"""MaskGAN (Fedus, Goodfellow & Dai 2018): G fills in the blanks of real sentences, D judges each token, and G learns
by REINFORCE with a critic's baseline.

Each batch masks one contiguous block per sentence (``mask_rate`` of its tokens before <eos>, at a random place;
``contiguous_mask``). G (``MaskActor``) fills the block; D (``MaskDiscriminator``) gives a logit per token; the
rewards are r_t = log D(filled_t) on the blanks, the returns R_t = sum_{s >= t} gamma^(s - t) r_s, the advantage
A_t = R_t - V_t with V_t the critic's (``MaskCritic``), clipped to +-``advantage_clip`` as in MaskGAN's code.

The schedule, as generator steps of the run (each a pure function of the step, so resumes are exact):
1. ``mle_share`` of train.steps: G learns to fill in by maximum likelihood (teacher forcing on the blanks; G_mle);
2. ``d_pretrain_share``: D and the critic alone, real sentences against G's fills (MaskGAN's dis_pretrain_steps);
3. the rest: each step ``d_steps`` updates of D and of the critic (MaskGAN trains the critic with D), then one
   REINFORCE update of G.
Unconditional samples (``gankit sample``, the text metrics, nll_test) fill a sentence that is all blanks. The paper's
blocks never cover <eos> (its PTB and IMDB windows have no sentence ends), so G trained on them alone never learns
where a sentence ends and its unconditional sentences run to the last token; ``full_share`` of the sentences (not in
the paper) are therefore blanked whole, <eos> and padding too, which is exactly the unconditional task.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.data.text import Vocabulary, tokenize
from gankit.errors import ConfigError
from gankit.losses.policy import reinforce
from gankit.losses.sequence import critic_advantages, masked_mse, masked_token_bce, token_nll
from gankit.nets.maskgan import MaskActor, MaskCritic, MaskDiscriminator, contiguous_mask
from gankit.objective import Objective
from gankit.recipes.base import LossTerms, Phase, eval_mode, register_recipe, single_process
from gankit.recipes.seqgan import AdversarialText
from gankit.recipes.text import share_steps, typed_args
from gankit.types import Batch

BLANK = "___"  # a blank in ``MaskGAN.fill_text``'s sentences: one token to fill


@dataclass(frozen=True)
class MaskGANArgs:
    """recipe_args of maskgan."""

    mle_share: float = 0.5  # share of train.steps pre-training G to fill in by maximum likelihood
    d_pretrain_share: float = 0.05  # then D and the critic alone
    mask_rate: float = 0.5  # share of each sentence's tokens (before <eos>) in its one masked block (the paper: 0.5)
    full_share: float = 0.1  # share of sentences blanked whole, <eos> and padding too: unconditional generation
    gamma: float = 0.89  # discount of the rewards (MaskGAN's released command: rl_discount_rate=0.89072)
    d_steps: int = 2  # D (and critic) updates per G update (MaskGAN's released command: dis_train_iterations=2)
    critic: bool = True  # the critic's V_t as REINFORCE's baseline; false: the plain returns, no critic
    advantage_clip: float | None = 5.0  # advantages clipped to +-this (MaskGAN's code: 5); null: not clipped

    def __post_init__(self) -> None:
        if not isinstance(self.mask_rate, (int, float)) or not 0 < self.mask_rate <= 1:
            raise ConfigError(f"recipe_args.mask_rate={self.mask_rate!r}: the share of each sentence masked, in "
                              "(0, 1] (the paper: 0.5; 1 masks whole sentences)")
        if not isinstance(self.full_share, (int, float)) or not 0 <= self.full_share <= 1:
            raise ConfigError(f"recipe_args.full_share={self.full_share!r}: a share of the sentences in [0, 1] (0: the "
                              "paper's blocks only)")
        if not isinstance(self.gamma, (int, float)) or not 0 <= self.gamma <= 1:
            raise ConfigError(f"recipe_args.gamma={self.gamma!r}: a discount in [0, 1] (MaskGAN: 0.89)")
        if not isinstance(self.d_steps, int) or self.d_steps < 0:
            raise ConfigError(f"recipe_args.d_steps={self.d_steps!r}: an int >= 0")
        if not isinstance(self.critic, bool):
            raise ConfigError(f"recipe_args.critic={self.critic!r}: true or false")
        if self.advantage_clip is not None and not self.advantage_clip > 0:
            raise ConfigError(f"recipe_args.advantage_clip={self.advantage_clip!r}: > 0, or null for no clipping")


@register_recipe("maskgan")
class MaskGAN(AdversarialText):
    """Fedus et al. 2018: an actor-critic seq2seq G fills blanks, rewarded by a per-token D's log D(x_t)."""

    paper = "Fedus, Goodfellow & Dai 2018, MaskGAN: Better Text Generation via Filling in the ______"

    def __init__(self, G: MaskActor, D: MaskDiscriminator, critic: MaskCritic | None, vocab: Vocabulary,
                 objective: Objective, args: MaskGANArgs, steps: int) -> None:
        super().__init__(G, D, vocab, objective, mle_steps=share_steps(args.mle_share, steps, "mle_share"),
                         d_pretrain_steps=share_steps(args.d_pretrain_share, steps, "d_pretrain_share"),
                         d_steps=args.d_steps)
        self.critic, self.args = critic, args

    @classmethod
    def from_config(cls, cfg, data) -> "MaskGAN":  # noqa: ANN001
        args = typed_args(MaskGANArgs, cfg)
        if cfg.loss != "nonsat":
            raise ConfigError(f"loss={cfg.loss!r}: maskgan's D is trained by per-token binary cross-entropy on the "
                              "blanks and G's rewards are log D, so it takes only loss=nonsat (the default)")
        if data.tokens is None or len(data.tokens) < 2:
            raise ConfigError(f"data set {data.name!r} has no vocabulary; maskgan needs a text data set")
        single_process("maskgan")
        vocab = Vocabulary(data.tokens)
        G = MaskActor(len(vocab), data.sample_shape[0], embed_dim=cfg.model.embed_dim, hidden=cfg.model.g_width,
                      eos=vocab.eos, pad=vocab.pad)
        width = {"embed_dim": cfg.model.embed_dim, "hidden": cfg.model.d_width}
        critic = MaskCritic(len(vocab), **width) if args.critic else None
        return cls(G, MaskDiscriminator(len(vocab), **width), critic, vocab, cls.objective_for(cfg), args,
                   cfg.train.steps)

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, **({"critic": self.critic} if self.critic is not None else {})}

    def groups(self) -> dict[str, list[str]]:
        return {"G_mle": ["G"], "G": ["G"], "D": ["D"], **({"critic": ["critic"]} if self.critic is not None else {})}

    def phases(self) -> list[Phase]:
        critic = [Phase("critic", self.critic_step, trains="critic", repeats=self.d_repeats)] if self.critic else []
        return [Phase("G_mle", self.mle_step, trains="G_mle", repeats=lambda s: int(s <= self.mle_steps)),
                Phase("D", self.d_step, trains="D", repeats=self.d_repeats), *critic,
                Phase("G", self.g_step, trains="G", repeats=lambda s: int(s >= self.adv_start))]

    def blocks(self, tokens: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """(B, T) bool: one contiguous block per sentence (the training stream's noise unless ``generator``)."""
        u = noise.rand(len(tokens), device=tokens.device, generator=generator)
        return contiguous_mask(tokens, rate=self.args.mask_rate, eos=self.G.eos, u=u)

    def masks(self, tokens: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The training blanks (B, T) bool: ``blocks``, and a ``full_share`` of the sentences blank from end to end."""
        whole = noise.rand(len(tokens), device=tokens.device, generator=generator) < self.args.full_share  # (B,)
        return self.blocks(tokens, generator) | whole[:, None]

    def mle_step(self, batch: Batch, step: int) -> LossTerms:
        """Teacher forcing on the blanks: the mean negative log-likelihood per masked token (MaskGAN's pre-training)."""
        masked = self.masks(batch.x)
        chosen = masked.float() * self.G.mask(batch.x)  # a whole blank sentence: up to its <eos>
        return {"nll": token_nll(log_probs=self.G.log_probs(batch.x, masked), mask=chosen)}

    @torch.no_grad()
    def filled(self, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Blanks in real sentences and G's fills: (masked (B, T) bool, filled ids (B, T), the blanks G chose: the
        masked tokens up to the first <eos> it wrote, (B, T) float)."""
        masked = self.masks(tokens)
        filled = self.G.fill(tokens, masked, noise.rand(*tokens.shape, device=tokens.device))
        return masked, filled, masked.float() * self.G.mask(filled)

    @torch.no_grad()
    def rewards(self, filled: Tensor, masked: Tensor) -> Tensor:
        """(B, T) r_t = log D(filled_t), D's log-probability that token t is real (MaskGAN's reward)."""
        with eval_mode(self.D) as D:
            return F.logsigmoid(D(filled, masked).logit.float())

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        masked, filled, _ = self.filled(batch.x)
        real, fake = self.D(batch.x, masked).logit, self.D(filled, masked).logit  # (B, T) each
        self.record_d(d_real=blank_mean(real, masked), d_fake=blank_mean(fake, masked))
        return {"adv": masked_token_bce(real=real, fake=fake, mask=masked)}

    def critic_step(self, batch: Batch, step: int) -> LossTerms:
        """The critic's V_t regressed on the discounted returns of G's fills (MaskGAN's critic loss)."""
        masked, filled, chosen = self.filled(batch.x)
        returns, _ = critic_advantages(rewards=self.rewards(filled, masked), values=None, mask=chosen,
                                       gamma=self.args.gamma)
        return {"mse": masked_mse(prediction=self.critic(filled, masked), target=returns, mask=chosen)}

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        """REINFORCE on the blanks: -mean log pi(filled_t) A_t over the tokens G chose."""
        masked, filled, chosen = self.filled(batch.x)
        rewards = self.rewards(filled, masked)
        values = None
        if self.critic is not None:
            with torch.no_grad(), eval_mode(self.critic) as critic:
                values = critic(filled, masked)
        _, advantages = critic_advantages(rewards=rewards, values=values, mask=chosen, gamma=self.args.gamma,
                                          clip=self.args.advantage_clip)
        count = chosen.sum().clamp(min=1)
        self.record(reward=(rewards * chosen).sum() / count, advantage=(advantages.abs() * chosen).sum() / count)
        return {"pg": reinforce(log_probs=self.G.log_probs(filled, masked), rewards=advantages, mask=chosen)}

    @torch.no_grad()
    def fill_scores(self, tokens: Tensor, *, seed: int = 0, batch_size: int = 500) -> dict[str, float]:
        """The sampling G on (N, T) real sentences with one block each drawn from ``seed``: fill_nll, its teacher-forced
        negative log-likelihood per blank token, and fill_acc, the share of blank tokens its sampled fill gets right."""
        G, nll, right, count = self.sampler(), 0.0, 0.0, 0.0
        generator = torch.Generator(device=G.out.weight.device).manual_seed(seed)
        for start in range(0, len(tokens), batch_size):
            part = tokens[start:start + batch_size].to(G.out.weight.device)
            masked = self.blocks(part, generator)
            with eval_mode(G):
                filled = G.fill(part, masked, noise.rand(*part.shape, device=part.device, generator=generator))
                nll -= float(G.log_probs(part, masked).double().sum())
            right += float(((filled == part) & masked).sum())
            count += float(masked.sum())
        return {"fill_nll": nll / max(count, 1.0), "fill_acc": right / max(count, 1.0)}

    @torch.no_grad()
    def fill_text(self, sentences: list[str], *, seed: int = 0, temperature: float | None = None) -> list[str]:
        """Each ``___`` of each sentence filled with one token by the sampling G (other words kept, unknown: <unk>)."""
        G = self.sampler()
        words = [tokenize(s) for s in sentences]
        long = [i for i, w in enumerate(words) if len(w) > G.length - 1]
        if long:
            raise ConfigError(f"sentence {long[0]} has {len(words[long[0]])} tokens; this model writes at most "
                              f"{G.length - 1} before <eos>")
        tokens = self.vocab.encode(words, G.length - 1).to(G.out.weight.device)  # a blank's id: <unk>, then masked
        masked = torch.zeros_like(tokens, dtype=torch.bool)
        for row, s in enumerate(words):
            masked[row, [i for i, w in enumerate(s) if w == BLANK]] = True
        generator = torch.Generator(device=tokens.device).manual_seed(seed)
        with eval_mode(G):
            filled = G.fill(tokens, masked, noise.rand(*tokens.shape, device=tokens.device, generator=generator),
                            temperature=temperature)
        return self.describe(filled)


def blank_mean(logit: Tensor, masked: Tensor) -> Tensor:
    """(B, T) per-token logits -> (B,) each sentence's mean over its blanks (D's score of the sentence's fill)."""
    weight = masked.float()
    return (logit.detach().float() * weight).sum(1) / weight.sum(1).clamp(min=1)


__all__ = ["MaskGAN", "MaskGANArgs", "blank_mean"]
