"""The synthetic oracle of SeqGAN (Yu et al. 2017, section 5): a randomly initialised LSTM whose samples are the data,
so the true likelihood of generated text is known (``nll_oracle``).

As the paper: vocabulary 5,000, sequences of 20 tokens, embedding and hidden size 32, every parameter drawn from
N(0, 1); 10,000 training sequences (and 10,000 test sequences from another seed). The weights come from a fixed
seed, so every run, metric and test meets the same oracle; the sequences are generated once and cached in
~/.cache/gankit/data (they take a few seconds).
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from gankit.data.dataset import Dataset
from gankit.data.npz import cache_folder
from gankit.nets.text import TextGenerator

VOCAB, LENGTH, EMBED, HIDDEN = 5000, 20, 32, 32
SIZES = {"train": 10_000, "test": 10_000}
WEIGHT_SEED, SAMPLE_SEEDS = 88, {"train": 1, "test": 2}
VERSION = 1  # bump when the oracle changes: the cache file names carry it


@functools.lru_cache(maxsize=1)
def oracle_net() -> TextGenerator:
    """The oracle LSTM on the CPU, in eval mode, every parameter N(0, 1) from a fixed seed."""
    net = TextGenerator(VOCAB, LENGTH, embed_dim=EMBED, hidden=HIDDEN)
    generator = torch.Generator().manual_seed(WEIGHT_SEED)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))
    return net.eval().requires_grad_(False)


def oracle_nll(tokens: torch.Tensor, batch_size: int = 1000) -> float:
    """The oracle's mean negative log-likelihood per token of (N, 20) sequences (SeqGAN's NLL_oracle)."""
    net, total = oracle_net(), 0.0
    with torch.no_grad():
        for start in range(0, len(tokens), batch_size):
            part = tokens[start:start + batch_size].cpu()
            total += float(-net.log_probs(part).double().sum())
    return total / tokens.numel()


def _generate(split: str) -> np.ndarray:
    generator = torch.Generator().manual_seed(SAMPLE_SEEDS[split])
    u = torch.rand(SIZES[split], LENGTH, generator=generator)
    with torch.no_grad():
        return torch.cat([oracle_net()(part) for part in u.split(2000)]).numpy().astype(np.int16)


def oracle_split(split: str) -> torch.Tensor:
    """(N, 20) int64 sequences of one split, from the cache or generated (and cached)."""
    path = cache_folder() / f"oracle-v{VERSION}-{split}.npy"
    if path.is_file():
        try:
            return torch.from_numpy(np.load(path, allow_pickle=False).astype(np.int64))
        except (OSError, ValueError):
            pass  # a damaged cache file: generate again
    x = _generate(split)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npy")
    np.save(tmp, x)
    tmp.replace(path)
    return torch.from_numpy(x.astype(np.int64))


def load_oracle(split: str) -> Dataset:
    """SeqGAN's oracle data: "train", "test" or "all" (train then test)."""
    parts = ["train", "test"] if split == "all" else [split]
    x = torch.cat([oracle_split(part) for part in parts])
    return Dataset(name="oracle", x=x, y=None, num_classes=0, kind="text", tokens=[str(i) for i in range(VOCAB)])


__all__ = ["oracle_net", "oracle_nll", "load_oracle", "VOCAB", "LENGTH"]
