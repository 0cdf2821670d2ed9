"""Hub-format models: ``Run.save_pretrained(DIR)``, ``gankit.from_pretrained(DIR_OR_REPO)`` and ``Run.push_to_hub``.

A pretrained folder has the layout of huggingface_hub's ``PyTorchModelHubMixin``:

- ``config.json``: ``library_name: gankit``, the gankit version, the run's resolved config, its DataInfo (with a
  text run's vocabulary), the step, what the weights are, and the training's history: budget, evaluations (with
  their protocols; non-finite scores as strings, "inf") and symptoms;
- ``model.safetensors``: the recipe's weights without its discriminators (safetensors, never a pickle): G, its EMA
  copy with its buffers, and the other networks used after training (encoders, a second generator, learnt codes).
  A discriminator is kept only where it is the trained product, the semi-supervised GANs' classifier, or on request
  (``discriminator=True``: to fine-tune): sampling, translating and encoding never call it, and a folder without
  it cannot be mistaken for a resumable run (the optimiser states are not saved either);
- ``README.md``: the model card (gankit/modelcard.py), and ``samples.png``, the sample grid it shows.

``gankit.from_pretrained`` (gankit/api.py) reads a folder with ``read_pretrained``, rebuilds the recipe from
config.json with ``build_recipe`` and loads exactly the tensors the config says were saved (no more, none missing,
every shape equal), then returns a ``gankit.api.Run``.
Folders are written to a temporary folder beside the target and renamed at the end.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gankit.errors import CheckpointError, ConfigError, GankitError, first_line
from gankit.modelcard import SAMPLES_NAME, history, write_card
from gankit.types import DataInfo

CONFIG_NAME = "config.json"  # the names PyTorchModelHubMixin uses (huggingface_hub.constants)
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
FORMAT_VERSION = 1  # of config.json's layout; a reader refuses a newer one
HUB_FILES = [CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, SAMPLES_NAME]
REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")  # owner/name: a Hugging Face model repository


class HubError(GankitError):
    """The Hugging Face Hub cannot be reached or refused a request (offline, no token, no such repository)."""


# --- what is saved ---------------------------------------------------------------------------------------
def published_discriminators(recipe: torch.nn.Module, discriminator: bool) -> list[str]:
    """The module paths of the discriminators left out of model.safetensors: all of them, except with
    ``discriminator`` and except one trained as the model's classifier (SSGAN's D: ``classifier_group``)."""
    if discriminator:
        return []
    group = getattr(recipe, "classifier_group", None)
    nets = recipe.networks()
    classifiers = [nets[role] for role in recipe.groups().get(group, [])] if group else []
    left_out = [D for D in recipe.discriminators() if not any(D is c for c in classifiers)]
    return [name for name, module in recipe.named_modules() if any(module is D for D in left_out)]


def _under(key: str, prefixes: list[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def published_state(recipe: torch.nn.Module, left_out: list[str]) -> dict[str, Tensor]:
    """The recipe's state dict without the modules ``left_out``, as contiguous CPU tensors of their own (safetensors
    refuses tensors that share memory)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in recipe.state_dict().items() if not _under(k, left_out)}


def weights_info(run: Any, left_out: list[str], state: dict[str, Tensor]) -> dict[str, Any]:  # noqa: ANN401  (Run)
    """config.json's account of model.safetensors: its file and format, the networks in it and those left out."""
    saved = sorted({k.split(".")[0] for k in state})
    return {"file": WEIGHTS_NAME, "format": "safetensors", "networks": saved, "left_out": left_out,
            "complete": not left_out, "sampler": "ema" if run.recipe.ema is not None else "G", "tensors": len(state),
            "parameters": sum(v.numel() for v in state.values())}


def hub_config(run: Any, weights: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN401  (Run)
    """config.json: what gankit needs to rebuild the recipe, and what the folder holds."""
    import gankit

    earlier = read_config(run.path) if is_pretrained_folder(run.path) else None
    return {"library_name": "gankit", "gankit_version": gankit.__version__, "format_version": FORMAT_VERSION,
            "preset": run.config.preset, "recipe": run.config.recipe, "paper": run.config.paper, "step": run.step,
            **history(run, earlier), "weights": weights, "data": run.data.to_dict(), "config": config_to_dict(run.config)}


def config_to_dict(cfg: Any) -> dict[str, Any]:  # noqa: ANN401  (Config)
    """The resolved config as plain JSON values."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.structured(cfg))  # type: ignore[return-value]


def config_from_dict(values: dict[str, Any], where: Path) -> Any:  # noqa: ANN401  (Config)
    """config.json's ``config`` back to a validated Config; a CheckpointError naming the file when it is not one."""
    from gankit import config as cfgmod

    try:
        return cfgmod.from_dict(values)
    except (ConfigError, ValueError) as e:
        raise CheckpointError(f"{where}: its 'config' is not a gankit config this version reads ({e})") from None


# --- writing a folder ------------------------------------------------------------------------------------
def write_folder(run: Any, folder: Path, *, load_as: str, discriminator: bool = False) -> None:  # noqa: ANN401
    """config.json, model.safetensors, samples.png and README.md of ``run`` into the existing ``folder``;
    ``load_as``: the name the card's example passes to ``gankit.from_pretrained`` (a folder or a repo id)."""
    from safetensors.torch import save

    run.recipe.sampler()  # EMA: the batch-norm statistics measured for the averaged weights are what gets saved
    left_out = published_discriminators(run.recipe, discriminator)
    state = published_state(run.recipe, left_out)
    config = hub_config(run, weights_info(run, left_out, state))
    (folder / WEIGHTS_NAME).write_bytes(save(state, metadata={"format": "pt", "library": "gankit"}))
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2, allow_nan=False) + "\n")
    write_card(run, config, folder, load_as=load_as)


def check_out(out: Path, force: bool) -> None:
    """A ConfigError unless ``out`` is free: absent or an empty folder, or with ``force`` a pretrained folder gankit
    wrote (never any other folder: --force replaces it whole)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the pretrained model")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise ConfigError(f"--out {out} exists and is not empty; pick a new folder or pass --force (Run.save_pretrained"
                          "(..., force=True)) to replace it")
    if not written_by_gankit(out):
        raise ConfigError(f"--out {out} is not a pretrained folder written by gankit: --force replaces only those; "
                          "pick a new folder, or empty this one yourself")


def written_by_gankit(folder: Path) -> bool:
    """Whether ``folder`` is a pretrained folder whose config.json gankit wrote (and this version reads)."""
    if not is_pretrained_folder(folder):
        return False
    try:
        read_config(folder)
    except CheckpointError:
        return False
    return True


@contextmanager
def staged_folder(out: Path, force: bool) -> Iterator[Path]:
    """A temporary folder beside ``out`` to write into; renamed to ``out`` when the body succeeds (replacing an
    existing ``out`` only with ``force``), removed when it fails: a reader sees the old folder or the new one."""
    check_out(out, force)
    made = [p for p in reversed(out.absolute().parents) if not p.exists()]  # removed again when writing fails
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # left by a killed earlier attempt of this process id
    tmp.mkdir()  # (not mkdtemp: its mode 0700 would stay on the published folder)
    try:
        yield tmp
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old{os.getpid()}")
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old)
        made = []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in reversed(made):
            folder.rmdir()


def save_pretrained(run: Any, out: str | Path, *, discriminator: bool = False, force: bool = False,  # noqa: ANN401
                    push: str | None = None, token: str | None = None, private: bool | None = None) -> Path:
    """Write ``run`` as a pretrained folder at ``out`` (atomically); with ``push`` (a repo id) upload it there too,
    and keep the folder only once the upload succeeded."""
    out = Path(out)
    with staged_folder(out, force) as tmp:
        write_folder(run, tmp, load_as=push or str(out), discriminator=discriminator)
        if push:
            upload(tmp, push, token=token, private=private, message=f"gankit: {run.config.preset} at step {run.step}")
    return out


def push_to_hub(run: Any, repo_id: str, *, token: str | None = None, private: bool | None = None,  # noqa: ANN401
                discriminator: bool = False) -> str:
    """Upload ``run`` as a pretrained folder to the Hub model repository ``repo_id`` (created when absent); returns
    the repository's URL. ``token``: a write token (default: HF_TOKEN or ``hf auth login``)."""
    with tempfile.TemporaryDirectory(prefix="gankit-hub-") as tmp:
        write_folder(run, Path(tmp), load_as=repo_id, discriminator=discriminator)
        return upload(Path(tmp), repo_id, token=token, private=private,
                      message=f"gankit: {run.config.preset} at step {run.step}")


def upload(folder: Path, repo_id: str, *, token: str | None, private: bool | None, message: str) -> str:
    """create_repo (when absent) and upload_folder with huggingface_hub; HubError when the Hub cannot be reached."""
    from huggingface_hub import HfApi

    check_repo_id(repo_id)
    api = HfApi(token=token)
    with hub_errors(repo_id, "push to"):
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=message)
    return str(url)


def check_repo_id(repo_id: str) -> None:
    if not REPO_ID.match(repo_id):
        raise ConfigError(f"{repo_id!r} is not a Hugging Face repository id; give it as OWNER/NAME (e.g. "
                          "your-name/dcgan-mnist)")


@contextmanager
def hub_errors(repo_id: str, action: str, hint: str = "") -> Iterator[None]:
    """huggingface_hub's network and HTTP errors as a HubError that says what failed and what to do instead
    (``hint``: said after what failed)."""
    from huggingface_hub import errors

    try:
        yield
    except (OSError, ValueError, errors.HTTPError) as e:  # HTTPError: the HTTP client's own (DNS, refused, timeout)
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        why = "HF_HUB_OFFLINE is set" if offline else f"{type(e).__name__}: {first_line(e)}"
        raise HubError(f"cannot {action} the Hugging Face Hub repository {repo_id!r} ({why}){hint}. Online, check the repo "
                       "id and your token (HF_TOKEN or `hf auth login`); offline, write and load a local folder: "
                       "`gankit publish RUN --out DIR` and gankit.from_pretrained('DIR')") from None


# --- loading ---------------------------------------------------------------------------------------------
@dataclass
class Pretrained:
    """A pretrained folder read and checked: its config, DataInfo and step, and its weights, not yet loaded into a
    recipe (``gankit.api.from_pretrained`` builds the recipe and calls ``load_into``)."""

    folder: Path
    config: Any  # gankit.config.Config
    data: DataInfo
    step: int
    state: dict[str, Tensor]
    left_out: list[str]  # the discriminators config.json says were not saved

    def load_into(self, recipe: torch.nn.Module) -> None:
        """The weights into ``recipe`` (built from ``config`` and ``data``), strictly: ``load_weights``."""
        load_weights(recipe, self.state, self.left_out, self.folder / WEIGHTS_NAME)


def is_pretrained_folder(path: Path) -> bool:
    """A folder with a config.json and no run's config.yaml (what ``gankit.load`` hands to from_pretrained)."""
    return (path / CONFIG_NAME).is_file() and not (path / "config.yaml").is_file()


def read_pretrained(name: str, *, device: torch.device, revision: str | None = None,
                    token: str | None = None) -> Pretrained:
    """A local pretrained folder, or a Hub repo id (OWNER/NAME) downloaded with ``snapshot_download``, read and
    checked: config.json from gankit, model.safetensors readable (onto ``device``)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = resolve_folder(name, revision=revision, token=token)
    meta = read_config(folder)
    cfg = config_from_dict(meta["config"], folder / CONFIG_NAME)
    path = folder / WEIGHTS_NAME
    try:
        state = load_file(str(path), device=str(device))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"cannot read {path}: missing, corrupt or not safetensors ({e})") from None
    return Pretrained(folder, cfg, DataInfo.from_dict(meta["data"]), int(meta["step"]), state,
                      list(meta["weights"].get("left_out", [])))


def resolve_folder(name: str, *, revision: str | None, token: str | None) -> Path:
    """A local folder as it is; an OWNER/NAME that is no local path: its files from the Hub (snapshot_download)."""
    path = Path(name).expanduser()
    if path.exists() or not REPO_ID.match(name):
        if not path.is_dir():
            raise CheckpointError(f"{name} is not a folder: give a folder written by `gankit publish` / "
                                  "Run.save_pretrained, or a Hugging Face repo id OWNER/NAME")
        return path
    from huggingface_hub import snapshot_download

    with hub_errors(name, "download from", f"; nor is there a local folder {name}"):
        return Path(snapshot_download(name, revision=revision, token=token, allow_patterns=HUB_FILES,
                                      library_name="gankit"))


def read_config(folder: Path) -> dict[str, Any]:
    """config.json of a gankit pretrained folder; a CheckpointError for a missing, corrupt or foreign one."""
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{folder} is not a gankit pretrained folder: no {CONFIG_NAME} (write one with "
                              "`gankit publish RUN --out DIR`; a run directory loads with gankit.load)")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e})") from None
    library = meta.get("library_name") if isinstance(meta, dict) else None
    if library != "gankit":
        hint = next((f", a {k.split('_')[0]} model" for k in ("transformers_version", "_diffusers_version")
                     if isinstance(meta, dict) and k in meta), "")
        raise CheckpointError(f"{path} was not written by gankit (library_name {library!r}{hint}); "
                              "gankit.from_pretrained loads folders written by `gankit publish` / Run.save_pretrained")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION or not {"config", "data", "step", "weights"} <= set(meta):
        raise CheckpointError(f"{path}: a gankit config.json of format {meta.get('format_version')!r} with the keys "
                              f"{sorted(meta)}; this gankit reads format {FORMAT_VERSION} (upgrade gankit)")
    return meta


def load_weights(recipe: torch.nn.Module, state: dict[str, Tensor], left_out: list[str], path: Path) -> None:
    """Load ``state`` into ``recipe``: every tensor the recipe has outside ``left_out`` and nothing else, each of
    its shape (as ``load_state_dict`` checks it: a buffer sized by the data, StackGAN's captions, takes the saved
    size); a CheckpointError naming the keys that differ otherwise."""
    expected = {k for k in recipe.state_dict() if not _under(k, left_out)}
    problems = [(what, keys) for what, keys in (("missing", sorted(expected - state.keys())),
                                                 ("unexpected", sorted(state.keys() - expected))) if keys]
    if not problems:
        try:
            recipe.load_state_dict(state, strict=False)  # the left-out discriminators keep their initial weights
            return
        except RuntimeError as e:  # torch names each tensor of the wrong shape
            problems = [("wrong shape", [line.strip().removeprefix("size mismatch for ") for line in str(e).splitlines()
                                         if "size mismatch" in line] or [first_line(e)])]
    said = "; ".join(f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}" for what, keys in problems)
    raise CheckpointError(f"{path} does not match the networks its config.json builds ({said}); the folder's files "
                          "come from different models: publish the run again")
