"""One optimiser per parameter group, each with its own settings (``optim.groups.<group>``), and the lr schedule.

A recipe names its groups (Recipe.groups: G, D, and e.g. E or Q); ``optim.lr``, ``optim.name`` and the betas
are the defaults and ``optim.groups`` overrides them per group, TTUR included
(``optim.groups={G: {lr: 1.0e-4}, D: {lr: 4.0e-4}}``).
"""
from __future__ import annotations

import torch

from gankit.config import Config
from gankit.errors import ConfigError
from gankit.recipes.base import Recipe


def make_optimizers(recipe: Recipe, cfg: Config) -> dict[str, torch.optim.Optimizer]:
    """One optimiser per parameter group of the recipe, with the group's settings."""
    groups = recipe.param_groups()
    for name in cfg.optim.groups:
        if name not in groups:
            raise ConfigError(f"optim.groups.{name}: recipe {cfg.recipe!r} has no parameter group {name!r}; "
                              f"its groups are {', '.join(groups)}")
    out = {}
    for name, params in groups.items():
        s = cfg.optim.settings(name)
        if s.name == "rmsprop":
            out[name] = torch.optim.RMSprop(params, lr=s.lr)
        else:
            out[name] = torch.optim.Adam(params, lr=s.lr, betas=s.betas)
    return out


def make_schedulers(optimizers: dict[str, torch.optim.Optimizer], cfg: Config) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
    """Constant lr, then linear decay to zero from optim.decay_from * train.steps to the end (CycleGAN's schedule)."""
    if cfg.optim.decay_from is None:
        return {}
    total = cfg.train.steps
    start = int(cfg.optim.decay_from * total)
    factor = lambda step: 1.0 - max(0, step - start) / max(1, total - start)  # noqa: E731
    return {name: torch.optim.lr_scheduler.LambdaLR(opt, factor) for name, opt in optimizers.items()}
