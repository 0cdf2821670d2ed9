"""The text family's base: an LSTM generator over the run's vocabulary, sentences as samples, and the MLE baseline.

Every text recipe (mle, seqgan, relgan, maskgan) trains on a "text" data set (gankit/data/text.py, or the oracle):
G's latent is uniform noise u (B, T), one number per token, so a latent fixes a sentence (``TextGenerator``);
samples are (B, T) token ids that ``describe`` decodes with the vocabulary saved in the run; ``temperature`` (Run.sample,
``gankit sample --temperature``) divides G's logits. ``nll`` is G's likelihood of given sentences (``nll_test``).
"""
from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from gankit import distributed as noise
from gankit.data.text import Vocabulary
from gankit.errors import ConfigError
from gankit.losses.sequence import token_nll
from gankit.nets.text import TextGenerator
from gankit.objective import Accepts
from gankit.recipes.base import (GeneratorOnly, Latent, LossTerms, Phase, Recipe, check_recipe_args, register_recipe,
                                 single_process)
from gankit.types import Batch, DataInfo

NOTHING = Accepts(tricks=frozenset(), penalties=frozenset(), terms=frozenset(),
                  why="its samples are discrete tokens, which image tricks, gradient penalties and terms do not fit")


class TextRecipe(Recipe):
    """Base of the text recipes: G, its latent, decoding, and maximum-likelihood steps on real sentences."""

    data_kinds = ("text",)
    accepts = NOTHING

    def __init__(self, G: TextGenerator, vocab: Vocabulary) -> None:
        super().__init__()
        self.G, self.vocab = G, vocab

    @classmethod
    def generator(cls, cfg, data: DataInfo) -> TextGenerator:  # noqa: ANN001  (Config)
        """An LSTM over the data's vocabulary writing its sentences' length (model.g_width units, model.embed_dim)."""
        if data.tokens is None or len(data.tokens) < 2:
            raise ConfigError(f"data set {data.name!r} has no vocabulary; text recipes need a text data set")
        single_process(cfg.recipe)
        vocab = Vocabulary(data.tokens)
        return TextGenerator(len(vocab), data.sample_shape[0], embed_dim=cfg.model.embed_dim, hidden=cfg.model.g_width,
                             eos=vocab.eos, pad=vocab.pad)

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        if labels is not None:
            raise ConfigError("text recipes are not conditional: they cannot sample a chosen class")
        return Latent(noise.rand(n, self.G.length, device=self.G.out.weight.device, generator=generator))

    def at_temperature(self, latent: Latent, temperature: float) -> Latent:
        if not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ConfigError(f"temperature={temperature!r}: G's logits are divided by it, so it must be > 0 (1: the "
                              "model's own distribution; lower: more likely, less diverse sentences)")
        return replace(latent, temperature=float(temperature))

    def export_form(self):  # noqa: ANN201
        from gankit.recipes.export_form import NotExportable

        raise NotExportable("its generator samples each token from a softmax and feeds it back, a loop of random "
                            "draws rather than one forward pass of tensors")

    def walk(self, rows: int, steps: int, *, code: str | None = None, generator: torch.Generator | None = None) -> Latent:
        raise ConfigError("a text generator's latent picks discrete tokens: there is no smooth path between two "
                          "sentences to interpolate; use gankit sample with --temperature instead")

    def describe(self, output: Tensor) -> list[str]:
        return self.vocab.decode(output.cpu())

    def mle_step(self, batch: Batch, step: int) -> LossTerms:
        """Teacher forcing: the mean negative log-likelihood per token of the real sentences."""
        return {"nll": token_nll(log_probs=self.G.log_probs(batch.x), mask=self.G.mask(batch.x))}

    @torch.no_grad()
    def nll(self, tokens: Tensor, batch_size: int = 500) -> float:
        """The sampling G's mean negative log-likelihood per token of (N, T) sentences (NLL_test)."""
        G, total, count = self.sampler(), 0.0, 0.0
        for start in range(0, len(tokens), batch_size):
            part = tokens[start:start + batch_size].to(G.out.weight.device)
            total += float(-(G.log_probs(part).double()).sum())
            count += float(G.mask(part).sum())
        return total / max(count, 1.0)



def typed_args(cls: type, cfg):  # noqa: ANN001, ANN201  (a dataclass of recipe_args, Config)
    """The recipe's recipe_args as its dataclass ``cls``, unknown keys refused with the nearest names."""
    check_recipe_args(cfg.recipe_args, tuple(cls.__dataclass_fields__), cfg.recipe)
    return cls(**cfg.recipe_args)


def share_steps(share: float, steps: int, name: str) -> int:
    """recipe_args.<name>, a share of train.steps in [0, 1], as a number of generator steps."""
    if not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ConfigError(f"recipe_args.{name}={share!r}: a share of train.steps in [0, 1]")
    return int(share * steps)


@register_recipe("mle")
class MLE(GeneratorOnly, TextRecipe):
    """Maximum likelihood (teacher forcing) only: the baseline every text GAN must beat (Caccia et al. 2020)."""

    paper = "Maximum-likelihood language model, the baseline of Yu et al. 2017 and Caccia et al. 2020"

    def __init__(self, G: TextGenerator, vocab: Vocabulary) -> None:
        super().__init__(G, vocab)

    @classmethod
    def from_config(cls, cfg, data) -> "MLE":  # noqa: ANN001
        check_recipe_args(cfg.recipe_args, (), "mle")
        return cls(cls.generator(cfg, data), Vocabulary(data.tokens))

    def phases(self) -> list[Phase]:
        return [Phase("G", self.mle_step, trains="G")]


__all__ = ["TextRecipe", "MLE", "NOTHING", "typed_args", "share_steps"]
