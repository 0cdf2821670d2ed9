"""Zhu et al. 2017 (CycleGAN): two generators and two discriminators trained on unpaired domains."""
from __future__ import annotations

from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.losses.auxiliary import cycle_loss, identity_loss
from gankit.nn.pool import ImagePool
from gankit.objective import Objective
from gankit.recipes.base import Latent, LossTerms, Phase, register_recipe
from gankit.recipes.translation import Translation, recipe_args, translation_data
from gankit.types import Batch

DEFAULTS = {"cycle_weight": 10.0, "identity_weight": 0.5, "adv_weight": 1.0, "pool_size": 50, "n_blocks": None,
            "n_layers": 3}


@register_recipe("cyclegan")
class CycleGAN(Translation):
    """Zhu et al. 2017: G: A -> B and F: B -> A, a PatchGAN per domain, cycle and identity L1 terms, a pool of fakes.

    ``G`` is A -> B (the EMA copy, when on, follows it) and ``G_BA`` is B -> A; ``D`` judges domain B and
    ``D_A`` domain A. Phases run in the official order: the generators first, then the discriminators on the
    generators' fresh fakes mixed with older ones from the pools.
    """

    paper = "Zhu et al. 2017, Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks"

    def __init__(self, G: nn.Module, G_BA: nn.Module, D: nn.Module, D_A: nn.Module, *, shapes: tuple[tuple, tuple],
                 objective: Objective | None = None, cycle_weight: float = 10.0, identity_weight: float = 0.5,
                 adv_weight: float = 1.0, pool_size: int = 50) -> None:
        super().__init__()
        self.G, self.G_BA, self.D, self.D_A = G, G_BA, D, D_A
        (source, target), self.input_shape = shapes, tuple(shapes[0])
        if identity_weight and source[0] != target[0]:
            raise ConfigError(f"recipe_args.identity_weight={identity_weight}: the identity loss maps B through A -> B, "
                              f"so A and B need the same channels (here {source[0]} and {target[0]}); set it to 0")
        self.use_objective(objective or Objective(loss="lsgan"))
        self.cycle_weight, self.adv_weight = cycle_weight, adv_weight
        self.identity_weight = identity_weight * cycle_weight  # the paper's lambda_identity is relative to the cycle's
        self.pool_a, self.pool_b = ImagePool(pool_size, source), ImagePool(pool_size, target)
        self._fakes: tuple[Tensor, Tensor] | None = None  # the G phase's fakes (detached) for the D phase

    @classmethod
    def from_config(cls, cfg, data) -> "CycleGAN":  # noqa: ANN001
        from gankit.nets.translation import PatchDiscriminator, ResnetGenerator

        args = recipe_args(cfg, DEFAULTS, "cyclegan")
        source, target = translation_data(data, "cyclegan", "unpaired")
        m = cfg.model
        blocks = args["n_blocks"] or (9 if target[-1] >= 256 else 6)  # the paper: 6 blocks at 128 px, 9 at 256
        G = ResnetGenerator(source[0], target[0], width=m.g_width, n_blocks=blocks, norm=m.g_norm)
        G_BA = ResnetGenerator(target[0], source[0], width=m.g_width, n_blocks=blocks, norm=m.g_norm)
        D = PatchDiscriminator(target[0], width=m.d_width, n_layers=args["n_layers"], norm=m.d_norm, spectral=m.d_spectral_norm)
        D_A = PatchDiscriminator(source[0], width=m.d_width, n_layers=args["n_layers"], norm=m.d_norm, spectral=m.d_spectral_norm)
        return cls(G, G_BA, D, D_A, shapes=(source, target), objective=cls.objective_for(cfg), cycle_weight=args["cycle_weight"],
                   identity_weight=args["identity_weight"], adv_weight=args["adv_weight"], pool_size=args["pool_size"])

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "G_BA": self.G_BA, "D": self.D, "D_A": self.D_A}

    def groups(self) -> dict[str, list[str]]:
        return {"G": ["G", "G_BA"], "D": ["D", "D_A"]}

    def discriminators(self) -> list[nn.Module]:
        return [self.D, self.D_A]

    def phases(self) -> list[Phase]:
        return [Phase("G", self.g_step, trains="G"),
                Phase("D", self.d_step, trains="D", new_batch=False, after=self.constrain)]

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        a, b = batch.a, batch.x
        fake_b, fake_a = self.G(a), self.G_BA(b)
        self._fakes = (fake_a.detach(), fake_b.detach())
        judge = self.objective.g_loss
        out = {**judge(self.D, real=b, fake=fake_b, step=step, adv_weight=self.adv_weight, suffix="_b").terms,
               **judge(self.D_A, real=a, fake=fake_a, step=step, adv_weight=self.adv_weight, suffix="_a").terms,
               "cycle_a": self.cycle_weight * cycle_loss(original=a, reconstructed=self.G_BA(fake_b)),
               "cycle_b": self.cycle_weight * cycle_loss(original=b, reconstructed=self.G(fake_a))}
        if self.identity_weight:
            out["identity_a"] = self.identity_weight * identity_loss(image=a, mapped=self.G_BA(a))
            out["identity_b"] = self.identity_weight * identity_loss(image=b, mapped=self.G(b))
        return out

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        if self._fakes is None:
            raise RuntimeError("CycleGAN's D phase runs after its G phase, which makes the fakes")
        fake_a, fake_b = self._fakes
        on_b = self.objective.d_loss(self.D, real=batch.x, fake=self.pool_b.query(fake_b), step=step, suffix="_b")
        on_a = self.objective.d_loss(self.D_A, real=batch.a, fake=self.pool_a.query(fake_a), step=step, suffix="_a")
        self.record_d(d_real=on_b.real_score, d_fake=on_b.fake_score)
        return {**on_b.terms, **on_a.terms}

    # --- sampling and translation ------------------------------------------------------------------
    def domain_names(self) -> list[str]:
        return ["A", "B"]

    def translator(self, to: int | None, n: int) -> tuple[nn.Module, Tensor | None]:
        """to=1 (B, the default): A -> B with the (EMA) generator; to=0 (A): B -> A."""
        if to in (None, 1):
            return self.sampler(), None
        if to == 0:
            return self.G_BA, None
        raise ConfigError(f"cyclegan translates to domain A (0) or B (1), not {to!r}")

    def reconstruct(self, latent: Latent, output: Tensor) -> Tensor | None:
        from gankit.recipes.base import run_generator

        return run_generator(self.G_BA, Latent(source=output))
