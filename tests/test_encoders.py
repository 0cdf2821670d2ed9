"""The encoder family's shared machinery (gankit/recipes/encoding.py, gankit/nets/encoder.py): Run.encode and
reconstruct, `gankit encode`, `gankit interpolate --from/--to`, `gankit edit` (IcGAN, BiCoGAN), sample grids with
reconstructions, bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.errors import ConfigError
from gankit.nets.encoder import Encoder, Posterior
from gankit.recipes.base import Latent
from gankit.recipes.encoding import Editing, Encoding
from conftest import TINY  # tests/ is on sys.path under pytest


@pytest.fixture(scope="module")
def bigan_run(tmp_path_factory) -> gankit.api.Run:  # noqa: ANN001
    return gankit.train("ali", "digits", out=tmp_path_factory.mktemp("ali") / "run", overrides=TINY)


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory) -> gankit.api.Run:  # noqa: ANN001
    return gankit.train("dcgan", "digits", out=tmp_path_factory.mktemp("dcgan") / "run", overrides=TINY)


@pytest.fixture(scope="module", params=["icgan", "bicogan"])
def editing_run(request, tmp_path_factory) -> gankit.api.Run:  # noqa: ANN001
    """A tiny run of each recipe that edits classes (gankit.recipes.encoding.Editing)."""
    return gankit.train(request.param, "digits", out=tmp_path_factory.mktemp(request.param) / "run", overrides=TINY)


def write_digits(folder: Path, images: torch.Tensor) -> list[Path]:
    """Each (1, H, W) image in [-1, 1] as an 8-bit grey PNG; returns the files in order."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, image in enumerate(images):
        pixels = ((image[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
        files.append(folder / f"digit{i:02d}.png")
        Image.fromarray(pixels, mode="L").save(files[-1])
    return files


def as_read(images: torch.Tensor) -> torch.Tensor:
    """What an 8-bit PNG of ``images`` reads back as."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1


def test_posterior_sample_and_kl() -> None:
    mean, log_std = torch.randn(64, 5), 0.3 * torch.randn(64, 5)
    post = Posterior(mean, log_std)
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(mean, log_std.exp()),
                                                 torch.distributions.Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(post.kl_to_standard_normal(), expected)
    draws = torch.stack([post.sample() for _ in range(4000)])  # (4000, 64, 5)
    torch.testing.assert_close(draws.mean(0), mean, atol=0.1, rtol=0)
    torch.testing.assert_close(draws.std(0), log_std.exp(), atol=0.1, rtol=0)
    assert torch.equal(Posterior(mean).sample(), mean)  # a deterministic encoder gives its mean


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (2,)])
def test_encoder_maps_samples_to_codes(shape: tuple[int, ...]) -> None:
    for stochastic in (False, True):
        post = Encoder(shape, 7, width=8, stochastic=stochastic)(torch.randn(5, *shape))
        assert post.mean.shape == (5, 7) and (post.log_std is None) != stochastic


def test_run_encode_and_reconstruct(bigan_run) -> None:  # noqa: ANN001
    x = bigan_run.input_data().x[:6].cpu()
    latent = bigan_run.encode(x)
    assert latent.z.shape == (6, bigan_run.config.model.z_dim) and latent.y is None
    torch.testing.assert_close(bigan_run.encode(x[2]).z, latent.z[2:3])  # one sample without the batch axis
    recon = bigan_run.reconstruct(x)
    assert recon.shape == x.shape
    torch.testing.assert_close(recon, bigan_run.recipe.generate(gankit.recipes.Latent(latent.z)))  # G(E(x))
    with pytest.raises(ConfigError, match=r"samples of shape \(1, 8, 8\)"):
        bigan_run.encode(torch.zeros(2, 1, 28, 28))


def test_sample_grid_shows_reconstructions_below_the_samples(bigan_run, dcgan_run) -> None:  # noqa: ANN001
    from gankit.viz import picture

    n = 16
    plain = picture(bigan_run.sample(n, seed=0)).shape
    grid = bigan_run.grid(n, seed=0)
    assert grid.shape[2] == plain[2] and grid.shape[1] > 1.8 * plain[1]  # 16 samples, then 16 input | recon pairs
    assert dcgan_run.grid(n, seed=0).shape == plain  # a recipe without an encoder: the samples only


def test_gankit_encode_writes_the_codes_run_encode_gives(bigan_run, tmp_path: Path) -> None:  # noqa: ANN001
    files = write_digits(tmp_path / "in", bigan_run.input_data().x[:5].cpu())
    out = tmp_path / "codes.npz"
    assert main(["encode", str(bigan_run.path), "--input", str(tmp_path / "in"), "--out", str(out), "--device", "cpu"]) == 0
    codes = np.load(out)
    assert list(codes["files"]) == [f.name for f in files]
    expected = gankit.load(bigan_run.path, device="cpu").encode(as_read(bigan_run.input_data().x[:5].cpu())).z
    np.testing.assert_allclose(codes["z"], expected.numpy(), atol=1e-5)


def test_interpolate_between_real_images_starts_at_the_reconstruction(bigan_run, tmp_path: Path) -> None:  # noqa: ANN001
    x = as_read(bigan_run.input_data().x[:2].cpu())
    walk = bigan_run.interpolate(steps=5, start=x[:1], end=x[1:])
    assert walk.shape == (5, 1, 8, 8)
    recon = bigan_run.reconstruct(x)
    torch.testing.assert_close(walk[0], recon[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(walk[-1], recon[1], atol=1e-5, rtol=0)
    a, b = write_digits(tmp_path / "a", x[:1]), write_digits(tmp_path / "b", x[1:])
    out = tmp_path / "walk.png"
    assert main(["interpolate", str(bigan_run.path), "--from", str(a[0]), "--to", str(b[0]), "--steps", "5",
                 "--out", str(out), "--device", "cpu"]) == 0
    assert Image.open(out).size[0] > Image.open(out).size[1]  # one row of 5 steps


def test_encoder_commands_refuse_bad_input_and_write_nothing(bigan_run, dcgan_run, tmp_path: Path,  # noqa: ANN001
                                                             capsys) -> None:  # noqa: ANN001
    good = write_digits(tmp_path / "good", bigan_run.input_data().x[:1].cpu())[0]
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((28, 28), np.uint8), mode="L").save(big)
    colour = tmp_path / "colour.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8), mode="RGB").save(colour)
    out = tmp_path / "codes.npz"
    cases = [
        (["encode", str(dcgan_run.path), "--input", str(good)], "has no encoder"),
        (["encode", str(bigan_run.path), "--input", str(big)], "is 28x28 pixels; this run takes 8x8"),
        (["encode", str(bigan_run.path), "--input", str(colour)], "is colour; this run takes grey"),
        (["encode", str(bigan_run.path), "--input", str(tmp_path / "missing")], "does not exist"),
        (["interpolate", str(bigan_run.path), "--from", str(good)], "needs both --from and --to"),
        (["interpolate", str(dcgan_run.path), "--from", str(good), "--to", str(good)], "has no encoder"),
    ]
    for argv, message in cases:
        target = out if argv[0] == "encode" else tmp_path / "walk.png"
        assert main(argv + ["--out", str(target), "--device", "cpu"]) == 2, argv
        assert message in capsys.readouterr().err, argv
        assert not target.exists() and not list(tmp_path.glob(".*tmp*")), argv


def test_every_encoder_recipe_reconstructs_its_inputs_shape() -> None:
    """Each registered recipe with an encoder implements encode (conformance covers its training)."""
    from gankit.recipes import RECIPES

    encoders = [n for n in RECIPES.names() if issubclass(RECIPES.get(n), Encoding)]
    assert "bigan" in encoders
    for name in encoders:
        cfg = gankit.config.resolve([p for p in gankit.config.list_presets()
                                     if gankit.config.resolve(p).recipe == name][0], "digits",
                                    ["model.g_width=8", "model.d_width=8", "model.z_dim=8", "device=cpu"])
        data = gankit.types.DataInfo("digits", (1, 8, 8), 10, "image")
        recipe = gankit.api.build_recipe(cfg, data, torch.device("cpu"))
        x = torch.rand(3, 1, 8, 8) * 2 - 1
        assert recipe.reconstruct(x).shape == x.shape, name


def test_every_editing_recipe_has_a_preset_and_a_conditional_g() -> None:
    from gankit.recipes import RECIPES

    editing = sorted(n for n in RECIPES.names() if issubclass(RECIPES.get(n), Editing))
    assert editing == ["bicogan", "icgan"]
    for name in editing:
        assert gankit.config.resolve(name).recipe == name


def test_edit_is_g_of_the_encoded_z_with_the_asked_class(editing_run, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """Run.edit gives G(E_z(x), k) for every input; `gankit edit` writes one PNG per input, named as the input."""
    x = editing_run.input_data().x[:5].cpu()
    files = write_digits(tmp_path / "in", x)
    images = as_read(x)
    edited = editing_run.edit(images, 7)
    recipe = editing_run.recipe
    expected = recipe.generate(Latent(recipe.encode_all(images).z, torch.full((5,), 7))).float()
    assert torch.allclose(edited, expected, atol=1e-6)
    assert not torch.allclose(editing_run.edit(images, 2), edited)  # the class is an input of G
    assert editing_run.encode(images).y.shape == (5,)  # E's class head

    out = tmp_path / "out"
    assert main(["edit", str(editing_run.path), "--input", str(tmp_path / "in"), "--class", "7", "--out", str(out),
                 "--device", "cpu"]) == 0
    assert sorted(f.name for f in out.iterdir()) == sorted(f.name for f in files)
    written = torch.from_numpy(np.asarray(Image.open(out / files[0].name), dtype=np.float32)) / 127.5 - 1
    assert torch.allclose(written, edited[0, 0].clamp(-1, 1), atol=1 / 127.5 + 1e-6)


def test_edit_refuses_bad_input_and_writes_nothing(editing_run, bigan_run, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    good = write_digits(tmp_path / "good", editing_run.input_data().x[:1].cpu())[0]
    out = tmp_path / "edited"
    cases = [
        (["edit", str(bigan_run.path), "--input", str(good), "--class", "3"], "cannot edit images"),
        (["edit", str(editing_run.path), "--input", str(good), "--class", "10"], "in 0..9, got [10]"),
        (["edit", str(editing_run.path), "--input", str(good), "--class", "-1"], "in 0..9, got [-1]"),
        (["edit", str(editing_run.path), "--input", str(tmp_path / "missing"), "--class", "3"], "does not exist"),
    ]
    for argv, message in cases:
        assert main(argv + ["--out", str(out), "--device", "cpu"]) == 2, argv
        assert message in capsys.readouterr().err, argv
        assert not out.exists(), argv
    with pytest.raises(ConfigError, match="cannot edit images"):
        bigan_run.edit(torch.zeros(1, 1, 8, 8), 3)


@pytest.mark.parametrize(("preset", "overrides", "message"), [
    ("bicogan", ["conditional=false"], "needs a class-conditional G"),
    ("bicogan", ["model.label_input=concat"], "model.label_input=null"),
    ("bigan", ["conditional=true"], "is unconditional"),
    ("bicogan", ["recipe_args.efl_weight=-1"], "efl_weight=-1"),
    ("bicogan", ["recipe_args.efl=1"], "argument of recipe 'bicogan'"),
])
def test_joint_recipes_refuse_the_wrong_conditioning(preset: str, overrides: list[str], message: str) -> None:
    cfg = gankit.config.resolve(preset, "digits", ["model.g_width=8", "model.d_width=8", "device=cpu", *overrides])
    data = gankit.types.DataInfo("digits", (1, 8, 8), 10, "image")
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        gankit.api.build_recipe(cfg, data, torch.device("cpu"))
