"""Score an exported generator file (gankit/export.py) with the run's own evaluation: ``gankit eval FILE``.

The recipe is rebuilt from the config in the file's metadata, so the evaluation draws the inputs exactly as it does
for the run (same seed, same noise, same test images); the file makes the samples.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import Tensor, nn

from gankit import config as cfgmod
from gankit.api import build_recipe
from gankit.errors import ConfigError
from gankit.evaluate import evaluate_once
from gankit.export import ExportedGenerator
from gankit.types import DataInfo


class ExportedSampler(nn.Module):
    """An exported file in the place of a recipe's sampler: called as the sampler is, (input, y), on any device."""

    def __init__(self, exported: ExportedGenerator, feed: Any) -> None:  # noqa: ANN401  (export_form.Feed)
        super().__init__()
        self.exported, self.feed = exported, feed

    def forward(self, x: Tensor, y: Tensor | None = None, **options: float) -> Tensor:
        if options:
            raise ConfigError(f"an exported generator takes only its inputs ({self.exported.metadata['input_names']}), "
                              f"not {', '.join(options)}: sample or evaluate without --truncation/--temperature, or "
                              "use the run directory")
        return self.exported(*self.feed(x, y)).to(x.device)


def exported_recipe(exported: ExportedGenerator, data: str | None = None):  # noqa: ANN201  (Config, DataInfo, Recipe)
    """(config, data info, recipe) of an exported file: the recipe rebuilt from the config in its metadata, its
    sampler the file, so the evaluation draws the same inputs (same seed) as it does for the run. Every other
    network of the rebuilt recipe holds no trained weights: a metric that runs one gets a ConfigError."""
    cfg = cfgmod.from_dict(OmegaConf.create(exported.metadata["config"]))  # the metadata holds the config's YAML
    info = DataInfo.from_dict(json.loads(exported.metadata["data_info"]))
    if data is not None and data != info.name:
        cfg, info = cfgmod.replace(cfg, data={"name": data}), replace(info, name=data)
    cfg = cfgmod.replace(cfg, device="cpu")
    recipe = build_recipe(cfg, info, torch.device("cpu")).eval()
    sampler = ExportedSampler(exported, recipe.export_form().feed)
    for role, net in recipe.networks().items():
        net.register_forward_pre_hook(_untrained(role, exported.path))
    recipe.ema = None
    recipe.sampler = lambda: sampler  # the file samples; the recipe still draws the inputs (fixed_latent)
    return cfg, info, recipe


def _untrained(role: str, path: Path):  # noqa: ANN202
    """A forward pre-hook that stops a metric from running a network of the rebuilt recipe (untrained weights)."""

    def refuse(module: nn.Module, args: tuple) -> None:
        raise ConfigError(f"this metric runs the run's {role} network, which the exported file {str(path)!r} does not "
                          "hold (it holds the sampling generator only); evaluate the run directory instead")
    return refuse


def evaluate_exported(path: str | Path, metrics: list[str] | None = None, *, data: str | None = None,
                      n: int | None = None, features: str | None = None, split: str | None = None,
                      seed: int | None = None, truncation: float | None = None) -> dict[str, Any]:
    """Score an exported generator file with the run's evaluation (``gankit.evaluate.Evaluation``), on the data
    set in its metadata or ``data``; returns the row (scores and protocol) as ``Run.evaluate`` does."""
    exported = ExportedGenerator(path)
    cfg, info, recipe = exported_recipe(exported, data)
    row = evaluate_once(cfg, info, recipe, torch.device("cpu"), int(exported.metadata.get("step", 0)),
                        metrics=metrics, n=n, features=features, split=split, seed=seed, truncation=truncation)
    sampler = exported.metadata.get("sampler", "G")
    row["protocol"]["sampler"] = f"{exported.format} file {exported.path.name} ({sampler})"
    row["checkpoint"] = exported.metadata.get("checkpoint")
    return row


__all__ = ["ExportedSampler", "exported_recipe", "evaluate_exported"]
