"""The Python API: ``gankit.train(...) -> Run`` and ``gankit.load(run_dir) -> Run``."""
from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit import config as cfgmod
from gankit import distributed
from gankit.config import Config
from gankit.distributed import SHARED
from gankit.errors import ConfigError, GankitError
from gankit.recipes import RECIPES, InfoGAN, Latent, Recipe
from gankit.recipes.base import eval_mode
from gankit.recipes.encoding import Encoding
from gankit.recipes.translation import Translation
from gankit.train.checkpoint import LATEST, check_world_size, load_checkpoint, saved_world_size
from gankit.train.rundir import RunDir
from gankit.train.trainer import Trainer, configure_determinism
from gankit.types import DataInfo

# keys that may change when a run is resumed: they do not touch the networks or the data order
RESUMABLE_KEYS = ("train.steps", "train.checkpoint_every", "train.sample_every", "train.log_every",
                  "train.keep_checkpoints", "train.progress", "device", "symptoms.enabled")


def pick_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU. Under torchrun a CUDA device is this process's GPU, cuda:LOCAL_RANK."""
    if name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise ConfigError(f"device={name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} but CUDA is not available here; use device=cpu or device=auto")
    if device.type == "cuda" and distributed.world_size() > 1:
        if device.index not in (None, distributed.local_rank()):
            raise ConfigError(f"device={name!r}: under torchrun each process trains on its own GPU, cuda:LOCAL_RANK; "
                              "use device=cuda or device=auto (CUDA_VISIBLE_DEVICES picks the GPUs)")
        device = torch.device("cuda", distributed.local_rank())
    return device


class Run:
    """A trained (or training) GAN in its run directory."""

    def __init__(self, path: Path, cfg: Config, recipe: Recipe, data: DataInfo, step: int, device: torch.device,
                 checkpoint: str = LATEST) -> None:
        self.path, self.config, self.recipe, self.data, self.step, self.device = path, cfg, recipe, data, step, device
        self.checkpoint = checkpoint  # the file the weights came from, e.g. latest.pt or best.pt
        self._input_data = None  # translation runs: the data set their inputs come from, loaded on first use

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, preset={self.config.preset!r}, data={self.data.name!r}, step={self.step})"

    def _generator(self, seed: int | None) -> torch.Generator | None:
        return torch.Generator(device=self.device).manual_seed(seed) if seed is not None else None

    def _labels(self, n: int, labels: int | list[int] | Tensor | None) -> Tensor | None:
        if labels is None:
            return None
        classes = self.recipe.label_classes()
        if not classes:
            raise ConfigError(f"preset {self.config.preset!r} is not conditional: it cannot sample a chosen class")
        labels = torch.as_tensor(labels, dtype=torch.long, device=self.device).reshape(-1)
        labels = labels.expand(n) if labels.numel() == 1 else labels
        if labels.numel() != n or int(labels.min()) < 0 or int(labels.max()) >= classes:
            raise ConfigError(f"class labels must be {n} values in 0..{classes - 1}, got {labels.tolist()[:8]}")
        return labels

    def latent(self, n: int, labels: int | list[int] | Tensor | None = None, *, seed: int | None = None,
               truncation: float | None = None, temperature: float | None = None) -> Latent:
        """G's inputs for n samples: noise, or (translation runs) n input images of the run's data set; runs with an
        encoder also keep real images of the data set, whose reconstructions ``grid`` shows. ``truncation``: psi of
        the truncation trick (``Recipe.truncate``; None or 1: none); ``temperature``: the text recipes' sampling
        temperature (``Recipe.at_temperature``; None: 1)."""
        wants_data = isinstance(self.recipe, Translation) or (isinstance(self.recipe, Encoding) and self.data.kind == "image")
        data = self.input_data() if wants_data else None
        latent = self.recipe.fixed_latent(n, labels=self._labels(n, labels), data=data, generator=self._generator(seed))
        latent = latent if truncation is None else self.recipe.truncate(latent, truncation)
        return latent if temperature is None else self.recipe.at_temperature(latent, temperature)

    def sample(self, n: int, labels: int | list[int] | Tensor | None = None, *, seed: int | None = None,
               truncation: float | None = None, temperature: float | None = None) -> Tensor:
        """n samples on the CPU (images (n, C, H, W) in [-1, 1], points (n, D), token ids (n, T): ``sentences``, video
        clips (n, T, C, H, W)).

        ``labels``: a class (or one per sample) for conditional recipes; for InfoGAN, the
        value of the first categorical code; for StarGAN, the target domain. Translation runs
        translate n images of their data set's test split (train when it has none; fewer when
        the split holds fewer). ``truncation``: the truncation trick's psi in (0, 1] (``Recipe.truncate``).
        """
        out = self.recipe.generate(self.latent(n, labels, seed=seed, truncation=truncation, temperature=temperature))
        return (out.float() if out.is_floating_point() else out).cpu()

    def writes_text(self) -> bool:
        """Whether this run's samples are lines of text: its recipe decodes them (it overrides ``Recipe.describe``:
        sentences, recommendations)."""
        return type(self.recipe).describe is not Recipe.describe

    def sentences(self, n: int, *, seed: int | None = None, temperature: float | None = None) -> list[str]:
        """n generated sentences (text runs), decoded with the vocabulary the run was trained with."""
        lines = self.recipe.describe(self.sample(n, seed=seed, temperature=temperature))
        if lines is None:
            raise ConfigError(f"preset {self.config.preset!r} makes {self.data.kind} samples, not sentences; use "
                              "Run.sample or Run.grid")
        return lines

    def grid(self, n: int, labels: int | list[int] | Tensor | None = None, *, seed: int | None = None,
             truncation: float | None = None, temperature: float | None = None) -> Tensor:
        """A picture of n samples as (3, H, W) uint8: an image grid, a scatter plot of points, or for
        translation runs rows of input | output [| target]; runs with an encoder add rows of input | reconstruction
        pairs of test images below the samples."""
        from gankit.viz import picture

        latent = self.latent(n, labels, seed=seed, truncation=truncation, temperature=temperature)
        images, nrow = self.recipe.show(latent, self.recipe.generate(latent))
        return picture(images.float().cpu(), nrow=nrow)

    def from_text(self, captions: str | list[str], n: int = 8, *, seed: int | None = None,
                  grid: bool = False) -> Tensor:
        """Text-to-image runs (StackGAN): n samples for each caption, caption-major, (len(captions) n, C, H, W) in
        [-1, 1] on the CPU; ``grid``: the picture (3, H, W) uint8 with one row of stage I | stage II pairs per
        caption. DataError for an empty caption or words outside the run's vocabulary (naming them)."""
        from gankit.data.captions import encode_captions
        from gankit.data.text import Vocabulary
        from gankit.recipes.stackgan import StackGAN
        from gankit.viz import picture

        if not isinstance(self.recipe, StackGAN):
            raise ConfigError(f"preset {self.config.preset!r} does not take text: --text needs a text-to-image run "
                              "(gankit train stackgan)")
        ids = encode_captions(Vocabulary(self.data.tokens), [captions] if isinstance(captions, str) else list(captions))
        latent = self.recipe.text_latent(ids, n, generator=self._generator(seed))
        if not grid:
            return self.recipe.generate(latent).float().cpu()
        images, nrow = self.recipe.show(latent, self.recipe.generate(latent), per_row=n)
        return picture(images.float().cpu(), nrow=nrow)

    def texture(self, size: int, n: int = 1, *, seed: int | None = None, tile: bool = False) -> Tensor:
        """Texture runs (sgan, psgan, markovian-gan): n textures of size x size px from spatial noise of the matching
        size, as a (3, H, W) uint8 picture (a grid when n > 1). ``tile``: seamlessly tileable textures (periodic
        noise; gankit/recipes/texture.py), their side rounded up to whole noise positions."""
        from gankit.recipes.texture import is_texture_recipe
        from gankit.viz import picture

        if not is_texture_recipe(self.recipe):
            raise ConfigError(f"--size/--tile make textures of any size: they need a texture preset (sgan, psgan, "
                              f"markovian-gan); the run {str(self.path)!r} is {self.config.preset!r}")
        images = self.recipe.texture(n, size, tileable=tile, generator=self._generator(seed))
        return picture(images.float().cpu(), nrow=None)

    def mix(self, rows: int = 4, cols: int = 4, *, cutoff: int | None = None, seed: int | None = None) -> Tensor:
        """The style-mixing grid of a style G (Karras et al. 2019, Fig. 3) as (3, H, W) uint8: the top row holds
        ``cols`` samples B, the left column ``rows`` samples A, and cell (i, j) is drawn with A_i's coarse styles
        (the layers before ``cutoff``; default: the first half, the low resolutions) and B_j's fine ones."""
        from gankit.nets.stylegan import is_style_generator, mix_styles
        from gankit.viz import picture

        G = self.recipe.sampler()
        if not is_style_generator(G):
            raise ConfigError(f"gankit mix needs a style generator (model.arch=stylegan2 or stylegan); the run "
                              f"{str(self.path)!r} has a {type(G).__name__}")
        cut = G.num_ws // 2 if cutoff is None else cutoff
        if not 0 < cut < G.num_ws:
            raise ConfigError(f"--cutoff={cut}: the first fine layer, in 1..{G.num_ws - 1} (G has {G.num_ws} styles)")
        generator = self._generator(0 if seed is None else seed)
        a, b = (self.recipe.sample_latent(k, generator=generator) for k in (rows, cols))
        with torch.no_grad(), eval_mode(G):
            wa, wb = G.styles(a.z, a.y), G.styles(b.z, b.y)
            ia, ib = G.synthesize(wa), G.synthesize(wb)
            coarse = wa[:, None].expand(-1, cols, -1, -1).flatten(0, 1)  # (rows * cols, num_ws, W): row i's A
            fine = wb[None].expand(rows, -1, -1, -1).flatten(0, 1)  # column j's B
            cells = G.synthesize(mix_styles(coarse, fine, cut)).view(rows, cols, *ia.shape[1:])
        blank = torch.full_like(ia[:1], -1.0)
        grid = [blank, ib] + [torch.cat([ia[i:i + 1], cells[i]]) for i in range(rows)]
        return picture(torch.cat(grid).float().cpu(), nrow=cols + 1)

    def input_data(self):  # noqa: ANN201  (Dataset)
        """The data a translation run takes its inputs from: its test split, else its train split (loaded once)."""
        if self._input_data is None:
            from gankit.data.datasets import load_configured
            from gankit.errors import DataError

            try:
                data = load_configured(self.config.data, split="test")
            except DataError:
                data = load_configured(self.config.data, split="train")
            self._input_data = data.to(self.device)
        return self._input_data

    def input_spec(self) -> tuple[int, tuple[int, int] | None]:
        """(channels, (H, W) or None when any size works) of the images translate() takes."""
        if not isinstance(self.recipe, Translation):
            raise ConfigError(f"preset {self.config.preset!r} generates from noise; translate() is for the translation "
                              "recipes (pix2pix, cyclegan, stargan, srgan). Use sample()")
        shape = self.recipe.input_shape
        return shape[0], None if self.recipe.any_input_size else (shape[1], shape[2])

    def translate(self, images: Tensor, to: int | str | None = None) -> Tensor:
        """Translate images (N, C, H, W) in [-1, 1] of G's input domain; ``to`` names the target domain
        (StarGAN: a class name or index; CycleGAN: "B" (default) or "A" for B -> A). Returns CPU images."""
        channels, size = self.input_spec()
        images = torch.as_tensor(images, dtype=torch.float32)
        if images.dim() != 4 or images.shape[1] != channels or (size is not None and tuple(images.shape[2:]) != size):
            raise ConfigError(f"translate: images must be (N, {', '.join(map(str, self.recipe.input_shape))}) in "
                              f"[-1, 1] for this run (its training input size); got {tuple(images.shape)}")
        return self.recipe.translate(images.to(self.device), self.domain_index(to)).float().cpu()

    def inpaint_spec(self) -> tuple[int, tuple[int, int]]:
        """(channels, (H, W)) of the images inpaint() fills; a clear error for a run that does not inpaint."""
        from gankit.recipes.inpainting import ContextEncoderGAN

        if not isinstance(self.recipe, ContextEncoderGAN):
            raise ConfigError(f"preset {self.config.preset!r} does not fill holes; inpaint is for context-encoder runs")
        shape = self.recipe.input_shape
        return shape[0], (shape[1], shape[2])

    def inpaint(self, images: Tensor, mask: Tensor | str | Path | None = None) -> Tensor:
        """Fill holes in images (N, C, H, W) in [-1, 1] with a context-encoder run (Pathak et al. 2016). ``mask``: 1 on
        the hole, 0 elsewhere, (H, W) or (1 or N, 1, H, W), or a PNG path (white on the hole); None: the run's own
        mask (its central hole, or random blocks seeded by each image). Returns the completed images on the CPU."""
        from gankit.data.masks import check_hole, read_mask

        channels, size = self.inpaint_spec()
        images = torch.as_tensor(images, dtype=torch.float32)
        if images.dim() != 4 or images.shape[1] != channels or tuple(images.shape[2:]) != size:
            raise ConfigError(f"inpaint: images must be (N, {channels}, {size[0]}, {size[1]}) in [-1, 1] for this run "
                              f"(its training size); got {tuple(images.shape)}")
        if isinstance(mask, (str, Path)):
            mask = read_mask(mask, size)
        hole = None if mask is None else check_hole(mask, len(images), size).to(self.device)
        return self.recipe.inpaint(images.to(self.device), hole).float().cpu()

    def domain_index(self, to: int | str | None) -> int | None:
        """A domain given by name or index -> its index (None stays None)."""
        names = self.recipe.domain_names() if isinstance(self.recipe, Translation) else []
        if to is None or isinstance(to, int):
            return to
        if to in names:
            return names.index(to)
        if str(to).isdigit():
            return int(to)
        from gankit.errors import unknown

        raise ConfigError(unknown("domain", str(to), names) if names else
                          f"preset {self.config.preset!r} translates in one direction only: drop --to (got {to!r})")

    def interpolate(self, rows: int = 8, steps: int = 10, *, code: str | None = None, seed: int | None = None,
                    start: Tensor | None = None, end: Tensor | None = None) -> Tensor:
        """A latent walk: (rows * steps, ...) samples, row-major; ``code`` varies one InfoGAN code. With ``start``
        and ``end`` images (N, C, H, W) in [-1, 1] (runs with an encoder): the walk from each start image's code
        to its end image's, N rows."""
        if (start is None) != (end is None):
            raise ConfigError("interpolate between real images needs both a start and an end image (--from and --to)")
        if start is not None:
            if code is not None:
                raise ConfigError("--code walks one InfoGAN code between random samples; drop it with --from/--to")
            a, b = self.check_images(start, "interpolate --from"), self.check_images(end, "interpolate --to")
            if len(a) != len(b):
                raise ConfigError(f"interpolate: {len(a)} start image(s) but {len(b)} end image(s); give as many of each")
            latent = self.encoder().walk_between(a.to(self.device), b.to(self.device), steps)
        else:
            latent = self.recipe.walk(rows, steps, code=code, generator=self._generator(seed))
        return self.recipe.generate(latent).float().cpu()

    # --- runs with an encoder (gankit/recipes/encoding.py) ------------------------------------------
    def encoder(self) -> Encoding:
        """The recipe, when it has an encoder; else a clear error naming the recipes that do."""
        if not isinstance(self.recipe, Encoding):
            having = ", ".join(n for n in RECIPES.names() if issubclass(RECIPES.get(n), Encoding))
            raise ConfigError(f"preset {self.config.preset!r} (recipe {self.config.recipe!r}) has no encoder: encode, "
                              f"reconstruct and interpolate --from/--to need a run of a recipe with one ({having})")
        return self.recipe

    def check_images(self, images: Tensor, what: str = "images") -> Tensor:
        """``images`` as float (N, *sample_shape), or a clear error naming the shape this run takes."""
        self.encoder()
        images = torch.as_tensor(images, dtype=torch.float32)
        want = tuple(self.data.sample_shape)
        if images.dim() == len(want):
            images = images[None]
        if tuple(images.shape[1:]) != want or len(images) == 0:
            raise ConfigError(f"{what}: this run takes samples of shape {want} (its training data, {self.data.name!r}) "
                              f"in [-1, 1], as (N, {', '.join(map(str, want))}); got {tuple(images.shape)}")
        return images

    def encode(self, images: Tensor) -> Latent:
        """The codes of real samples (N, *sample_shape) in [-1, 1]: G's inputs that reproduce them, on the CPU
        (``.z``, and ``.y`` for IcGAN's and BiCoGAN's class)."""
        latent = self.encoder().encode_all(self.check_images(images, "encode").to(self.device))
        return Latent(latent.z.float().cpu(), None if latent.y is None else latent.y.cpu())

    def edit(self, images: Tensor, to: int | list[int] | Tensor) -> Tensor:
        """IcGAN and BiCoGAN runs: real samples (N, *sample_shape) in [-1, 1] given class ``to`` (one, or one per
        image) while keeping their style, G(E_z(x), to); on the CPU."""
        from gankit.recipes.encoding import Editing

        if not isinstance(self.recipe, Editing):
            raise ConfigError(f"preset {self.config.preset!r} (recipe {self.config.recipe!r}) cannot edit images: "
                              "edit needs an encoder of the class as well as of z (presets icgan, bicogan)")
        images = self.check_images(images, "edit")
        return self.recipe.edit(images.to(self.device), self._labels(len(images), to)).float().cpu()

    def reconstruct(self, images: Tensor) -> Tensor:
        """G(E(x)) of real samples (N, *sample_shape) in [-1, 1], on the CPU."""
        return self.encoder().reconstruct(self.check_images(images, "reconstruct").to(self.device)).float().cpu()

    def evaluate(self, metrics: list[str] | str | None = None, *, n: int | None = None, features: str | None = None,
                 split: str | None = None, seed: int | None = None, truncation: float | None = None,
                 log: bool = True) -> dict[str, Any]:
        """Score this generator (defaults: the run's ``eval`` config) and, with ``log``, append the
        row (scores and protocol) to the run's metrics.jsonl. Returns {'eval/fid': ..., 'protocol': {...}}.
        ``truncation``: score samples drawn with the truncation trick at this psi (recorded in the protocol)."""
        from gankit.evaluate import evaluate_once

        if isinstance(metrics, str):
            metrics = [m.strip() for m in metrics.split(",") if m.strip()]
        row = evaluate_once(self.config, self.data, self.recipe, self.device, self.step, metrics=metrics, n=n,
                            features=features, split=split, seed=seed, truncation=truncation)
        row["checkpoint"] = self.checkpoint
        if log:
            run = RunDir(self.path)
            run.log(row)
            run.close()
        return row

    def export(self, path: str | Path, *, format: str = "onnx", overwrite: bool = False):  # noqa: A002,ANN201
        """Write the sampling generator to ``path`` as ONNX or TorchScript (gankit/export.py), checked against this
        run's generator before it is put in place; returns the ExportResult (path, max difference, metadata)."""
        from gankit.export import export

        return export(self, path, format=format, overwrite=overwrite)

    def info(self) -> dict[str, Any]:
        n_params = {name: sum(p.numel() for p in params) for name, params in self.recipe.param_groups().items()}
        return {"path": str(self.path), "preset": self.config.preset, "recipe": self.config.recipe,
                "paper": self.config.paper, "data": self.data.to_dict(), "step": self.step,
                "steps": self.config.train.steps, "parameters": n_params, "ema": self.config.ema,
                "loss": self.config.loss, "codes": self.recipe.code_names() if isinstance(self.recipe, InfoGAN) else []}

    def save_pretrained(self, out: str | Path, *, discriminator: bool = False, force: bool = False) -> Path:
        """Write this run as a Hub-format folder (config.json, model.safetensors, the README.md model card and its
        samples.png; gankit/hub.py), atomically; ``gankit.from_pretrained(out)`` loads it. ``discriminator``: keep
        the discriminators too (to fine-tune); ``force``: replace a non-empty ``out``."""
        from gankit.hub import save_pretrained

        return save_pretrained(self, out, discriminator=discriminator, force=force)

    def push_to_hub(self, repo_id: str, *, token: str | None = None, private: bool | None = None,
                    discriminator: bool = False) -> str:
        """Upload this run as a Hub-format folder to the Hugging Face model repository ``repo_id`` (OWNER/NAME,
        created when absent) and return its URL; ``token``: a write token (default: HF_TOKEN or ``hf auth login``)."""
        from gankit.hub import push_to_hub

        return push_to_hub(self, repo_id, token=token, private=private, discriminator=discriminator)


def seed_everything(seed: int) -> None:
    """Seed every generator training may touch (torch, CUDA, numpy, random)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    SHARED.seed(seed)


def build_recipe(cfg: Config, data: DataInfo, device: torch.device) -> Recipe:
    """The recipe named by the config, with networks for ``data``, on ``device``."""
    check_data_kind(cfg, data)
    seed_everything(cfg.seed)
    recipe = RECIPES.get(cfg.recipe).create(cfg, data).to(device)
    if cfg.train.channels_last:
        recipe.to(memory_format=torch.channels_last)
    if cfg.ema is not None:
        recipe.enable_ema(cfg.ema)
    if cfg.train.compile:
        twice = recipe.differentiates_twice()
        if twice:
            raise ConfigError(f"train.compile=true: torch.compile cannot back-propagate through a gradient, and "
                              f"this run's {', '.join(twice)} would need it; train without compile, or without them")
        for net in recipe.networks().values():
            net.compile()  # in place: the state dict, and so the checkpoints, are unchanged
    return recipe


def check_data_kind(cfg: Config, data: DataInfo) -> None:
    """A clear error for a recipe on data of a kind it does not train on (an image GAN on text, SeqGAN on images)."""
    kinds = RECIPES.get(cfg.recipe).data_kinds
    if data.kind in kinds:
        return
    takers = sorted(name for name in RECIPES if data.kind in RECIPES.get(name).data_kinds)
    kinds_said = " or ".join([", ".join(kinds[:-1]), kinds[-1]] if len(kinds) > 1 else kinds)
    raise ConfigError(f"preset {cfg.preset!r} (recipe {cfg.recipe!r}) trains on {kinds_said} data, but data set "
                      f"{data.name!r} is {data.kind} data; use a recipe for {data.kind} data "
                      f"({', '.join(takers) or 'none yet'}) or a data set of {kinds_said}")


def load(run_dir: str | Path, *, device: str = "auto", checkpoint: str | Path | None = None) -> Run:
    """A finished or checkpointed run, ready to sample from; also a pretrained folder (``gankit publish``, read by
    ``from_pretrained``), so every verb that takes a RUN takes one."""
    from gankit.hub import is_pretrained_folder

    run = RunDir(run_dir)
    if is_pretrained_folder(run.path):
        if checkpoint is not None:
            raise ConfigError(f"{run.path} is a pretrained folder: it holds one set of weights; drop --checkpoint")
        return from_pretrained(run.path, device=device)
    if not run.config.is_file():
        raise ConfigError(f"{run.path} is not a gankit run directory (no config.yaml)")
    cfg = cfgmod.from_yaml(run.config)
    dev = pick_device(device)
    path = _checkpoint_path(run, checkpoint)
    state = load_checkpoint(path, map_location=dev)
    data = DataInfo.from_dict(state["data"])
    recipe = build_recipe(cfg, data, dev)
    recipe.load_state_dict(state["recipe"])
    recipe.eval()
    return Run(run.path, cfg, recipe, data, int(state["step"]), dev, checkpoint=path.name)


def from_pretrained(name: str | Path, *, device: str = "auto", revision: str | None = None,
                    token: str | None = None) -> Run:
    """A Hub-format folder written by ``Run.save_pretrained`` / ``gankit publish``, ready to sample from: a local
    path, or a Hugging Face repo id (OWNER/NAME) that huggingface_hub downloads (gankit/hub.py reads and checks it)."""
    from gankit.hub import WEIGHTS_NAME, read_pretrained

    dev = pick_device(device)
    saved = read_pretrained(str(name), device=dev, revision=revision, token=token)
    recipe = build_recipe(saved.config, saved.data, dev)
    saved.load_into(recipe)
    recipe.eval()
    return Run(saved.folder, saved.config, recipe, saved.data, saved.step, dev, checkpoint=WEIGHTS_NAME)


def _checkpoint_path(run: RunDir, checkpoint: str | Path | None) -> Path:
    """latest.pt by default; 'best' or 'latest' by name; else a file name in checkpoints/ or a path."""
    if checkpoint is None:
        return run.checkpoints / LATEST
    name = str(checkpoint)
    if name in ("best", "latest"):
        return run.checkpoints / f"{name}.pt"
    in_run = run.checkpoints / name
    return in_run if in_run.is_file() else Path(name)


def default_out(cfg: Config) -> Path:
    return Path("runs") / f"{cfg.preset}-{Path(cfg.data.name).stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def train(preset: str, data: str | None = None, *, out: str | Path | None = None,
          overrides: list[str] | None = None, **config: Any) -> Run:
    """Train ``preset`` (e.g. "dcgan") on ``data``; returns the finished Run.

    Config values come as nested keyword arguments (``train={"steps": 500}``,
    ``loss="hinge"``) and/or ``key=value`` strings in ``overrides``.
    """
    started = time.time()  # train.minutes budgets the whole run, data loading included
    cfg = cfgmod.resolve(preset, data, overrides, extra=config or None)
    with distributed.process_group(pick_device(cfg.device).type):  # under torchrun: join the job, leave it at the end
        run = RunDir(distributed.broadcast_object(str(out or default_out(cfg))))  # rank 0's clock names the run
        run.create()
        try:
            run.write_text(run.config, cfgmod.to_yaml(cfg))
            return _fit(cfg, run, resume=False, started=started)
        except GankitError:
            run.discard_unstarted()  # e.g. the data could not be loaded: leave no half-made run behind
            raise


def resume(run_dir: str | Path, overrides: list[str] | None = None) -> Run:
    """Continue a run from its latest checkpoint (exactly, in deterministic mode), with as many processes as it
    was trained with."""
    where = RunDir(run_dir)
    if not where.config.is_file():
        raise ConfigError(f"cannot resume {where.path}: no config.yaml there (is it a gankit run directory?)")
    cfg = cfgmod.from_yaml(where.config)
    if overrides:
        for item in overrides:
            key = item.split("=", 1)[0]
            if key not in RESUMABLE_KEYS:
                raise ConfigError(f"{key} cannot change when resuming (it would change the networks, data or "
                                  f"optimisation); allowed: {', '.join(RESUMABLE_KEYS)}")
        cfg = cfgmod.validate(cfgmod.merge([cfg, cfgmod.parse_overrides(overrides)]))
    # before joining the job: every rank fails at once, with the same message
    check_world_size(saved_world_size(where.checkpoints / LATEST), distributed.launched_world_size(), where.path)
    with distributed.process_group(pick_device(cfg.device).type):
        run = RunDir(where.path)  # after joining: RunDir.main knows the rank
        if overrides:
            run.write_text(run.config, cfgmod.to_yaml(cfg))
        return _fit(cfg, run, resume=True)


def _evaluation(cfg: Config, info: DataInfo, recipe: Recipe, device: torch.device):  # noqa: ANN202
    """The evaluation run every eval.every steps, built before training so a missing feature network
    fails at once; building it (it may train a domain evaluator) leaves the training RNG untouched."""
    if not cfg.eval.every:
        return None
    from gankit.evaluate import Evaluation, best_key
    from gankit.train.checkpoint import rng_state, set_rng_state

    best_key(cfg.eval)
    state = rng_state()
    try:
        with distributed.main_first():  # a domain evaluator is trained and cached once, by rank 0
            return Evaluation(cfg.eval, cfg.data, info, recipe, device, train_missing=True)
    finally:
        set_rng_state(state)


def _build_for_rank(cfg: Config, info: DataInfo, device: torch.device, dataset) -> Recipe:  # noqa: ANN001  (Dataset)
    """``build_recipe`` (the same networks on every rank) shown the training data (``Recipe.use_data``), then under
    torchrun: batch norms synchronised with model.sync_bn, and this rank's own global random stream (``rank_seed``:
    rank 0 keeps the one a single process has, so one process trains exactly as before)."""
    recipe = build_recipe(cfg, info, device)
    recipe.use_data(dataset)
    if distributed.world_size() > 1:
        if cfg.model.sync_bn:
            from gankit.train.parallel import convert_sync_batchnorm

            for net in recipe.networks().values():  # not the EMA copy: it never trains, and samples on rank 0 alone
                convert_sync_batchnorm(net, device)
        if distributed.rank() > 0:
            seed = distributed.rank_seed(cfg.seed)
            random.seed(seed)
            np.random.seed(seed)
            torch.manual_seed(seed)  # the shared noise stream (SHARED) stays as build_recipe seeded it
    return recipe


def _fit(cfg: Config, run: RunDir, *, resume: bool, started: float | None = None) -> Run:
    from gankit.data import InMemoryLoader
    from gankit.data.datasets import load_configured

    configure_determinism(cfg.train.deterministic)
    device = pick_device(cfg.device)
    with distributed.main_first():  # a download (or a cache) is made once, by rank 0
        dataset = load_configured(cfg.data, split=cfg.data.split, limit=cfg.data.limit, seed=cfg.seed).to(device)
    info = DataInfo.of(dataset)
    recipe = _build_for_rank(cfg, info, device, dataset)
    reference = dataset.x[:2000] if dataset.kind == "points" else None
    evaluation = _evaluation(cfg, info, recipe, device)

    def make_trainer(cfg: Config, recipe: Recipe) -> Trainer:
        loader = InMemoryLoader(dataset, cfg.train.batch_size, seed=cfg.seed, augment=cfg.data.augment)
        return Trainer(recipe, loader, cfg, run, device, info, reference=reference, evaluation=evaluation)

    trainer = make_trainer(cfg, recipe)
    if resume:
        trainer.resume()
    elif cfg.train.minutes is not None:  # a resumed run keeps the steps chosen when it began
        steps = trainer.fit_budget(started if started is not None else time.time())  # the same on every rank
        cfg = cfgmod.replace(cfg, train={"steps": steps})
        run.write_text(run.config, cfgmod.to_yaml(cfg))
        # the warm-up trained this copy: start afresh, exactly as a run given train.steps would (a recipe may
        # read train.steps when it is built, e.g. SRGAN's pre-training length)
        deadline = trainer.deadline
        recipe = _build_for_rank(cfg, info, device, dataset)
        trainer = make_trainer(cfg, recipe)
        trainer.deadline = deadline
    trainer.fit()
    if run.main:
        from gankit.report import write_report

        write_report(run.path)
    return Run(run.path, cfg, recipe, info, trainer.step, device)
