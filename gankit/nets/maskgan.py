"""MaskGAN's networks (Fedus, Goodfellow & Dai 2018): three seq2seq LSTMs over a sentence with blanks.

Each reads the masked sentence (the context: blanks replaced by a blank embedding, an extra embedding row) with an
encoder LSTM; a decoder LSTM, started from the encoder's final state (which has seen the whole context, the words
after a blank too), reads a token sequence and at each position t also the encoder's output at t (which tells it
whether t is a blank and what surrounds it). They differ in what the decoder reads and what it writes:

- ``MaskActor`` (G): reads the previous token (the real one where it is not masked, its own sample where it is) and
  writes the next token's logits; it fills the blanks and copies the rest.
- ``MaskDiscriminator``: reads the filled sentence up to and including t and writes a logit per token: is token t
  real, given the context and the tokens before it (MaskGAN's per-token D).
- ``MaskCritic``: reads the filled sentence before t and writes V_t, the expected discounted return from t on.
  MaskGAN's code runs D's decoder cell under a head of its own, without the encoder; here it is its own small
  network that also reads the context, so V_t knows how many blanks remain ahead.

MaskGAN's Luong attention, variational dropout and two-layer cells are not built (one layer, the encoder's output at
t in place of attention). Sampling is TextGenerator's: the inverse CDF of uniform noise (``pick``), so a latent fixes
a fill; once <eos> is written (or copied) the later blanks are <pad>.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.nets.text import State, TextGenerator, pick
from gankit.types import DOut


class MaskedSeq2Seq(nn.Module):
    """The shared block: an encoder LSTM over the context and a decoder LSTM reading (token, encoder output at t)."""

    def __init__(self, vocab: int, out_dim: int, *, embed_dim: int, hidden: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.embed = nn.Embedding(vocab + 2, embed_dim)  # row vocab: the blank; row vocab + 1: the start token
        self.encoder = nn.LSTM(embed_dim, hidden, batch_first=True)
        self.decoder = nn.LSTM(embed_dim + hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, out_dim)

    @property
    def blank(self) -> int:
        return self.vocab

    def start(self, n: int) -> Tensor:
        return torch.full((n,), self.vocab + 1, dtype=torch.long, device=self.out.weight.device)

    def encode(self, tokens: Tensor, masked: Tensor) -> tuple[Tensor, State]:
        """(B, T) ids and (B, T) bool blanks -> the encoder's outputs (B, T, H) and final state (the decoder's)."""
        if tokens.shape != masked.shape:
            raise ValueError(f"tokens {tuple(tokens.shape)} and masked {tuple(masked.shape)} differ; both are (B, T)")
        context = torch.where(masked.bool(), torch.full_like(tokens, self.blank), tokens)
        return self.encoder(self.embed(context))

    def decode(self, inputs: Tensor, encoded: Tensor, state: State) -> Tensor:
        """Teacher forcing: the decoder over (B, T) input ids beside the encoder's outputs -> its states (B, T, H)."""
        hidden, _ = self.decoder(torch.cat([self.embed(inputs), encoded], dim=-1), state)
        return hidden

    def shifted(self, tokens: Tensor) -> Tensor:
        """The start token, then tokens[:, :-1]: what the decoder reads when it predicts or values position t."""
        return torch.cat([self.start(len(tokens))[:, None], tokens[:, :-1]], dim=1)


class MaskActor(MaskedSeq2Seq):
    """MaskGAN's generator: fills the blanks of a sentence token by token, copying the tokens that are not masked."""

    def __init__(self, vocab: int, length: int, *, embed_dim: int = 32, hidden: int = 32, eos: int | None = None,
                 pad: int | None = None) -> None:
        super().__init__(vocab, vocab, embed_dim=embed_dim, hidden=hidden)
        self.length, self.eos, self.pad = length, eos, pad

    def forward(self, z: Tensor, y: Tensor | None = None, temperature: float | None = None) -> Tensor:
        """Unconditional generation: uniform noise z (B, T) fills a sentence that is all blanks -> ids (B, T)."""
        blanks = torch.full(z.shape, self.pad if self.pad is not None else 0, dtype=torch.long, device=z.device)
        return self.fill(blanks, torch.ones(z.shape, dtype=torch.bool, device=z.device), z, temperature=temperature)

    def fill(self, tokens: Tensor, masked: Tensor, noise: Tensor, temperature: float | None = None) -> Tensor:
        """(B, T) ids with (B, T) bool blanks -> ids with each blank sampled at noise[:, t] and the rest copied.

        After the first <eos> of the sentence being written (sampled or copied) the later blanks are <pad>."""
        masked = masked.bool()
        encoded, state = self.encode(tokens, masked)  # (B, T, H)
        token = self.start(len(tokens))
        done = torch.zeros(len(tokens), dtype=torch.bool, device=tokens.device)
        out = []
        for t in range(tokens.shape[1]):
            hidden, state = self.decoder(torch.cat([self.embed(token), encoded[:, t]], dim=-1)[:, None], state)
            sampled = pick(self.out(hidden[:, 0]), noise[:, t], temperature)
            if self.eos is not None:
                sampled = torch.where(done, torch.full_like(sampled, self.pad), sampled)
            token = torch.where(masked[:, t], sampled, tokens[:, t])
            if self.eos is not None:
                done = done | (token == self.eos)
            out.append(token)
        return torch.stack(out, dim=1)

    def logits(self, tokens: Tensor, masked: Tensor | None = None) -> Tensor:
        """Teacher forcing: (B, T, V) logits of each token given the context and the tokens before it."""
        masked = torch.ones_like(tokens, dtype=torch.bool) if masked is None else masked.bool()
        encoded, state = self.encode(tokens, masked)
        return self.out(self.decode(self.shifted(tokens), encoded, state))

    mask = TextGenerator.mask  # (B, T) 1.0 up to and including the first <eos>: the tokens a writer chooses

    def log_probs(self, tokens: Tensor, masked: Tensor | None = None) -> Tensor:
        """(B, T) log-probability of each blank's token (masked None: every token a blank, the likelihood of the
        sentence); 0 where a token is copied or follows <eos> (those are certain)."""
        masked = torch.ones_like(tokens, dtype=torch.bool) if masked is None else masked.bool()
        chosen = F.log_softmax(self.logits(tokens, masked).float(), dim=-1).gather(2, tokens[:, :, None])[:, :, 0]
        return chosen * self.mask(tokens) * masked


class MaskDiscriminator(MaskedSeq2Seq):
    """MaskGAN's discriminator: a logit per token, whether token t is real given the context and tokens[:, :t+1]."""

    def __init__(self, vocab: int, *, embed_dim: int = 32, hidden: int = 32) -> None:
        super().__init__(vocab, 1, embed_dim=embed_dim, hidden=hidden)

    def forward(self, tokens: Tensor, masked: Tensor) -> DOut:
        encoded, state = self.encode(tokens, masked)
        hidden = self.decode(tokens, encoded, state)  # (B, T, H)
        return DOut(logit=self.out(hidden)[..., 0], features=hidden.mean(1))  # (B, T) logits, (B, H) features


class MaskCritic(MaskedSeq2Seq):
    """MaskGAN's critic: V_t (B, T), the expected discounted return from t given the context and tokens[:, :t]."""

    def __init__(self, vocab: int, *, embed_dim: int = 32, hidden: int = 32) -> None:
        super().__init__(vocab, 1, embed_dim=embed_dim, hidden=hidden)

    def forward(self, tokens: Tensor, masked: Tensor) -> Tensor:
        encoded, state = self.encode(tokens, masked)
        return self.out(self.decode(self.shifted(tokens), encoded, state))[..., 0]


def contiguous_mask(tokens: Tensor, *, rate: float, eos: int | None, u: Tensor) -> Tensor:
    """MaskGAN's contiguous masking: (B, T) bool, one block of round(rate * n) tokens (at least one) among each
    sentence's n tokens before <eos>, starting at floor(u * (n - block + 1)); u (B,) uniform in [0, 1)."""
    B, T = tokens.shape
    positions = torch.arange(T, device=tokens.device)
    if eos is None:
        n = torch.full((B,), T, device=tokens.device)
    else:
        is_eos = tokens == eos
        n = torch.where(is_eos.any(1), is_eos.float().argmax(1), torch.full((B,), T, device=tokens.device))
    block = torch.minimum(torch.floor(rate * n.float() + 0.5).long().clamp(min=1), n)  # half up, not to even
    start = torch.minimum(torch.floor(u.float() * (n - block + 1).float()).long(), n - block)
    return (positions >= start[:, None]) & (positions < (start + block)[:, None])


__all__ = ["MaskedSeq2Seq", "MaskActor", "MaskDiscriminator", "MaskCritic", "contiguous_mask"]
