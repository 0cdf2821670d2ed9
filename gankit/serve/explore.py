"""What the explorer page asks of a run: samples moved along a latent direction, walks between two seeds, an
uploaded image translated, reconstructed or inpainted, and the run's evaluations and symptoms. Plain functions of
a loaded ``Run``; the Flask app (gankit/serve/__init__.py) parses the requests and calls them."""
from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from gankit.api import Run
from gankit.errors import ConfigError
from gankit.recipes import InfoGAN, Latent
from gankit.recipes.base import slerp
from gankit.recipes.encoding import Encoding
from gankit.recipes.inpainting import ContextEncoderGAN
from gankit.recipes.translation import Translation
from gankit.report import eval_rows, symptoms
from gankit.report import png_data_uri as report_data_uri
from gankit.train.rundir import RunDir
from gankit.viz import picture

UPLOAD_TASKS = {"inpaint": "fills the run's hole in your image", "translate": "translates your image",
                "reconstruct": "encodes your image and draws it back, G(E(x))"}


@dataclass(frozen=True)
class Direction:
    """Where the slider moves every sample's noise z: ``amount`` times a unit vector, either a random direction
    drawn from ``seed`` or the axis of z's entry ``dim`` (of z flattened per sample)."""

    amount: float
    seed: int = 0
    dim: int | None = None  # None: the random direction of ``seed``

    def vector(self, z: Tensor) -> Tensor:
        """The unit vector, shaped like one sample's z (z: (N, ...))."""
        size = z[0].numel()
        if self.dim is not None:
            if not 0 <= self.dim < size:
                raise ConfigError(f"dim={self.dim}: this run's z has {size} entries per sample; pick 0..{size - 1}")
            unit = torch.zeros(size, dtype=z.dtype, device=z.device)
            unit[self.dim] = 1.0
        else:
            generator = torch.Generator(device=z.device).manual_seed(self.seed)
            unit = torch.randn(size, generator=generator, dtype=z.dtype, device=z.device)
            unit = unit / unit.norm()
        return unit.view(z.shape[1:])


def noise_of(run: Run, latent: Latent) -> Tensor:
    """The latent's noise z, or a clear error for runs whose G takes images or no noise."""
    if latent.z is None or not latent.z.is_floating_point():
        raise ConfigError(f"preset {run.config.preset!r} takes {'images' if latent.source is not None else 'no noise'}"
                          " as G's input: it has no latent space to move along or interpolate in")
    return latent.z


def sample_latent(run: Run, n: int, *, seed: int, label: int | None = None, truncation: float | None = None,
                  direction: Direction | None = None, temperature: float | None = None) -> Latent:
    """G's inputs for n samples of ``seed`` (``Run.latent``), with z moved along ``direction`` before the
    truncation trick; with neither it equals ``run.latent(n, label, seed=seed, truncation=truncation)``."""
    latent = run.latent(n, label, seed=seed, temperature=temperature)
    if direction is not None and direction.amount != 0:
        z = noise_of(run, latent)
        latent = replace(latent, z=z + direction.amount * direction.vector(z))
    return latent if truncation is None else run.recipe.truncate(latent, truncation)


def between(run: Run, seed_a: int, seed_b: int, steps: int, *, label: int | None = None,
            truncation: float | None = None) -> Latent:
    """``steps`` latents on the great circle (slerp) from sample ``seed_a``'s z to sample ``seed_b``'s, with A's
    class (or ``label``): the first is exactly ``sample_latent(run, 1, seed=seed_a)``."""
    a, b = run.latent(1, label, seed=seed_a), run.latent(1, label, seed=seed_b)
    za, zb = noise_of(run, a), noise_of(run, b)
    flat_a, flat_b = za.reshape(1, -1), zb.reshape(1, -1)
    z = torch.cat([slerp(flat_a, flat_b, float(t)) for t in torch.linspace(0, 1, steps)]).view(steps, *za.shape[1:])
    latent = Latent(z, None if a.y is None else a.y.expand(steps))
    return latent if truncation is None else run.recipe.truncate(latent, truncation)


def render(run: Run, latent: Latent, nrow: int | None = None) -> dict[str, Any]:
    """G's output on ``latent`` as the page shows it: {'sentences': [...]} for text runs, else {'image': a PNG
    data URI} of the recipe's picture (``Recipe.show``: translations beside their inputs, reconstructions below)."""
    output = run.recipe.generate(latent)
    lines = run.recipe.describe(output)
    if lines is not None:
        return {"sentences": lines}
    images, shown_nrow = run.recipe.show(latent, output)
    return {"image": png_data_uri(picture(images.float().cpu(), nrow=shown_nrow or nrow))}


def code_walk(run: Run, code: str, *, seed: int, rows: int, steps: int) -> dict[str, Any]:
    """An InfoGAN code varied along each row (``Run.interpolate``: categories, or -2..2), the rest fixed per row."""
    if not isinstance(run.recipe, InfoGAN):
        raise ConfigError(f"preset {run.config.preset!r} has no latent codes: code walks are for infogan runs")
    return {"image": png_data_uri(picture(run.interpolate(rows, steps, code=code, seed=seed), nrow=steps))}


def upload_task(run: Run) -> str | None:
    """What the page does with an uploaded image for this run (a key of UPLOAD_TASKS), or None."""
    if isinstance(run.recipe, ContextEncoderGAN):
        return "inpaint"
    if isinstance(run.recipe, Translation):
        return "translate"
    if isinstance(run.recipe, Encoding) and run.data.kind == "image":
        return "reconstruct"
    return None


def upload_shape(run: Run) -> tuple[int, tuple[int, int]]:
    """(channels, (H, W)) an uploaded image is converted and resized to: the run's training input."""
    task = upload_task(run)
    if task is None:
        raise ConfigError(f"preset {run.config.preset!r} generates from noise: uploads are for translation "
                          "(pix2pix, cyclegan, stargan, srgan), encoder (bigan, ali, aae, vae, ...) and inpainting "
                          "(context-encoder) runs")
    shape = run.recipe.input_shape if task in ("inpaint", "translate") else run.data.sample_shape
    return shape[0], (shape[1], shape[2])


def apply_upload(run: Run, image: Tensor, to: str | None = None) -> dict[str, Any]:
    """The uploaded image (1, C, H, W) in [-1, 1] beside what the run makes of it (input | output)."""
    task = upload_task(run)
    if task == "inpaint":
        out = run.inpaint(image)
    elif task == "translate":
        out = run.translate(image, to=to)
    else:
        out = run.reconstruct(image)
    upsampled = torch.nn.functional.interpolate(image, size=out.shape[2:], mode="nearest")  # SRGAN: out is larger
    return {"image": png_data_uri(picture(torch.cat([upsampled, out]), nrow=2)), "task": task}


def png_data_uri(image: Tensor) -> str:
    """A (3, H, W) uint8 picture as a PNG data URI the page shows in an <img>."""
    buffer = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, format="PNG")
    return report_data_uri(buffer.getvalue())


def evaluations(run: Run) -> list[dict[str, Any]]:
    """The run's evaluations (metrics.jsonl eval rows, read afresh): step, checkpoint, scores and protocol."""
    return [{"step": r.get("step"), "checkpoint": r.get("checkpoint", ""), "protocol": r.get("protocol", {}),
             "scores": {k.removeprefix("eval/"): v for k, v in r.items() if k.startswith("eval/")}}
            for r in eval_rows(RunDir(run.path).rows())]


def describe_run(run: Run, index: int) -> dict[str, Any]:
    """What the page needs to know of a run to offer its controls (fixed while the server runs)."""
    probe = run.latent(1, seed=0)
    try:
        run.recipe.truncate(probe, 1.0)
        truncates = True
    except ConfigError:
        truncates = False
    noise = probe.z is not None and probe.z.is_floating_point()
    task = upload_task(run)
    return {"index": index, "name": run.path.name, "preset": run.config.preset, "recipe": run.config.recipe,
            "paper": run.config.paper, "data": run.data.name, "kind": run.data.kind, "step": run.step,
            "steps": run.config.train.steps, "classes": run.recipe.label_classes(),
            "codes": run.recipe.code_names() if isinstance(run.recipe, InfoGAN) else [],
            "domains": run.recipe.domain_names() if isinstance(run.recipe, Translation) else [],
            "text": run.writes_text(), "noise": noise, "z_size": probe.z[0].numel() if noise else 0,
            "truncates": truncates, "upload": task, "upload_what": UPLOAD_TASKS.get(task or ""),
            "report": f"/runs/{index}/report.html"}


def training_samples(run: Run) -> list[str]:
    """The sample grids training kept (paths inside the run, oldest first)."""
    return [p.relative_to(run.path).as_posix() for p in sorted(RunDir(run.path).samples.glob("step_*.png"))]


def run_state(run: Run) -> dict[str, Any]:
    """What changes while the server runs: evaluations, symptoms and the training sample grids."""
    return {"evaluations": evaluations(run), "symptoms": symptoms(RunDir(run.path)),
            "samples": training_samples(run)}
