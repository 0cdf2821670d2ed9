"""What a style G's coarse and fine styles control (Karras et al. 2019, Sec. 3.1 and Fig. 3): the share of
samples whose class (the domain evaluator's) changes when their coarse styles are swapped for another sample's,
and when their fine styles are.

For n pairs (A, B) of samples (the evaluation's seed): coarse swap = B's styles before the cutoff layer, A's
after; fine swap = A's before, B's after (cutoff: half of the layers, as ``gankit mix``). In the paper, the
coarse styles (pose, face shape) change what an image is, the fine ones (colours, micro-structure) do not:
``mix_coarse_change`` should be well above ``mix_fine_change``.
"""
from __future__ import annotations

from typing import Any

import torch

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Need, Setting, generator_in_eval, register_metric
from gankit.nets.stylegan import is_style_generator, mix_styles


def swapped(G, wa: torch.Tensor, wb: torch.Tensor, cutoff: int) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: ANN001
    """(coarse swap, fine swap) images of per-layer styles wa, wb (B, num_ws, W)."""
    return G.synthesize(mix_styles(wb, wa, cutoff)), G.synthesize(mix_styles(wa, wb, cutoff))


@register_metric("style_mixing")
class StyleMixing(Metric):
    """Share of samples whose class changes when their coarse / fine styles are swapped (a style G)."""

    scores = {"mix_coarse_change": True, "mix_fine_change": False}
    needs = frozenset({Need.LABELLER})

    def check(self, setting: Setting) -> None:
        if setting.data.kind != "image" or setting.data.num_classes < 2:
            raise ConfigError("style_mixing counts class changes: it needs a labelled image data set")
        if not is_style_generator(getattr(setting.recipe, "G", None)):
            raise ConfigError("style_mixing swaps a style G's per-layer styles: use model.arch=stylegan2 or stylegan")

    @torch.no_grad()
    def score(self, inputs: Inputs) -> dict[str, float]:
        recipe = inputs.setting.recipe
        labeller = inputs.labellers[self.labeller(inputs.setting)]
        changed = {"coarse": 0, "fine": 0}
        with generator_in_eval(inputs) as (G, generator):
            self.cutoff = G.num_ws // 2
            for start in range(0, inputs.n_fake, inputs.batch_size):
                b = min(inputs.batch_size, inputs.n_fake - start)
                a, other = (recipe.sample_latent(b, generator=generator) for _ in range(2))
                wa, wb = G.styles(a.z, a.y), G.styles(other.z, other.y)
                classify = lambda x: labeller.extract(x.clamp(-1, 1), b)[1].argmax(1)  # noqa: E731
                base = classify(G.synthesize(wa))
                for name, images in zip(("coarse", "fine"), swapped(G, wa, wb, self.cutoff)):
                    changed[name] += int((classify(images) != base).sum())
        return {f"mix_{k}_change": v / inputs.n_fake for k, v in changed.items()}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"style_mixing": {"pairs": inputs.n_fake, "cutoff": getattr(self, "cutoff", None)}}
