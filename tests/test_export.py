"""gankit export: every exportable preset's generator as ONNX and TorchScript gives the PyTorch generator's samples
(onnxruntime, torch.jit.load; batches of 1 and 3); the others refuse clearly; spectral norm leaves plain weights;
gankit eval scores an exported file as it scores the run; bad input exits 2 and writes nothing."""
from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper
from torch.nn.utils import parametrize

import gankit
from gankit.api import Run, build_recipe
from gankit.cli import main
from gankit.config import list_presets
from gankit.data.datasets import load_configured
from gankit.errors import ConfigError
from gankit.export import FORMATS, TOLERANCE, bake, export, parametrised_modules
from gankit.recipes.base import run_generator
from gankit.recipes.export_form import NotExportable
from gankit.recipes.translation import Translation
from gankit.types import DataInfo
from tests.conftest import SHARED_DATA
from tests.test_conformance import tiny_overrides, train_tiny

# each refusal's reason, by preset: the recipe's export_form says it (gankit/recipes/export_form.py)
NOT_EXPORTABLE = {"pix2pix": "test_dropout", "pix2pix-l1": "test_dropout", "glo": "per-image codes",
                  "bpr": "recommender", "irgan": "recommender", "mle": "softmax", "seqgan": "softmax",
                  "relgan": "softmax", "maskgan": "softmax",
                  "stackgan": "batch size"}


def tiny_recipe(preset: str, tmp_path, paired_npz: str) -> tuple[Run, object]:  # noqa: ANN001
    """A tiny untrained run of ``preset`` (the conformance test's sizes) and its data: export reads networks only."""
    overrides = [o.replace("PAIRED_NPZ", paired_npz) for o in tiny_overrides(preset)]
    if f"data.root={SHARED_DATA}" in overrides and not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not found: the offline data sets live in ../shared/data beside the repo")
    cfg = gankit.config.resolve(preset, None, overrides)
    data = load_configured(cfg.data, split=cfg.data.split, limit=cfg.data.limit, seed=cfg.seed)
    recipe = build_recipe(cfg, DataInfo.of(data), torch.device("cpu"))
    recipe.use_data(data)
    return Run(tmp_path / preset, cfg, recipe.eval(), DataInfo.of(data), 0, torch.device("cpu")), data


def latent_of(run: Run, data, n: int):  # noqa: ANN001, ANN201
    """n of the run's own inputs: noise (and labels, codes) as it samples them, or images of its data."""
    generator = torch.Generator().manual_seed(7)
    if isinstance(run.recipe, Translation):
        return run.recipe.fixed_latent(n, data=data, generator=generator)
    return run.recipe.sample_latent(n, generator=generator)


def run_file(path, fmt: str, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:  # noqa: ANN001
    """The exported file run by its own runtime, not through gankit."""
    if fmt == "onnx":
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        return torch.from_numpy(session.run(None, {k: x.numpy() for k, x in zip(names, inputs)})[0])
    return torch.jit.load(str(path))(*inputs)


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_exports_or_says_why(preset: str, tmp_path, paired_npz) -> None:  # noqa: ANN001
    run, data = tiny_recipe(preset, tmp_path, paired_npz)
    try:
        form = run.recipe.export_form()
    except NotExportable:
        assert preset in NOT_EXPORTABLE, f"{preset} cannot export: add it to the README table and NOT_EXPORTABLE"
        for fmt in FORMATS:
            with pytest.raises(ConfigError, match=f"cannot export the {preset!r} run .* to {fmt}: .*"
                                                  f"{NOT_EXPORTABLE[preset]}"):
                export(run, tmp_path / f"g.{fmt}", format=fmt)
        assert list(tmp_path.iterdir()) == []
        return
    assert preset not in NOT_EXPORTABLE
    latent = latent_of(run, data, 3)
    for fmt in FORMATS:
        result = export(run, tmp_path / f"g.{fmt}", format=fmt)
        meta = result.metadata
        assert (meta["preset"], meta["data"], meta["data_kind"]) == (preset, run.data.name, run.data.kind)
        assert meta["input_names"] == ",".join(i.name for i in form.inputs)
        for n in (1, 3):  # the batch axis is dynamic
            part = latent[:n]
            expected = run_generator(run.recipe.sampler(), part)
            got = run_file(result.path, fmt, form.feed(part.input, part.y))
            assert got.shape == expected.shape
            torch.testing.assert_close(got, expected.float(), atol=TOLERANCE, rtol=0)


def test_spectral_norm_is_baked_into_plain_weights(tmp_path, paired_npz) -> None:  # noqa: ANN001
    """SAGAN's G has spectral norm on every layer: the ONNX file holds each layer's normalised weight W / sigma as
    a plain initializer, never the raw weight, and the run's own G keeps its parametrisations."""
    run, _ = tiny_recipe("sagan", tmp_path, paired_npz)
    G = run.recipe.sampler()
    layers = [m for m in G.modules() if parametrize.is_parametrized(m)]
    assert len(layers) >= 4
    export(run, tmp_path / "g.onnx")
    weights = [numpy_helper.to_array(t) for t in onnx.load(str(tmp_path / "g.onnx")).graph.initializer]
    for layer in layers:
        normalised, raw = layer.weight.detach().numpy(), layer.parametrizations.weight.original.detach().numpy()
        assert not np.allclose(normalised, raw, atol=1e-3)  # sigma is not 1: the two are told apart
        assert any(w.shape == normalised.shape and np.allclose(w, normalised, atol=1e-6) for w in weights)
        assert not any(w.shape == raw.shape and np.allclose(w, raw, atol=1e-6) for w in weights)
    assert all(parametrize.is_parametrized(m) for m in layers)  # baking worked on a copy
    assert not any(parametrize.is_parametrized(m) for m in bake(G).modules())


def test_srgan_exports_any_input_size(tmp_path, paired_npz) -> None:  # noqa: ANN001
    """SRGAN's G is fully convolutional: its exported graph takes images of any size, as the run does."""
    run, _ = tiny_recipe("srgan", tmp_path, paired_npz)
    channels, height, width = run.recipe.input_shape
    images = torch.rand(2, channels, 3 * height, 2 * width, generator=torch.Generator().manual_seed(0)) * 2 - 1
    expected = run.recipe.translate(images)
    for fmt in FORMATS:
        result = export(run, tmp_path / f"g.{fmt}", format=fmt)
        assert json.loads(result.metadata["inputs"])[0]["shape"] == ["batch", channels, "height", "width"]
        torch.testing.assert_close(run_file(result.path, fmt, (images,)), expected, atol=TOLERANCE, rtol=0)


def test_bake_folds_every_kind_of_run_time_weight() -> None:
    """The old hook-based spectral norm, the parametrised weight norm and the equalised learning rate all become
    plain weights with the same outputs; the original network keeps its own."""
    from gankit.nn.layers import EqualConv2d, EqualLinear

    torch.manual_seed(0)
    net = torch.nn.Sequential(EqualLinear(4, 6, lr_mul=0.01, bias_init=0.5), torch.nn.utils.spectral_norm(
        torch.nn.Linear(6, 6)), torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(6, 8)),
        torch.nn.Unflatten(1, (2, 2, 2)), EqualConv2d(2, 3, 1)).eval()
    x = torch.randn(5, 4)
    baked = bake(net)
    torch.testing.assert_close(baked(x), net(x), atol=1e-6, rtol=0)
    assert parametrised_modules(baked) == [] and len(parametrised_modules(net)) == 2
    assert (baked[0].scale, baked[0].lr_mul, baked[4].scale) == (1.0, 1.0, 1.0) and net[0].lr_mul == 0.01
    assert {name for name, _ in baked[1].named_parameters()} == {"weight", "bias"}  # no weight_orig, no u, v


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):  # noqa: ANN001, ANN201
    """A tiny trained GAN on ring8 (points: FID on the points themselves, no feature network to train)."""
    return train_tiny("gan", tiny_overrides("gan"), tmp_path_factory.mktemp("runs") / "gan")


def scores(capsys) -> dict[str, float]:  # noqa: ANN001
    lines = capsys.readouterr().out.splitlines()
    return {line.split()[0]: float(line.split()[1]) for line in lines if line.startswith("  ")}


def test_eval_of_an_exported_file_matches_the_run(ring_run, tmp_path, capsys) -> None:  # noqa: ANN001
    for fmt in FORMATS:
        out = tmp_path / f"gan{FORMATS[fmt]}"
        assert main(["export", str(ring_run.path), "--format", fmt, "--out", str(out)]) == 0
        assert "max |difference| from the PyTorch generator" in capsys.readouterr().out
        assert main(["eval", str(ring_run.path), "--metrics", "fid", "--n", "64", "--seed", "3"]) == 0
        from_run = scores(capsys)
        assert main(["eval", str(out), "--metrics", "fid", "--n", "64", "--seed", "3"]) == 0
        from_file = scores(capsys)
        assert from_file["fid"] == pytest.approx(from_run["fid"], rel=1e-5) and from_file["fid"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gan.onnx", "gan.pt"]  # eval wrote nothing beside them
    saved = tmp_path / "s.json"
    assert main(["eval", str(out), "--metrics", "fid", "--n", "64", "--seed", "3", "--out", str(saved)]) == 0
    assert json.loads(saved.read_text())["eval/fid"] == pytest.approx(from_file["fid"])


def test_bad_input_exits_2_and_writes_nothing(ring_run, tmp_path, capsys) -> None:  # noqa: ANN001
    run = tmp_path / "run"
    shutil.copytree(ring_run.path, run)
    (tmp_path / "kept.onnx").write_bytes(b"mine")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    cases = {
        "unknown export format 'onxx'. Did you mean 'onnx'": ["--format", "onxx", "--out", str(tmp_path / "g.onnx")],
        "does not exist; create it first": ["--out", str(tmp_path / "missing" / "g.onnx")],
        "exists; pass --force": ["--out", str(tmp_path / "kept.onnx")],
        "no checkpoint at": ["--checkpoint", "best", "--out", str(tmp_path / "g.onnx")],
    }
    for message, args in cases.items():
        assert main(["export", str(run), *args]) == 2, message
        assert message in capsys.readouterr().err
    latest = run / "checkpoints" / "latest.pt"
    latest.write_bytes(latest.read_bytes()[:1000])  # truncated
    assert main(["export", str(run), "--out", str(tmp_path / "g.onnx")]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "kept.onnx").read_bytes() == b"mine"


def test_a_run_that_cannot_export_exits_2(tmp_path, capsys) -> None:  # noqa: ANN001
    run = train_tiny("glo", tiny_overrides("glo") + ["train.steps=1"], tmp_path / "run")
    assert main(["export", str(run.path), "--format", "torchscript", "--out", str(tmp_path / "g.pt")]) == 2
    assert "cannot export the 'glo' run" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
