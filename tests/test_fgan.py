"""f-GAN (Nowozin et al. 2016): the f-divergence losses against the paper's Table 2, and its section 4
experiment at a small budget (KL spreads a Gaussian over both modes of a mixture, reverse KL picks one)."""
from __future__ import annotations

import math

import pytest
import torch

from benchmarks.fgan_gaussian import KL_OPTIMUM, fit
from gankit.losses import LOSSES
from gankit.losses.adversarial import F_DIVERGENCES

# Table 2 of the paper: output activation g_f(v) and Fenchel conjugate f*(t), as printed there
TABLE2 = {
    "f_kl": (lambda v: v, lambda t: torch.exp(t - 1)),
    "f_reverse_kl": (lambda v: -torch.exp(-v), lambda t: -1 - torch.log(-t)),
    "f_pearson": (lambda v: v, lambda t: t * t / 4 + t),
    "f_neyman": (lambda v: 1 - torch.exp(-v), lambda t: 2 - 2 * torch.sqrt(1 - t)),
    "f_hellinger": (lambda v: 1 - torch.exp(-v), lambda t: t / (1 - t)),
    "f_js": (lambda v: math.log(2) - torch.log(1 + torch.exp(-v)), lambda t: -torch.log(2 - torch.exp(t))),
    "f_gan": (lambda v: -torch.log(1 + torch.exp(-v)), lambda t: -torch.log(1 - torch.exp(t))),
}


def test_every_divergence_of_table_2_is_a_loss() -> None:
    assert {f.name for f in F_DIVERGENCES} == set(TABLE2)
    assert set(TABLE2) <= set(LOSSES.names())


@pytest.mark.parametrize("divergence", F_DIVERGENCES, ids=lambda f: f.name)
def test_losses_are_the_variational_bound_of_table_2(divergence) -> None:  # noqa: ANN001
    """D's loss is -(E_P[g_f(v)] - E_Q[f*(g_f(v))]), G's is -E_Q[g_f(v)]; the stable forms match the table."""
    activation, conjugate = TABLE2[divergence.name]
    v = torch.linspace(-3, 3, 61, dtype=torch.float64)
    torch.testing.assert_close(divergence.t(v), activation(v))
    torch.testing.assert_close(divergence.conjugate_of(v), conjugate(activation(v)))
    real, fake = v[:30], v[31:]
    torch.testing.assert_close(divergence.d(real=real, fake=fake),
                               -(activation(real).mean() - conjugate(activation(fake)).mean()))
    torch.testing.assert_close(divergence.g(fake=fake), -activation(fake).mean())


def test_f_gan_is_the_original_gan() -> None:
    """With the GAN divergence, D's loss is the cross-entropy and G's the non-saturating -log D."""
    real, fake = torch.randn(50, dtype=torch.float64), torch.randn(50, dtype=torch.float64)
    torch.testing.assert_close(LOSSES.get("f_gan").d(real=real, fake=fake), LOSSES.get("nonsat").d(real=real, fake=fake))
    torch.testing.assert_close(LOSSES.get("f_gan").g(fake=fake), LOSSES.get("nonsat").g(fake=fake))


def test_kl_covers_both_modes_and_reverse_kl_picks_one() -> None:
    """The paper's section 4 at 1500 steps: KL reaches the moment-matching Gaussian (mu 0, sigma 2.06), reverse KL
    one mode (mu +-2, sigma 0.5). `benchmarks/fgan_gaussian.py` prints the table for every divergence."""
    torch.set_num_threads(1)
    kl_mu, kl_sigma = fit("f_kl", steps=1500)
    rkl_mu, rkl_sigma = fit("f_reverse_kl", steps=1500)
    assert abs(kl_mu - KL_OPTIMUM[0]) < 0.3 and abs(kl_sigma - KL_OPTIMUM[1]) < 0.3, (kl_mu, kl_sigma)
    assert abs(abs(rkl_mu) - 2.0) < 0.3 and rkl_sigma < 0.8, (rkl_mu, rkl_sigma)
