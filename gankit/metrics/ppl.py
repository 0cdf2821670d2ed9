"""Perceptual path length (Karras et al. 2019, StyleGAN Sec. 3): how much G's image changes along a small step of
a latent walk, a measure of how smooth (disentangled) the latent space is; lower is smoother.

For each of n pairs of latents (the evaluation's seed) and a position t ~ U(0, 1) on the walk between them, the
images at t and t + eps (eps = 1e-4) are compared in a feature space: PPL = mean of ||f(G(l_t)) - f(G(l_t+eps))||^2
/ eps^2 over the pairs whose value lies between the 1st and 99th percentiles (the paper's trimming). The walk is
linear in w for a style G (``G.mapping``, the paper's "end" variant is not used: t is uniform) and spherical in z
for any other noise G. The two images of a pair see the same synthesis noise (the random stream is reset to the
same state before each). The distance is the paper's, LPIPS on VGG16 (gankit/metrics/lpips.py), where the VGG16
weights are in the torch hub cache; otherwise (offline) the squared distance of the domain evaluator's features
(its penultimate layer). The protocol records which.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Need, Setting, generator_in_eval, register_metric
from gankit.nets.stylegan import is_style_generator

EPSILON = 1e-4
TRIM = (1.0, 99.0)  # percentiles kept


def path_lengths(images_at, t: Tensor, eps: float, distance, seed: int) -> Tensor:  # noqa: ANN001
    """(B,) distance(images_at(t), images_at(t + eps)) / eps^2, the same random stream (synthesis noise) for both."""
    with torch.random.fork_rng(devices=[t.device] if t.device.type == "cuda" else []):
        torch.manual_seed(seed)
        a = images_at(t)
        torch.manual_seed(seed)
        b = images_at(t + eps)
    return distance(a.clamp(-1, 1), b.clamp(-1, 1)) / eps**2


def feature_distance(features):  # noqa: ANN001, ANN201
    """The squared Euclidean distance of two batches' features."""
    return lambda a, b: (features(a) - features(b)).pow(2).sum(dim=1)


def trimmed_mean(values: np.ndarray, low: float = TRIM[0], high: float = TRIM[1]) -> float:
    """The mean of the values between the ``low`` and ``high`` percentiles (both kept)."""
    lo, hi = np.percentile(values, low, method="lower"), np.percentile(values, high, method="higher")
    return float(values[(values >= lo) & (values <= hi)].mean())


def latent_walk(G, recipe, n: int, generator: torch.Generator):  # noqa: ANN001, ANN201
    """(images_at(t), space): the walk between two latents of n pairs, in w for a style G, else in z."""
    from gankit.recipes.base import slerp

    first = recipe.sample_latent(n, generator=generator)
    second = recipe.sample_latent(n, labels=first.y, generator=generator)
    if is_style_generator(G):
        w0, w1 = G.mapping(first.z, first.y), G.mapping(second.z, first.y)
        return (lambda t: G.synthesize(torch.lerp(w0, w1, t)[:, None].expand(-1, G.num_ws, -1))), "w (linear)"
    return (lambda t: G(slerp(first.z, second.z, t), first.y)), "z (spherical)"


@register_metric("ppl")
class PerceptualPathLength(Metric):
    """Perceptual path length (Karras et al. 2019): feature change per small latent step; lower is smoother."""

    scores = {"ppl": False}
    needs = frozenset({Need.LABELLER})

    def check(self, setting: Setting) -> None:
        if setting.data.kind != "image":
            raise ConfigError(f"ppl measures image change along latent walks; {setting.data.name!r} holds points")
        if not getattr(setting.recipe, "standard_normal_z", False):
            raise ConfigError(f"ppl walks between noise latents of a GAN-family recipe; {type(setting.recipe).__name__}"
                              " draws its latent otherwise")

    @torch.no_grad()
    def score(self, inputs: Inputs) -> dict[str, float]:
        from gankit.metrics import lpips

        labeller = inputs.labellers[self.labeller(inputs.setting)]
        values = []
        with generator_in_eval(inputs) as (G, generator):
            net = lpips.for_ppl(generator.device)
            if net is not None:  # the paper's distance
                distance, self.features = net.distance, net.description
            else:
                distance = feature_distance(lambda x: labeller.extract(x, len(x))[0])
                self.features = f"domain evaluator of {self.labeller(inputs.setting)} (penultimate layer; squared " \
                                f"distance: the VGG16 weights for LPIPS are not at {lpips.vgg16_path()})"
            for start in range(0, inputs.n_fake, inputs.batch_size):
                b = min(inputs.batch_size, inputs.n_fake - start)
                images_at, self.space = latent_walk(G, inputs.setting.recipe, b, generator)
                t = torch.rand(b, 1, device=generator.device, generator=generator)
                values.append(path_lengths(images_at, t, EPSILON, distance, seed=inputs.setting.cfg.seed + start))
        return {"ppl": trimmed_mean(torch.cat(values).double().numpy())}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"ppl": {"epsilon": EPSILON, "pairs": inputs.n_fake, "trim_percentiles": list(TRIM),
                        "space": getattr(self, "space", None),
                        "features": getattr(self, "features", None)}}
