"""What an exported sampling generator takes and runs (``Recipe.export_form``; ``gankit export`` writes it).

Each recipe family answers, in one hook, whether its sampler is one forward pass of plain tensors and with which
inputs: noise ``z`` (and labels ``y``) for the noise GANs, an ``image`` for the translation recipes, an image and
its ``mask`` for inpainting. A family that cannot export raises ``NotExportable`` saying why; gankit/export.py
turns that into a ConfigError naming the preset and the format. The trainer never calls any of this.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError

Feed = Callable[[Tensor, "Tensor | None"], tuple[Tensor, ...]]


class NotExportable(ConfigError):
    """A recipe whose sampler cannot become one exported graph; the message says why."""


@dataclass(frozen=True)
class SamplerInput:
    """One input of the exported graph: (B, *shape) of ``dtype``; labels (int64) take values 0..classes-1.
    ``any_size``: an image (C, H, W) whose height and width may differ from ``shape``'s (SRGAN's G)."""

    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype = torch.float32
    classes: int = 0
    doc: str = ""
    any_size: bool = False

    def example(self, batch: int, generator: torch.Generator, scale: int = 1) -> Tensor:
        """A random input for checks: N(0, 1) noise, images in [-1, 1], or labels in 0..classes-1; ``scale``
        multiplies the height and width of an ``any_size`` image."""
        shape = (self.shape[0], *(side * scale for side in self.shape[1:])) if self.any_size else self.shape
        if self.dtype == torch.int64:
            return torch.randint(self.classes, (batch, *shape), generator=generator)
        if self.name in ("image", "mask"):
            values = torch.rand(batch, *shape, generator=generator)
            return (values > 0.5).float() if self.name == "mask" else values * 2 - 1
        return torch.randn(batch, *shape, generator=generator)

    def axes(self) -> dict[int, str]:
        """The dynamic axes of this input in the exported graph: the batch, and an ``any_size`` image's sides."""
        return {0: "batch", 2: "height", 3: "width"} if self.any_size else {0: "batch"}

    def to_dict(self) -> dict:
        shape = ["batch", self.shape[0], "height", "width"] if self.any_size else ["batch", *self.shape]
        return {"name": self.name, "shape": shape, "dtype": str(self.dtype).removeprefix("torch."),
                "classes": self.classes, "doc": self.doc}


@dataclass
class ExportForm:
    """The module to export (``module(*inputs)`` -> samples), its inputs, and ``feed``: the graph's inputs for a
    call of the recipe's sampler, ``sampler()(latent.input, latent.y)``, so an exported file samples what the run
    samples for the same latent. ``notes``: extra metadata (e.g. InfoGAN's code layout)."""

    module: nn.Module
    inputs: tuple[SamplerInput, ...]
    feed: Feed
    notes: dict[str, str] = field(default_factory=dict)


class LatentSampler(nn.Module):
    """net(input, y) as a module of plain tensor arguments: (input,) or (input, y)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x, y)


def feed_input_and_labels(x: Tensor, y: Tensor | None) -> tuple[Tensor, ...]:
    """The default feed: (input,) or (input, y)."""
    return (x,) if y is None else (x, y)


# why a recipe whose G reads its batch size as a number cannot export (StackGAN's caption encoder)
PYTHON_BATCH_SIZE = ("its generator reads the batch size as a Python number (len() of an input) to shape tensors, "
                     "which tracing (torch.jit.trace and the ONNX exporter) records as a constant, so the graph "
                     "would take one batch size only")


def labels_input(classes: int, doc: str) -> SamplerInput:
    return SamplerInput("y", (), torch.int64, classes=classes, doc=doc)


def noise_form(recipe, label_doc: str = "class label", classes: int | None = None) -> ExportForm:  # noqa: ANN001
    """Noise GANs: ``z`` shaped as ``sample_latent`` draws it, plus ``y`` when the sampler takes labels (``classes``
    values; default: the recipe's ``label_classes``)."""
    device = next(recipe.parameters()).device
    latent = recipe.sample_latent(2, generator=torch.Generator(device=device).manual_seed(0))
    latent_doc = "G's latent as the run draws it: N(0, I) for the GAN family, AAE's prior, InfoGAN's z_layout"
    inputs = [SamplerInput("z", tuple(latent.z.shape[1:]), doc=latent_doc)]
    if latent.y is not None:
        inputs.append(labels_input(recipe.label_classes() if classes is None else classes, label_doc))
    return ExportForm(LatentSampler(recipe.sampler()), tuple(inputs), feed_input_and_labels)


def image_form(recipe) -> ExportForm:  # noqa: ANN001  (Translation)
    """Translation recipes: an ``image`` (B, C, H, W) in [-1, 1], plus the target domain ``y`` when G takes one."""
    inputs = [SamplerInput("image", tuple(recipe.input_shape), doc="input image in [-1, 1]",
                           any_size=recipe.any_input_size)]
    if recipe.label_classes():
        inputs.append(labels_input(recipe.label_classes(), "target domain"))
    return ExportForm(LatentSampler(recipe.sampler()), tuple(inputs), feed_input_and_labels)


__all__ = ["PYTHON_BATCH_SIZE", "NotExportable", "SamplerInput", "ExportForm", "LatentSampler", "noise_form",
           "image_form", "labels_input", "feed_input_and_labels"]
