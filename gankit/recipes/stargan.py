"""Choi et al. 2018 (StarGAN): one generator translates an image to any of k domains."""
from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.losses.auxiliary import classification_loss, cycle_loss
from gankit.objective import Objective
from gankit.recipes.base import Latent, LossTerms, Phase, register_recipe
from gankit.recipes.translation import TRANSLATION_ACCEPTS, Translation, recipe_args, translation_data
from gankit.types import Batch

DEFAULTS = {"cls_weight": 1.0, "rec_weight": 10.0, "n_blocks": 6, "n_layers": 6}


@register_recipe("stargan")
class StarGAN(Translation):
    """Choi et al. 2018: one G(x, c) for every target domain c; D with a real/fake head and a domain head.

    WGAN-GP adversarial loss + domain classification (weight 1) + reconstruction G(G(x, c), c') ~ x (weight 10)."""

    paper = "Choi et al. 2018, StarGAN: Unified Generative Adversarial Networks for Multi-Domain Image-to-Image Translation"
    accepts = replace(TRANSLATION_ACCEPTS, tricks=TRANSLATION_ACCEPTS.tricks | {"d_steps"})  # it reads n_critic

    def __init__(self, G: nn.Module, D: nn.Module, *, input_shape: tuple[int, ...], num_domains: int,
                 domain_names: list[str] | None = None, objective: Objective | None = None, cls_weight: float = 1.0,
                 rec_weight: float = 10.0, n_critic: int = 5) -> None:
        super().__init__()
        self.G, self.D, self.input_shape = G, D, tuple(input_shape)
        self.num_domains, self.names = num_domains, list(domain_names or [str(k) for k in range(num_domains)])
        self.cls_weight, self.rec_weight, self.n_critic = cls_weight, rec_weight, n_critic
        self.use_objective(objective or Objective(loss="wasserstein"))

    @classmethod
    def from_config(cls, cfg, data) -> "StarGAN":  # noqa: ANN001
        from gankit.nets.translation import ResnetGenerator, StarGANDiscriminator

        args = recipe_args(cfg, DEFAULTS, "stargan")
        shape, _ = translation_data(data, "stargan", None)
        if data.num_classes < 2:
            raise ConfigError(f"stargan translates between labelled domains; data set {data.name!r} has "
                              f"{data.num_classes} classes. Use class sub-folders (one per domain) or a labelled data set "
                              "(optionally data.domains=[...] to keep some classes)")
        m = cfg.model
        G = ResnetGenerator(shape[0], shape[0], width=m.g_width, n_blocks=args["n_blocks"], norm=m.g_norm,
                            num_classes=data.num_classes)
        D = StarGANDiscriminator(shape[0], shape[-1], data.num_classes, width=m.d_width, n_layers=args["n_layers"])
        return cls(G, D, input_shape=shape, num_domains=data.num_classes, domain_names=data.class_names,
                   objective=cls.objective_for(cfg), cls_weight=args["cls_weight"], rec_weight=args["rec_weight"],
                   n_critic=cfg.n_critic)

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", repeats=self.n_critic, after=self.constrain),
                Phase("G", self.g_step, trains="G", new_batch=False)]

    def target_domains(self, labels: Tensor) -> Tensor:
        """A random target domain per image (the paper shuffles the batch's labels; uniform is the same in expectation)."""
        return torch.randint(0, self.num_domains, labels.shape, device=labels.device)

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        target = self.target_domains(batch.y)
        fake = self.G(batch.x, target)
        judged = self.objective.d_loss(self.D, real=batch.x, fake=fake, step=step)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return {**judged.terms, "cls": self.cls_weight * classification_loss(logits=judged.real.aux, labels=batch.y)}

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        target = self.target_domains(batch.y)
        fake = self.G(batch.x, target)
        judged = self.objective.g_loss(self.D, real=batch.x, fake=fake, step=step)
        return {**judged.terms,
                "cls": self.cls_weight * classification_loss(logits=judged.fake.aux, labels=target),
                "rec": self.rec_weight * cycle_loss(original=batch.x, reconstructed=self.G(fake, batch.y))}

    # --- sampling and translation ------------------------------------------------------------------
    def label_classes(self) -> int:
        return self.num_domains  # fixed grids and evaluation ask for balanced target domains

    def inputs(self, data, index: Tensor, labels: Tensor | None) -> Latent:  # noqa: ANN001
        """Images of any domain, each sent to the domain in ``labels`` (default: the next domain after its own)."""
        x = data.x[index]
        if labels is None:
            labels = (data.y[index] + 1) % self.num_domains if data.y is not None else torch.zeros_like(index)
        return Latent(source=x, y=labels.to(x.device))

    def input_count(self, data) -> int:  # noqa: ANN001
        return len(data)

    def domain_names(self) -> list[str]:
        return self.names

    def translator(self, to: int | None, n: int) -> tuple[nn.Module, Tensor | None]:
        if to is None or not 0 <= to < self.num_domains:
            raise ConfigError(f"stargan needs a target domain: --to one of {', '.join(self.names)} "
                              f"(or 0..{self.num_domains - 1}); got {to!r}")
        net = self.sampler()
        return net, torch.full((n,), to, dtype=torch.long, device=next(net.parameters()).device)
