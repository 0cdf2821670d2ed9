"""Export a run's sampling generator to ONNX or TorchScript, check the file, and sample from it without gankit's run.

``export(run, path, format=...)`` writes the EMA generator (where enabled) in eval mode as one graph of plain tensor
inputs (``Recipe.export_form``: noise ``z`` and labels ``y``, or an ``image``), parametrisations (spectral norm,
weight norm) and equalised-lr scales baked into plain weights, the batch axis dynamic, and the run's description in
the file's metadata. The file is written to a temporary name beside ``path``, checked against the PyTorch generator
(onnxruntime / ``torch.jit.load``, batches of 1 and 3) and only then renamed. ``ExportedGenerator`` loads a file
back; gankit/export_eval.py scores one with the run's own evaluation code.

ONNX goes through ``torch.onnx.export(dynamo=False)``, the TorchScript-based exporter: it exports every exportable
preset, in about 0.1 s for a tiny one, where the dynamo exporter takes seconds each (README, "Share and ship").
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from gankit.errors import ConfigError, GankitError, first_line, unknown
from gankit.recipes.export_form import ExportForm, NotExportable, SamplerInput

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
TOLERANCE = 1e-4  # the largest difference from the PyTorch generator a written file may show
CHECK_BATCHES = (1, 3)  # the check runs both: the batch axis is dynamic
METADATA_FILE = "gankit.json"  # TorchScript: the metadata's name among the archive's extra files
OPSET = 17
OLD_NORM_HOOKS = ("SpectralNorm", "WeightNorm")  # torch.nn.utils.spectral_norm / weight_norm: forward pre-hooks


@dataclass
class ExportResult:
    """A written file and how far its outputs are from the PyTorch generator's (max |difference| over the check)."""

    path: Path
    format: str
    max_difference: float
    metadata: dict[str, str]


# --- baking the generator ------------------------------------------------------------------------
def bake(net: nn.Module) -> nn.Module:
    """A deep copy of ``net`` in eval mode whose weights are plain tensors: parametrisations (spectral norm, weight
    norm) replaced by their current value, the old hook-based spectral norm removed, and the equalised learning
    rate's run-time scales multiplied into the weights (Karras et al. 2018). (torch cannot deep-copy a module with
    the old hook-based ``torch.nn.utils.weight_norm``; gankit uses neither old hook.)"""
    from gankit.nets.stylegan import ModulatedConv
    from gankit.nn.layers import EqualConv2d, EqualLinear

    net = copy.deepcopy(net).eval().requires_grad_(False)
    for name, module in list(net.named_modules()):
        if isinstance(module, ModulatedConv):
            parent, _, child = name.rpartition(".")
            setattr(net.get_submodule(parent), child, UnfusedModulatedConv(module))
    for module in list(net.modules()):  # a list: removing a parametrisation changes the module tree
        if parametrize.is_parametrized(module):
            unparametrise(module)
        for key, hook in list(module._forward_pre_hooks.items()):
            if type(hook).__name__ in OLD_NORM_HOOKS:
                hook.remove(module)
                del module._forward_pre_hooks[key]
        with torch.no_grad():
            if isinstance(module, (EqualLinear, EqualConv2d)):
                module.weight.mul_(module.scale)
                module.scale = 1.0
            if isinstance(module, EqualLinear):
                module.bias.mul_(module.lr_mul)
                module.lr_mul = 1.0
    return net


def unparametrise(module: nn.Module) -> None:
    """Replace each parametrised tensor of ``module`` by a plain parameter holding its current value (eval mode:
    spectral norm divides by the sigma its stored vectors give, with no power iteration).

    Not ``parametrize.remove_parametrizations``: it deletes the tensor's property from the module's class, which a
    deep copy shares with the run's own network, and the run's G would lose its weight."""
    values = {name: module.parametrizations[name]().detach().clone() for name in module.parametrizations}
    module.__class__ = module.__class__.__bases__[0]  # parametrize made a subclass of the original per module
    del module._modules["parametrizations"]
    for name, value in values.items():
        module.register_parameter(name, nn.Parameter(value, requires_grad=False))


class UnfusedModulatedConv(nn.Module):
    """StyleGAN2's modulated convolution as the official code's ``fused_modconv=False``: the input scaled by the
    style, one convolution with the shared kernel, the output demodulated. The same numbers as ``ModulatedConv``
    without its per-sample kernels (a grouped convolution whose group count is the batch size, which an exported
    graph would fix)."""

    def __init__(self, conv: nn.Module) -> None:
        super().__init__()
        self.weight = nn.Parameter(conv.weight.detach() * conv.scale, requires_grad=False)  # (out, in, k, k)
        self.affine, self.demodulate, self.up, self.padding = conv.affine, conv.demodulate, conv.up, conv.padding

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        style = self.affine(w)  # (B, in)
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        out = F.conv2d(x * style[:, :, None, None], self.weight, padding=self.padding)  # (B, out, H, W)
        if self.demodulate:  # each sample's kernel norm: sum over in, k, k of (weight * style)^2
            norms = style.pow(2) @ self.weight.pow(2).sum(dim=(2, 3)).T  # (B, out)
            out = out * torch.rsqrt(norms + 1e-8)[:, :, None, None]
        return out


def parametrised_modules(net: nn.Module) -> list[str]:
    """Names of the modules of ``net`` that still compute a weight at run time (none after ``bake``)."""
    return [name for name, module in net.named_modules() if parametrize.is_parametrized(module)
            or any(type(h).__name__ in OLD_NORM_HOOKS for h in module._forward_pre_hooks.values())]


# --- what the recipe exports ----------------------------------------------------------------------
def export_form(run: Any, fmt: str) -> ExportForm:  # noqa: ANN401  (gankit.api.Run)
    """The recipe's export form (its module the run's own sampler, not baked), or a ConfigError naming the preset,
    the format and why not."""
    check_format(fmt)
    try:
        return run.recipe.export_form()
    except NotExportable as e:
        raise ConfigError(f"cannot export the {run.config.preset!r} run {str(run.path)!r} to {fmt}: {e}") from None


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ConfigError(unknown("export format", fmt, FORMATS))
    return fmt


def metadata(run: Any, form: ExportForm, fmt: str, output_shape: tuple[int, ...]) -> dict[str, str]:  # noqa: ANN401
    """What the file says about itself (every value a string; structures as JSON): enough to use it, and for
    ``gankit eval`` to draw the run's inputs, without the run directory."""
    import gankit
    from gankit import config as cfgmod

    latent = next((i for i in form.inputs if i.dtype != torch.int64), form.inputs[0])
    return {"gankit_version": gankit.__version__, "format": fmt, "preset": run.config.preset,
            "recipe": run.config.recipe, "paper": run.config.paper or "", "step": str(run.step),
            "checkpoint": run.checkpoint, "sampler": "ema" if run.recipe.ema is not None else "G",
            "data": run.data.name, "data_kind": run.data.kind,
            "output_shape": json.dumps(["batch", *output_shape]),
            "inputs": json.dumps([i.to_dict() for i in form.inputs]),
            "input_names": ",".join(i.name for i in form.inputs),
            "num_classes": str(run.recipe.label_classes()),
            "latent_size": str(int(torch.Size(latent.shape).numel())),
            "class_names": json.dumps(run.data.class_names or []),
            **form.notes,
            "config": cfgmod.to_yaml(run.config), "data_info": json.dumps(run.data.to_dict())}


# --- writing ------------------------------------------------------------------------------------
def export(run: Any, path: str | Path, *, format: str = "onnx",  # noqa: A002,ANN401  (gankit.api.Run)
           overwrite: bool = False) -> ExportResult:
    """Write ``run``'s sampling generator to ``path`` as ``format`` (onnx or torchscript), check it against the
    PyTorch generator to ``TOLERANCE`` on batches of 1 and 3, and only then put it in place (nothing is written
    when anything fails). ``overwrite``: replace an existing file (else a ConfigError)."""
    path = check_out_path(Path(path), overwrite)
    form = export_form(run, format)
    examples = {b: check_inputs(form.inputs, b) for b in (2, *CHECK_BATCHES)}  # batch 3: twice the size if any size
    device = run.device  # a run on a GPU: its generator runs there for the reference, the export is made on the CPU
    with torch.no_grad(), every_module_in_eval(form.module):  # the run's own generator, parametrisations and all
        expected = {b: form.module(*(t.to(device) for t in x)).float().cpu() for b, x in examples.items()}
    form = replace(form, module=bake(form.module).cpu())
    meta = metadata(run, form, format, tuple(expected[2].shape[1:]))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            WRITERS[format](form, examples[2], tmp, meta)
            exported = ExportedGenerator(tmp, format=format)
            diff = max(max_difference(exported(*examples[b]), expected[b]) for b in CHECK_BATCHES)
        except GankitError:
            raise
        except Exception as e:  # noqa: BLE001  (the exporters and runtimes raise their own types)
            raise ConfigError(f"the {format} export of the {run.config.preset!r} generator failed: {first_line(e)}; "
                              "nothing was written (please report this preset)") from e
        if not diff <= TOLERANCE:
            raise ConfigError(f"the exported {format} generator differs from the PyTorch one by {diff:.3g} (more than "
                              f"{TOLERANCE:g}) on the same inputs; nothing was written (please report this preset: "
                              f"{run.config.preset!r})")
        tmp.chmod(0o666 & ~current_umask())  # mkstemp made it private; the file gets the usual permissions
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(path, format, diff, meta)


def current_umask() -> int:
    """The process's umask (os.umask can only be read by setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def every_module_in_eval(net: nn.Module) -> Iterator[nn.Module]:
    """``net`` in eval mode, each module's own mode restored after: a wrapper made for the export (in train mode, as
    new modules are) must not put the run's generator into train mode on the way out."""
    modes = {module: module.training for module in net.modules()}
    net.eval()
    try:
        yield net
    finally:
        for module, mode in modes.items():
            module.training = mode


def check_out_path(path: Path, overwrite: bool) -> Path:
    """The output file: its folder must exist (nothing is created), and an existing file is kept unless
    ``overwrite``."""
    if not path.parent.is_dir():
        raise ConfigError(f"--out {str(path)!r}: the folder {str(path.parent)!r} does not exist; create it first")
    if path.is_dir():
        raise ConfigError(f"--out {str(path)!r} is a folder; give a file name such as {str(path / 'generator.onnx')!r}")
    if path.exists() and not overwrite:
        raise ConfigError(f"--out {str(path)!r} exists; pass --force (Run.export(..., overwrite=True)) to replace it")
    return path


def check_inputs(inputs: tuple[SamplerInput, ...], batch: int, seed: int = 0) -> tuple[Tensor, ...]:
    """Random inputs of every declared kind for a batch (the same for the same seed); the batch of 3 doubles the
    sides of images that may have any size, so the check covers those axes too."""
    generator = torch.Generator().manual_seed(seed + batch)
    return tuple(i.example(batch, generator, scale=2 if batch == 3 else 1) for i in inputs)


def max_difference(a: Tensor, b: Tensor) -> float:
    if a.shape != b.shape:
        raise ConfigError(f"the exported generator gives shape {tuple(a.shape)}, the PyTorch one {tuple(b.shape)}")
    return float((a.float() - b.float()).abs().max()) if a.numel() else 0.0


def write_onnx(form: ExportForm, example: tuple[Tensor, ...], path: Path, meta: dict[str, str]) -> None:
    """torch.onnx.export (the TorchScript-based exporter), batch axis dynamic, metadata in ``metadata_props``."""
    import onnx

    names = [i.name for i in form.inputs]
    any_size = any(i.any_size for i in form.inputs)
    axes = {i.name: i.axes() for i in form.inputs} | {"samples": {0: "batch", 2: "height", 3: "width"} if any_size
                                                      else {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporters' deprecation and tracer notes
        try:
            torch.onnx.export(form.module, example, str(path), input_names=names, output_names=["samples"],
                              dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)
        except torch.onnx.errors.OnnxExporterError:  # an op it cannot convert (BigGAN's batch norm after a
            batch = torch.export.Dim("batch", min=1)  # reshape): the slower dynamo exporter, from torch.export
            torch.onnx.export(form.module, example, str(path), input_names=names, output_names=["samples"],
                              dynamic_shapes=tuple({0: batch} for _ in names), opset_version=18, dynamo=True,
                              verbose=False)
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, meta)
    onnx.save(model, str(path))


def write_torchscript(form: ExportForm, example: tuple[Tensor, ...], path: Path, meta: dict[str, str]) -> None:
    """torch.jit.trace of the baked module, the metadata as the archive's extra file gankit.json."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes on Python values read from tensors
        traced = torch.jit.trace(form.module, example, check_trace=False)
        torch.jit.save(traced, str(path), _extra_files={METADATA_FILE: json.dumps(meta)})


WRITERS = {"onnx": write_onnx, "torchscript": write_torchscript}


# --- reading back -------------------------------------------------------------------------------
class ExportedGenerator:
    """An exported file run through onnxruntime (ONNX) or torch.jit (TorchScript): ``gen(*inputs) -> samples``
    on the CPU, and the file's ``metadata``."""

    def __init__(self, path: str | Path, *, format: str | None = None) -> None:  # noqa: A002
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"no exported generator at {str(self.path)!r}")
        self.format = format or sniff_format(self.path)
        try:
            self._session, self.metadata = READERS[self.format](self.path)
        except GankitError:
            raise
        except Exception as e:  # noqa: BLE001  (onnxruntime and torch.jit raise their own types for bad files)
            raise ConfigError(f"cannot read {str(self.path)!r} as an exported {self.format} generator: "
                              f"{first_line(e)}") from None
        if "config" not in self.metadata:
            raise ConfigError(f"{str(self.path)!r} holds no gankit metadata: export it with gankit export")

    @property
    def inputs(self) -> list[dict]:
        return json.loads(self.metadata["inputs"])

    def __call__(self, *inputs: Tensor) -> Tensor:
        if self.format == "onnx":
            names = [i.name for i in self._session.get_inputs()]
            out = self._session.run(None, {n: x.detach().cpu().numpy() for n, x in zip(names, inputs)})[0]
            return torch.from_numpy(out)
        with torch.no_grad():
            return self._session(*(x.detach().cpu() for x in inputs))


def sniff_format(path: Path) -> str:
    """onnx or torchscript, from the suffix, else from the first bytes (a TorchScript file is a zip archive)."""
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in (".pt", ".pth", ".ts", ".torchscript"):
        return "torchscript"
    with path.open("rb") as f:
        return "torchscript" if f.read(2) == b"PK" else "onnx"


def read_onnx(path: Path) -> tuple[Any, dict[str, str]]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.log_severity_level = 3  # errors only
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session, dict(session.get_modelmeta().custom_metadata_map)


def read_torchscript(path: Path) -> tuple[Any, dict[str, str]]:
    extra = {METADATA_FILE: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation note
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return module.eval(), json.loads(extra[METADATA_FILE]) if extra[METADATA_FILE] else {}


READERS = {"onnx": read_onnx, "torchscript": read_torchscript}


__all__ = ["FORMATS", "TOLERANCE", "ExportResult", "ExportedGenerator", "bake", "parametrised_modules", "export",
           "export_form", "check_inputs", "check_format", "check_out_path", "sniff_format"]
