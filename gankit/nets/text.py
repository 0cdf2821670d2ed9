"""Networks for token sequences: an LSTM generator (SeqGAN, RelGAN, MLE; also the oracle) and a CNN discriminator
with a highway layer (SeqGAN; RelGAN's multiple representations).

Token sequences are (B, T) int64 ids. A generator writes exactly T tokens; once it writes <eos> every later token
is <pad> (with probability one, so a finished sentence costs no likelihood), as the real data is padded.
Sampling is a pure function of uniform noise u (B, T): token t is the inverse CDF of the softmax at u[:, t], so
the same latent gives the same sentence (fixed sample grids, seeded ``gankit sample``) and the distribution is
exactly the model's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.nets.common import inverse_cdf
from gankit.types import DOut

State = tuple[Tensor, Tensor]  # an LSTM's (h, c), each (layers, B, H)


class TextGenerator(nn.Module):
    """An LSTM language model over ``vocab`` tokens that writes sequences of ``length`` tokens (Yu et al. 2017)."""

    def __init__(self, vocab: int, length: int, *, embed_dim: int = 32, hidden: int = 32, layers: int = 1,
                 eos: int | None = None, pad: int | None = None) -> None:
        super().__init__()
        self.vocab, self.length, self.eos, self.pad = vocab, length, eos, pad
        self.embed = nn.Embedding(vocab + 1, embed_dim)  # row ``vocab``: the start token
        self.lstm = nn.LSTM(embed_dim, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def start(self, n: int) -> Tensor:
        return torch.full((n,), self.vocab, dtype=torch.long, device=self.out.weight.device)

    def logits(self, tokens: Tensor) -> Tensor:
        """Teacher forcing: (B, T) ids -> (B, T, V) logits of each token given the ones before it."""
        inputs = torch.cat([self.start(len(tokens))[:, None], tokens[:, :-1]], dim=1)  # (B, T)
        hidden, _ = self.lstm(self.embed(inputs))
        return self.out(hidden)

    def mask(self, tokens: Tensor) -> Tensor:
        """(B, T) 1.0 at the tokens the model chooses: up to and including the first <eos> (all without one)."""
        if self.eos is None:
            return torch.ones(tokens.shape, device=tokens.device)
        ended = (tokens == self.eos).long().cumsum(1) - (tokens == self.eos).long()  # eos seen strictly before t
        return (ended == 0).float()

    def log_probs(self, tokens: Tensor) -> Tensor:
        """(B, T) log-probability of each token given the ones before it; 0 after <eos> (those are certain)."""
        chosen = F.log_softmax(self.logits(tokens).float(), dim=-1).gather(2, tokens[:, :, None])[:, :, 0]
        return chosen * self.mask(tokens)

    def step(self, token: Tensor, state: State | None) -> tuple[Tensor, State]:
        """One token (B,) in -> the next token's logits (B, V) and the new state."""
        hidden, state = self.lstm(self.embed(token)[:, None], state)
        return self.out(hidden[:, 0]), state

    def forward(self, z: Tensor, y: Tensor | None = None, temperature: float | None = None) -> Tensor:
        """Uniform noise z (B, T) -> sampled ids (B, T); ``temperature`` divides the logits (default 1)."""
        return self.continue_from(None, self.start(len(z)), z, temperature=temperature)

    def continue_from(self, state: State | None, token: Tensor, noise: Tensor, *, temperature: float | None = None,
                      done: Tensor | None = None) -> Tensor:
        """Sample noise.shape[1] tokens after ``token`` (B,) from ``state``; ``done`` (B,) marks finished rows."""
        done = torch.zeros(len(token), dtype=torch.bool, device=token.device) if done is None else done
        out = []
        for t in range(noise.shape[1]):
            logits, state = self.step(token, state)
            token = pick(logits, noise[:, t], temperature)
            if self.eos is not None:
                token = torch.where(done, torch.full_like(token, self.pad), token)
                done = done | (token == self.eos)
            out.append(token)
        return torch.stack(out, dim=1)

    def relaxed(self, gumbel: Tensor, beta: float) -> Tensor:
        """RelGAN's Gumbel-softmax relaxation (Nie et al. 2019): Gumbel noise (B, T, V) -> soft one-hot rows (B, T, V),
        softmax(beta (o_t + g_t)), differentiable in G; the next input is the hard token argmax(o_t + g_t)."""
        token, state, outs = self.start(len(gumbel)), None, []
        done = torch.zeros(len(gumbel), dtype=torch.bool, device=gumbel.device)
        for t in range(gumbel.shape[1]):
            logits, state = self.step(token, state)
            noisy = logits.float() + gumbel[:, t]
            token, soft = noisy.argmax(dim=-1), F.softmax(beta * noisy, dim=-1)
            if self.eos is not None:  # finished rows: exactly the <pad> one-hot, as the real data
                soft = torch.where(done[:, None], F.one_hot(torch.full_like(token, self.pad), self.vocab).float(), soft)
                token = torch.where(done, torch.full_like(token, self.pad), token)
                done = done | (token == self.eos)
            outs.append(soft)
        return torch.stack(outs, dim=1)

    def states(self, tokens: Tensor) -> list[State]:
        """states[k]: the state after the start token and tokens[:, :k], for k = 0 .. T-2 (the rollouts' prefixes:
        continuing from states[k] with input tokens[:, k] samples tokens k+1 ...)."""
        _, state = self.step(self.start(len(tokens)), None)
        out = [state]
        for k in range(tokens.shape[1] - 2):
            _, state = self.step(tokens[:, k], state)
            out.append(state)
        return out


def pick(logits: Tensor, u: Tensor, temperature: float | None = None) -> Tensor:
    """Inverse-CDF sampling: the token whose cumulative softmax probability first exceeds u (B,) in [0, 1)."""
    return inverse_cdf(F.softmax(logits.float() / (temperature or 1.0), dim=-1), u.float())


class Highway(nn.Module):
    """Srivastava et al. 2015: y = g * relu(W x) + (1 - g) * x, g = sigmoid(W_g x)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.transform, self.gate = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        gate = torch.sigmoid(self.gate(x))
        return gate * F.relu(self.transform(x)) + (1 - gate) * x


# SeqGAN's discriminator: filter widths and counts (the counts are per 100 of model.d_width)
SEQGAN_FILTERS = ((1, 100), (2, 200), (3, 200), (4, 200), (5, 200), (6, 100), (7, 100), (8, 100), (9, 100),
                  (10, 100), (15, 160), (20, 160))
RELGAN_FILTERS = ((2, 300), (3, 300), (4, 300), (5, 300))  # RelGAN's discriminator


def filters(table: tuple[tuple[int, int], ...], length: int, width: int) -> list[tuple[int, int]]:
    """(filter width, count) pairs of ``table`` that fit ``length`` tokens, counts scaled by width / 100."""
    return [(w, max(1, round(count * width / 100))) for w, count in table if w <= length]


class TextDiscriminator(nn.Module):
    """A CNN over token embeddings: filters of several widths, max-pooled over time, a highway layer, dropout and a
    logit (Kim 2014; Yu et al. 2017). Takes ids (B, T) or one-hot-like rows (B, T, V) (RelGAN's relaxed samples).

    ``representations`` > 1: RelGAN's multiple embedded representations (Nie et al. 2019), each its own logit:
    the logit is (B, S), which the adversarial losses average like a patch discriminator's map.
    """

    def __init__(self, vocab: int, pairs: list[tuple[int, int]], *, embed_dim: int = 64, representations: int = 1,
                 dropout: float = 0.25) -> None:
        super().__init__()
        self.vocab, self.representations, self.embed_dim = vocab, representations, embed_dim
        self.embed = nn.Linear(vocab, embed_dim * representations, bias=False)  # one-hot rows times the embeddings
        self.convs = nn.ModuleList(nn.Conv2d(1, count, (w, embed_dim)) for w, count in pairs)
        features = sum(count for _, count in pairs)
        self.highway, self.dropout = Highway(features), nn.Dropout(dropout)
        self.head = nn.Linear(features, 1)
        self.feature_dim = features

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        if x.dtype == torch.long:  # ids: the embedding rows themselves (the same as one-hot times the matrix)
            emb = F.embedding(x, self.embed.weight.t())  # (B, T, S*E)
        else:
            emb = self.embed(x)  # (B, T, V) -> (B, T, S*E)
        B, T = emb.shape[:2]
        S, E = self.representations, self.embed_dim
        emb = emb.reshape(B, T, S, E).permute(0, 2, 1, 3).reshape(B * S, 1, T, E)
        pooled = [F.relu(conv(emb))[..., 0].amax(dim=2) for conv in self.convs]  # each (B*S, count)
        h = self.dropout(self.highway(torch.cat(pooled, dim=1)))  # (B*S, F)
        logit = self.head(h)[:, 0].reshape(B, S)
        features = h.reshape(B, S, -1).mean(1)
        return DOut(logit=logit[:, 0] if S == 1 else logit, features=features)


__all__ = ["TextGenerator", "TextDiscriminator", "Highway", "pick", "filters", "SEQGAN_FILTERS", "RELGAN_FILTERS"]
