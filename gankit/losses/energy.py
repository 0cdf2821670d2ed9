"""Energy-based losses: a discriminator that is an auto-encoder, its energy the reconstruction error.

Pure functions, keyword-only. ``real`` and ``fake`` are per-sample energies (B,) (low: looks real); the
losses return scalars. The energies themselves (``l1_energy``, ``l2_energy``) compare a batch with its
reconstruction, per sample.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


# --- energies: per-sample reconstruction errors ------------------------------------------------------------
def l1_energy(x: Tensor, reconstruction: Tensor) -> Tensor:
    """Berthelot et al. 2017 (BEGAN, eta = 1): the mean absolute error of each sample, |v - D(v)|. (B, ...) -> (B,)"""
    return (x - reconstruction).abs().flatten(1).mean(1)


def l2_energy(x: Tensor, reconstruction: Tensor) -> Tensor:
    """Zhao et al. 2017 (EBGAN, Eq. 7): the Euclidean norm of each sample's error, ||Dec(Enc(x)) - x||.
    (B, ...) -> (B,)"""
    return (x - reconstruction).flatten(1).norm(dim=1)


ENERGIES = {"l1": l1_energy, "l2": l2_energy}


# --- EBGAN (Zhao et al. 2017) ---------------------------------------------------------------------------
def ebgan_d(*, real: Tensor, fake: Tensor, margin: float) -> Tensor:
    """Eq. 1: L_D = D(x) + [m - D(G(z))]^+ ; D lowers the energy of data and raises that of fakes up to m."""
    return real.mean() + F.relu(margin - fake).mean()


def ebgan_g(*, fake: Tensor) -> Tensor:
    """Eq. 2: L_G = D(G(z)); G makes samples of low energy."""
    return fake.mean()


def pulling_away(codes: Tensor) -> Tensor:
    """Section 2.4: f_PT(S) = 1 / (N (N - 1)) sum_{i != j} cos(S_i, S_j)^2 over a batch's encoder codes (N, F):
    0 when the codes are orthogonal, 1 when they all point the same way (a collapsed batch)."""
    n = codes.shape[0]
    if n < 2:
        raise ValueError(f"the pulling-away term compares samples: it needs a batch of at least 2, got {n}")
    unit = F.normalize(codes.flatten(1), dim=1)  # (N, F)
    cos2 = (unit @ unit.T) ** 2  # (N, N), ones on the diagonal
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))


# --- BEGAN (Berthelot et al. 2017) -----------------------------------------------------------------------
def began_d(*, real: Tensor, fake: Tensor, k: Tensor | float) -> Tensor:
    """Eq. 4: L_D = L(x) - k_t L(G(z_D))."""
    return real.mean() - k * fake.mean()


def began_g(*, fake: Tensor) -> Tensor:
    """Eq. 4: L_G = L(G(z_G))."""
    return fake.mean()


def began_k(k: Tensor, *, real: Tensor, fake: Tensor, gamma: float, lambda_k: float) -> Tensor:
    """Eq. 4: k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1): proportional control that holds
    E[L(G(z))] = gamma E[L(x)] (``real``, ``fake``: the batch means of the energies, or the energies)."""
    return (k + lambda_k * (gamma * real.mean() - fake.mean())).clamp(0.0, 1.0)


def convergence_measure(*, real: Tensor, fake: Tensor, gamma: float) -> Tensor:
    """Section 3.4.1: M_global = L(x) + |gamma L(x) - L(G(z))|, the reconstruction of data plus how far the
    equilibrium is off; it falls as the samples improve."""
    real, fake = real.mean(), fake.mean()
    return real + torch.abs(gamma * real - fake)


__all__ = ["ENERGIES", "l1_energy", "l2_energy", "ebgan_d", "ebgan_g", "pulling_away", "began_d", "began_g",
           "began_k", "convergence_measure"]
