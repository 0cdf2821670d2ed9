"""The EMA generator samples with batch-norm statistics of its own (averaged) weights."""
from __future__ import annotations

import torch
from torch import nn

from gankit import config as cfgmod
from gankit.api import build_recipe
from gankit.types import DataInfo

DIGITS = DataInfo("digits", (1, 8, 8), 10, "image")


def _recipe(*overrides: str):  # noqa: ANN202
    cfg = cfgmod.resolve("dcgan", "digits", ["model.g_width=8", "model.d_width=8", "model.z_dim=8", "device=cpu", *overrides])
    recipe = build_recipe(cfg, DIGITS, torch.device("cpu"))
    with torch.no_grad():  # the averaged weights drift away from the live ones, as after training
        for p in recipe.ema.net.parameters():
            p.add_(0.3 * torch.randn_like(p))
        for m in recipe.G.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.fill_(5.0)  # the live network's statistics: wrong for the averaged weights
    return recipe


def _first_norm(net: nn.Module) -> tuple[nn.Module, nn.BatchNorm1d]:
    """DCGAN G's first linear layer and the batch norm after it."""
    return net.project[0], net.project[1]


def test_standing_statistics_are_the_averaged_networks_own() -> None:
    recipe = _recipe()
    rng_before = torch.get_rng_state()
    net = recipe.sampler()
    assert torch.equal(torch.get_rng_state(), rng_before)  # training's random state is untouched
    linear, norm = _first_norm(net)
    with torch.no_grad():
        pre = linear(torch.randn(20000, 8, generator=torch.Generator().manual_seed(1)))  # (N, ch * base^2)
    # 16 x 64 latents estimate the mean of the averaged network's activations; the live statistics (5.0) are gone
    torch.testing.assert_close(norm.running_mean, pre.mean(0), atol=0.15, rtol=0)
    torch.testing.assert_close(norm.running_var, pre.var(0), atol=0.25, rtol=0.25)
    assert not net.training and not norm.training


def test_standing_statistics_are_deterministic_and_measured_again_after_an_update_or_a_load() -> None:
    recipe = _recipe()
    first = {k: v.clone() for k, v in recipe.sampler().state_dict().items()}
    again = recipe.sampler().state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)  # measured once per set of weights
    copy = _recipe()
    copy.load_state_dict(recipe.state_dict())
    loaded = copy.sampler().state_dict()
    assert all(torch.equal(first[k], loaded[k]) for k in first)  # a loaded run samples as the live one did
    recipe.ema.update(recipe.G)  # new weights, the live network's buffers copied in: measured again
    assert not torch.equal(recipe.sampler().state_dict()["project.1.running_mean"], recipe.G.project[1].running_mean)


def test_spectral_norm_vectors_do_not_move_while_measuring() -> None:
    recipe = _recipe("model.g_spectral_norm=true")
    before = {k: v.clone() for k, v in recipe.ema.net.state_dict().items() if "running" not in k and "num_batches" not in k}
    after = recipe.sampler().state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
