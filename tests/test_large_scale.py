"""The large-scale family (issue 13): R3GAN's backbone, BigGAN's generator and orthogonal regularisation, and the
truncation trick, against values worked out by hand and with real training signals.

The r3gan preset's learning check is in tests/test_preset_learning.py; biggan's is here, on the run that also
checks the truncation trick (class accuracy and domain FID against the untrained G of the same seed), on 500 samples.
"""
from __future__ import annotations

import math
import re

import pytest
import torch

import gankit
from gankit.bench import learning_scores
from gankit.cli import main
from gankit.config import resolve
from gankit.errors import ConfigError
from gankit.nets import ModelConfig, NetSpec, build_nets
from gankit.nets.biggan import z_chunks
from gankit.nets.r3gan import ResidualBlock
from gankit.recipes.base import Latent
from gankit.tricks import OrthogonalRegularisation, off_diagonal_gram
from tests.conftest import TINY, seed_all

pytestmark = pytest.mark.usefixtures("evaluator_cache")

R3 = ModelConfig(arch="r3gan", g_width=16, d_width=16, g_norm=None, d_norm=None, blocks=2)
BIG = ModelConfig(arch="biggan", g_width=16, d_width=16, d_norm=None, embed_dim=8, g_spectral_norm=True,
                  d_spectral_norm=True, label_input="projection")


# ---------------------------------------------------------------- R3GAN's backbone

def test_r3gan_residual_blocks_start_as_the_identity() -> None:
    """Fix-up initialisation: each residual branch ends in a zero layer, so a block passes its input through."""
    seed_all(0)
    G, D = build_nets(NetSpec((1, 28, 28), 16), R3)
    blocks = [m for net in (G, D) for m in net.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 2 * 3 * 2  # G and D, 3 resolutions (7, 14, 28), 2 blocks each
    x = torch.randn(2, blocks[0].widen.in_channels, 7, 7)
    assert torch.equal(blocks[0](x), x)
    assert all(float(b.widen.weight.detach().std()) > 0 for b in blocks)  # the other layers are not zero


def test_r3gan_refuses_normalisation_and_widths_follow_resolution() -> None:
    G, D = build_nets(NetSpec((3, 32, 32), 16), R3)
    widths = [b.widen.in_channels for b in G.body if isinstance(b, ResidualBlock)]
    assert widths == [64, 64, 64, 64, 32, 32, 16, 16]  # 4, 8, 16, 32 px: 4x, 4x, 2x, 1x g_width
    with pytest.raises(ConfigError, match="model.g_norm=null"):
        build_nets(NetSpec((3, 32, 32), 16), ModelConfig(arch="r3gan", d_norm=None))


# ---------------------------------------------------------------- BigGAN

def test_biggan_z_is_split_between_the_input_and_every_block() -> None:
    assert z_chunks(64, 2) == [22, 21, 21] and z_chunks(120, 5) == [20] * 6  # BigGAN's 120 = 6 x 20 at 128 px
    with pytest.raises(ConfigError, match="z_dim >= 4"):
        z_chunks(3, 3)
    seed_all(0)
    G, _ = build_nets(NetSpec((1, 28, 28), 64, g_classes=10, d_classes=10), BIG)
    G.eval()
    z, y = torch.randn(4, 64), torch.arange(4)
    base = G(z, y)
    for lo, hi in [(0, 22), (22, 43), (43, 64)]:  # each chunk (input layer, block 1, block 2) changes the image
        moved = z.clone()
        moved[:, lo:hi] += 1
        assert (G(moved, y) - base).abs().mean() > 1e-3
    assert (G(z, y.flip(0)) - base).abs().mean() > 1e-3  # and so does the class
    embeddings = [m for m in G.modules() if isinstance(m, torch.nn.Embedding)]
    assert len(embeddings) == 1 and embeddings[0].weight.shape == (10, 8)  # one embedding shared by the blocks


def test_off_diagonal_gram_by_hand() -> None:
    """W = [[1, 2], [3, 4], [0, 1]]: W W^T = [[5, 11, 2], [11, 25, 4], [2, 4, 1]]; the off-diagonal squares sum to
    2 (121 + 4 + 16) = 282. A conv kernel is read as out_channels rows."""
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, 1.0]])
    assert off_diagonal_gram(w) == 282.0
    assert off_diagonal_gram(w.view(3, 1, 1, 2)) == 282.0
    assert off_diagonal_gram(torch.eye(3)) == 0.0  # orthogonal rows of any norm pay nothing
    assert off_diagonal_gram(3 * torch.eye(3)) == 0.0


def test_orthogonal_regularisation_on_the_biggan_generator(tmp_path) -> None:  # noqa: ANN001
    run = gankit.train("biggan", out=tmp_path / "r", overrides=TINY + ["model.embed_dim=4", "model.z_dim=8"])
    trick = next(t for t in run.recipe.objective.tricks if isinstance(t, OrthogonalRegularisation))
    params = run.recipe.param_groups()["G"]
    expected = 1e-4 * sum(off_diagonal_gram(p) for p in params if p.dim() >= 2 and p is not run.recipe.G.shared.weight)
    assert torch.allclose(trick.group_terms("G", params)["orthogonal_reg"], expected)
    assert trick.group_terms("D", run.recipe.param_groups()["D"]) == {}
    assert id(run.recipe.G.shared.weight) not in trick.regularised  # the class embedding is left out
    logged = (run.path / "metrics.jsonl").read_text()
    assert '"G/orthogonal_reg"' in logged


# ---------------------------------------------------------------- the truncation trick

def test_truncation_keeps_the_central_mass_of_each_entry() -> None:
    recipe = gankit.api.build_recipe(resolve("dcgan", "digits", TINY), _digits_info(), torch.device("cpu"))
    z = torch.randn(20000, 8, generator=torch.Generator().manual_seed(0))
    latent = Latent(z)
    assert torch.allclose(recipe.truncate(latent, 1.0).z, z, atol=1e-5)
    half = recipe.truncate(latent, 0.5).z
    bound = math.sqrt(2) * torch.special.erfinv(torch.tensor(0.5)).item()  # Phi^-1(0.75) = 0.674
    assert float(half.abs().max()) <= bound + 1e-6
    assert (half.gather(0, z.argsort(0)).diff(dim=0) >= 0).all()  # monotone: the same seed gives the nearest truncated sample
    # the truncated normal's variance at mass 0.5: 1 - 2 t phi(t) / 0.5 = 0.1426 (t = 0.674)
    t = bound
    variance = 1 - 2 * t * math.exp(-t * t / 2) / math.sqrt(2 * math.pi) / 0.5
    assert abs(float(half.var()) - variance) < 0.01
    with pytest.raises(ConfigError, match=r"\(0, 1\]"):
        recipe.truncate(latent, 1.5)
    infogan = gankit.api.build_recipe(resolve("infogan", "digits", TINY), _digits_info(), torch.device("cpu"))
    with pytest.raises(ConfigError, match="cannot truncate"):
        infogan.truncate(infogan.sample_latent(2), 0.5)


def _digits_info():  # noqa: ANN202
    from gankit.data import load_dataset
    from gankit.types import DataInfo

    data = load_dataset("digits", limit=64)
    return DataInfo(data.name, data.sample_shape, data.num_classes, data.kind, data.class_names)


def test_biggan_learns_and_truncation_trades_recall_for_precision(tmp_path) -> None:  # noqa: ANN001
    """The biggan preset at width 32 on the digits, 300 steps: its conditional samples are of the class asked
    for and its domain FID far below the untrained G's (``gankit bench quality``'s scores); drawn with the
    truncation trick at psi 0.5 (the same seed, each z moved towards the mean), precision on the domain
    evaluator's features rises and recall falls. Seeds 0 / 1: class_acc .982 / .991 (untrained .118), fid 27.3 /
    31.7 (untrained 327.7 / 348.0); precision .877 -> .974, .825 -> .978; recall .354 -> .020, .205 -> .003 (on
    1,000 samples; the test scores 500)."""
    run = gankit.train("biggan", out=tmp_path / "run", overrides=[
        "train.progress=false", "device=cpu", "train.steps=300", "train.sample_every=100000",
        "train.checkpoint_every=100000", "model.g_width=32", "model.d_width=32"])
    trained, untrained = learning_scores(run, n=500)
    assert trained["class_acc"] >= 0.9 and trained["class_acc"] - untrained["class_acc"] >= 0.7, (trained, untrained)
    assert trained["fid"] <= 60 and untrained["fid"] - trained["fid"] >= 200, (trained, untrained)
    full = run.evaluate(["pr"], n=500, log=False)
    truncated = run.evaluate(["pr"], n=500, truncation=0.5, log=False)
    assert truncated["protocol"]["truncation"] == 0.5 and "truncation" not in full["protocol"]
    assert truncated["eval/precision"] > full["eval/precision"] + 0.05, (full, truncated)
    assert truncated["eval/recall"] < full["eval/recall"] - 0.1, (full, truncated)


def test_cli_sample_with_truncation_and_bad_psi(tmp_path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    assert main(["train", "biggan", "--out", str(out), *TINY, "model.embed_dim=4", "model.z_dim=8"]) == 0
    grid = tmp_path / "grid.png"
    assert main(["sample", str(out), "--n", "4", "--truncation", "0.7", "--out", str(grid)]) == 0 and grid.is_file()
    bad = tmp_path / "bad.png"
    assert main(["sample", str(out), "--n", "4", "--truncation", "1.5", "--out", str(bad)]) == 2
    assert not bad.exists() and "(0, 1]" in capsys.readouterr().err


# ---------------------------------------------------------------- GPU profiles for image folders
LARGE_SCALE_RECIPES = ("progan", "stylegan", "gan")  # the applications' GPU profiles have tests of their own

def test_every_gpu_profile_builds_its_networks_at_its_size_and_one_step_runs_at_64px() -> None:
    """``--profile gpu-64|128|256`` of every large-scale preset resolves, builds G and D for colour images of its size
    (10 classes, as a labelled folder gives BigGAN) and G's samples pass through D; the 64 px ones also take one
    training step (batch 2, fp32 on this CPU)."""
    from gankit.api import build_recipe
    from gankit.config import list_presets, list_profiles
    from gankit.types import Batch, DataInfo

    presets = [p for p in list_presets() if list_profiles(p) and resolve(p).recipe in LARGE_SCALE_RECIPES]
    assert set(presets) == {"progan", "stylegan", "stylegan2", "biggan", "r3gan"}
    for preset in presets:
        assert list_profiles(preset) == ["gpu-128", "gpu-256", "gpu-64"]
        for profile in list_profiles(preset):
            cfg = resolve(preset, "path/to/images", [f"profile={profile}", "device=cpu", "amp=null"])
            size = int(profile.removeprefix("gpu-"))
            assert cfg.data.image_size == size and cfg.profile == profile and cfg.train.minutes is None
            assert cfg.eval.split == "train"  # FID against the training images: a plain folder has no test split
            seed_all(0)
            recipe = build_recipe(cfg, DataInfo("folder", (3, size, size), 10, "image"), torch.device("cpu"))
            if size > 64:
                continue
            latent = recipe.sample_latent(2)
            x = recipe.G(latent.z, latent.y)
            assert x.shape == (2, 3, size, size) and recipe.D(x, latent.y).logit.shape == (2,), preset
            terms = recipe.d_step(Batch(x.detach().clamp(-1, 1), latent.y), 1)
            assert all(bool(torch.isfinite(v)) for v in terms.values()), preset
    with pytest.raises(ConfigError, match="profile='gpu-512'.*gpu-128, gpu-256, gpu-64"):
        resolve("stylegan2", None, ["profile=gpu-512"])
    with pytest.raises(ConfigError, match="preset 'dcgan' has no profiles"):
        resolve("dcgan", None, ["profile=gpu-64"])


def test_the_cli_takes_a_profile_and_refuses_a_bad_one(tmp_path, capsys) -> None:  # noqa: ANN001
    assert main(["train", "dcgan", "--profile", "gpu-64", "--out", str(tmp_path / "bad"), "device=cpu"]) == 2
    assert "preset 'dcgan' has no profiles" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert main(["list"]) == 0
    assert re.search(r"\n  progan +gpu-128, gpu-256, gpu-64\n", capsys.readouterr().out)


def test_every_architecture_trains_under_bf16_autocast_on_a_cpu() -> None:
    """amp=bf16 on a CPU: G's samples and D's gradient for every registered architecture (R3GAN's antialiased
    downsampling had no bf16 kernel)."""
    from gankit.nets import ARCHS, takes_sequences

    for arch in ARCHS.names():
        extra = {"g_norm": None, "d_norm": None} if arch in ("r3gan", "stylegan", "stylegan2", "progan", "crnn") else {}
        cfg = ModelConfig(arch=arch, g_width=8, d_width=8, **extra)
        shape = (16, 1) if takes_sequences(arch) else (1, 16, 16) if arch != "mlp" else (1, 8, 8)  # crnn: (T, F)
        shape = (1, 16, 16, 16) if arch == "volume" else shape  # 3D-GAN's voxels (C, D, H, W)
        G, D = build_nets(NetSpec(shape, 8), cfg)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            x = G(torch.randn(4, 8))
            D(x).logit.float().sum().backward()
        assert torch.isfinite(x.float()).all(), arch
        assert all(p.grad is None or torch.isfinite(p.grad).all() for p in D.parameters()), arch


@pytest.mark.parametrize("preset", ["r3gan", "biggan", "stylegan", "stylegan2", "progan", "lapgan"])
def test_the_large_scale_presets_train_with_bf16_autocast(preset: str, tmp_path) -> None:  # noqa: ANN001
    """amp=bf16 through the whole step: penalties, path-length regularisation, ProGAN's growth, LapGAN's levels."""
    grow = ["recipe_args.stable_kimg=0", f"recipe_args.fade_kimg={8 / 3 / 1000}"] if preset == "progan" else []
    run = gankit.train(preset, "digits", out=tmp_path / "run", overrides=TINY + grow + [
        "amp=bf16", "data.image_size=16", "recipe_args.pl_every=1" if preset == "stylegan2" else "seed=0"])
    assert torch.isfinite(run.sample(2)).all()
