"""The VAE (Kingma & Welling 2014) and the VAE-GAN (Larsen et al. 2016): their losses against hand-computed
values, the refusals, and the issue's signal: at the same number of steps the VAE-GAN's prior samples beat the
plain VAE's on domain FID (the digits evaluator, 500 samples).

benchmarks/vaegan_vs_vae.py runs the comparison at the presets' length on more seeds and reports the wall time.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit import distributed as noise
from gankit.api import build_recipe
from gankit.config import resolve
from gankit.errors import ConfigError
from gankit.losses.variational import gaussian_nll
from gankit.recipes.vae import VAE
from gankit.recipes.vaegan import VAEGAN
from gankit.types import Batch, DataInfo
from tests.conftest import seed_all

pytestmark = pytest.mark.usefixtures("evaluator_cache")  # every test: domain evaluators in a fresh cache

FAST = ["train.progress=false", "device=cpu", "train.sample_every=100000", "train.checkpoint_every=100000"]
SMALL = ["model.g_width=8", "model.d_width=8", "model.z_dim=4", "device=cpu"]
DIGITS = DataInfo("digits", (1, 8, 8), 10, "image")


def recipe(preset: str, extra: list[str] = ()):  # noqa: ANN201
    return build_recipe(resolve(preset, "digits", SMALL + list(extra)), DIGITS, torch.device("cpu"))


def test_gaussian_nll_is_the_normal_density_without_its_constant() -> None:
    target, mean = torch.randn(5, 1, 3, 3, dtype=torch.float64), torch.randn(5, 1, 3, 3, dtype=torch.float64)
    log_density = torch.distributions.Normal(mean, 0.3).log_prob(target).flatten(1).sum(1)  # (5,)
    constant = 9 * (math.log(0.3) + 0.5 * math.log(2 * math.pi))
    torch.testing.assert_close(gaussian_nll(target=target, mean=mean, std=0.3), -log_density - constant)
    with pytest.raises(ValueError, match="differ in shape"):
        gaussian_nll(target=target, mean=mean[:, :, :2], std=1.0)


def test_vae_minimises_the_negative_elbo() -> None:
    """recon = ||x - G(mu + sigma * eps)||^2 / (2 std^2) and kl = KL(N(mu, sigma^2) || N(0, I)), batch means."""
    vae = recipe("vae", ["recipe_args.pixel_std=0.5"])
    assert isinstance(vae, VAE) and vae.discriminators() == [] and set(vae.networks()) == {"G", "E"}
    x = torch.rand(6, 1, 8, 8) * 2 - 1
    seed_all(0)
    terms = vae.elbo_step(Batch(x), 1)
    seed_all(0)
    posterior = vae.E(x)
    mu, sigma = posterior.mean, posterior.log_std.exp()
    recon = vae.G(mu + sigma * noise.randn(6, 4, device="cpu"))
    torch.testing.assert_close(terms["recon"], ((x - recon) ** 2).sum((1, 2, 3)).mean() / (2 * 0.5**2))
    torch.testing.assert_close(terms["kl"], (0.5 * (mu**2 + sigma**2 - 1 - 2 * sigma.log())).sum(1).mean())
    assert set(terms) == {"recon", "kl"}


def test_vaegan_losses_follow_the_paper() -> None:
    """D: the run's loss (nonsat) on x against the reconstructions and the prior samples; G: gamma * L_llike plus
    the GAN term on both; E: KL plus L_llike, the squared error of D's features / 2, summed over the features."""
    model = recipe("vaegan", ["recipe_args.gamma=3.0", "loss=nonsat"])
    assert isinstance(model, VAEGAN) and set(model.groups()) == {"G", "D", "E"}
    x = torch.rand(6, 1, 8, 8) * 2 - 1

    def decoded() -> tuple[torch.Tensor, torch.Tensor]:  # the draws each phase makes, in its order
        seed_all(0)
        posterior = model.E(x)
        code = posterior.mean + posterior.log_std.exp() * noise.randn(6, 4, device="cpu")
        return model.G(code), model.G(noise.randn(6, 4, device="cpu"))

    def llike(recon: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((model.D(x).features - model.D(recon).features) ** 2).sum(1).mean()

    seed_all(0)
    d_terms = model.d_step(Batch(x), 1)
    recon, prior = decoded()
    real, fake = model.D(torch.cat([x, x])).logit, model.D(torch.cat([recon, prior])).logit
    torch.testing.assert_close(d_terms["adv"], F.softplus(-real).mean() + F.softplus(fake).mean())

    seed_all(0)
    g_terms = model.g_step(Batch(x), 1)
    recon, prior = decoded()
    torch.testing.assert_close(g_terms["adv"], F.softplus(-model.D(torch.cat([recon, prior])).logit).mean())
    torch.testing.assert_close(g_terms["llike"], 3.0 * llike(recon))

    seed_all(0)
    e_terms = model.e_step(Batch(x), 1)
    recon, _ = decoded()
    posterior = model.E(x)
    torch.testing.assert_close(e_terms["kl"], posterior.kl_to_standard_normal().mean())
    torch.testing.assert_close(e_terms["llike"], llike(recon))


@pytest.mark.parametrize(("preset", "override", "message"), [
    ("vae", "recipe_args.pixel_std=0", "recipe_args.pixel_std=0: the likelihood's std"),
    ("vae", "recipe_args.gamma=1", "argument of recipe 'vae'"),
    ("vae", "conditional=true", "recipe 'vae' is unconditional"),
    ("vae", "tricks=[instance_noise]", "recipe 'vae' does not accept trick 'instance_noise'"),
    ("vaegan", "recipe_args.gamma=-1", "recipe_args.gamma=-1"),
    ("vaegan", "recipe_args.pixel_std=0.4", "argument of recipe 'vaegan'"),
    ("vaegan", "model.label_input=concat", "recipe 'vaegan' is unconditional"),
    ("vaegan", "tricks=[{name: pack, m: 2}]", "recipe 'vaegan' does not accept trick 'pack'"),
])
def test_bad_config_is_refused_clearly(preset: str, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        recipe(preset, [override])


def test_vaegan_samples_beat_the_vae_at_the_same_steps(tmp_path) -> None:  # noqa: ANN001
    """Larsen et al. 2016's claim on the 8x8 digits: 150 steps of each preset at width 32, seed 0, domain FID of
    500 prior samples (seeds 0 / 1: vaegan 100.7 / 94.0, vae 125.7 / 126.5; untrained 401.6 / 267.4)."""
    fid = {}
    for preset in ("vae", "vaegan"):
        run = gankit.train(preset, "digits", out=tmp_path / preset,
                           overrides=FAST + ["model.g_width=32", "model.d_width=32", "train.steps=150", "seed=0"])
        fid[preset] = run.evaluate(["fid"], n=500, log=False)["eval/fid"]
    assert fid["vaegan"] <= 115 and fid["vae"] - fid["vaegan"] >= 12, fid
