"""StyleGAN and StyleGAN2 (issue 13): the style generator's pieces against hand computations, style mixing,
truncation towards the average w, path-length regularisation, the ppl metric and the style-mixing grid."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit.bench import learning_scores
from gankit.cli import main
from gankit.errors import ConfigError
from gankit.metrics.ppl import path_lengths as ppl_lengths
from gankit.metrics.ppl import feature_distance, trimmed_mean
from gankit.nets import ModelConfig, NetSpec, build_nets
from gankit.nets.stylegan import ModulatedConv
from gankit.recipes.stylegan import path_lengths
from tests.conftest import TINY, seed_all

STYLE = ModelConfig(arch="stylegan2", z_dim=16, g_width=8, d_width=8, g_norm=None, d_norm=None, mapping_layers=2,
                    style_mixing=0.9)


def style_g(**changes) -> torch.nn.Module:  # noqa: ANN003
    from dataclasses import replace

    seed_all(0)
    G, _ = build_nets(NetSpec((1, 16, 16), 16), replace(STYLE, **changes))
    return G


def test_modulated_conv_by_hand() -> None:
    """Style s scales each input channel of the kernel; demodulation divides each output channel's kernel by its
    norm: the result is a plain convolution with W' = W s / ||W s||."""
    seed_all(0)
    conv = ModulatedConv(3, 4, 3, w_dim=5)
    x, w = torch.randn(2, 3, 6, 6), torch.randn(2, 5)
    out = conv(x, w)
    style = conv.affine(w)  # (2, 3)
    for i in range(2):
        kernel = conv.scale * conv.weight * style[i][None, :, None, None]
        kernel = kernel / kernel.pow(2).sum(dim=(1, 2, 3), keepdim=True).sqrt()
        torch.testing.assert_close(out[i:i + 1], F.conv2d(x[i:i + 1], kernel, padding=1), rtol=1e-4, atol=1e-5)


def test_style_mixing_only_in_training_and_w_avg_follows_the_mapping() -> None:
    G = style_g(style_mixing=1.0)
    z = torch.randn(64, 16)
    G.train()
    ws = G.styles(z)
    mixed = (ws[:, 0] != ws[:, -1]).any(dim=1)  # the last layer's style came from a second z
    assert bool(mixed.all())  # probability 1: every sample mixed somewhere in layers 1..num_ws-1
    assert float(G.w_avg.abs().sum()) > 0  # updated from its initial zeros
    G.eval()
    before = G.w_avg.clone()
    ws = G.styles(z)
    assert torch.equal(ws[:, 0], ws[:, -1]) and torch.equal(G.w_avg, before)
    unmixed = style_g(style_mixing=0.0).train().styles(z)
    assert torch.equal(unmixed[:, 0], unmixed[:, -1])


def test_truncation_moves_w_towards_its_average() -> None:
    G = style_g().eval()
    G.w_avg.copy_(torch.randn(16))
    z = torch.randn(8, 16)
    full, half, none = G.styles(z), G.styles(z, psi=0.5), G.styles(z, psi=0.0)
    torch.testing.assert_close(half, G.w_avg + 0.5 * (full - G.w_avg))
    assert torch.allclose(none, G.w_avg.expand_as(none))
    images = G(z, psi=0.0)  # noise strengths start at 0: every sample is the average image
    assert torch.allclose(images, images[:1].expand_as(images), atol=1e-6)


def test_bad_style_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="style_mixing"):
        style_g(style_mixing=1.5)
    with pytest.raises(ConfigError, match="g_norm=null"):
        style_g(g_norm="batch")


def test_path_lengths_of_a_linear_walk_and_the_trimmed_mean() -> None:
    """ppl's distance for images_at(t) = t v and identity features: ||v||^2 eps^2 / eps^2 = ||v||^2 (images inside
    [-1, 1], where the clamp leaves them)."""
    v = torch.tensor([[0.6, 0.8], [0.1, 0.0]])
    lengths = ppl_lengths(lambda t: t * v, torch.full((2, 1), 0.3), 1e-2, feature_distance(lambda x: x), seed=0)
    torch.testing.assert_close(lengths, torch.tensor([1.0, 0.01]), rtol=1e-3, atol=1e-4)
    values = np.arange(1.0, 201.0)  # 1..200: the 1st percentile (lower) is 2, the 99th (higher) 199
    assert trimmed_mean(values) == pytest.approx(np.arange(2.0, 200.0).mean())


def test_path_length_gradient_matches_a_finite_difference() -> None:
    """||J_w^T y|| from autograd is the slope of <G(w), y> along its own gradient: a central finite difference
    there gives the same number."""
    G = style_g().eval()
    torch.manual_seed(3)
    z, direction = torch.randn(1, 16), torch.randn(1, 1, 16, 16) / 16
    length = float(path_lengths(G, z, None, direction).detach())
    ws = G.styles(z).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad((G.synthesize(ws) * direction).sum(), ws)
    unit, h = grad / grad.norm(), 1e-3
    with torch.no_grad():
        slope = float(((G.synthesize(ws + h * unit) - G.synthesize(ws - h * unit)) * direction).sum()) / (2 * h)
    # path_lengths averages over the num_ws layers' squared norms: ||grad||^2 / num_ws
    assert length == pytest.approx(slope / math.sqrt(G.num_ws), rel=1e-2)
    assert length > 0


def test_stylegan2_preset_trains_with_path_length_and_lazy_r1(tmp_path) -> None:  # noqa: ANN001
    run = gankit.train("stylegan2", out=tmp_path / "r", overrides=TINY + ["recipe_args.pl_every=1",
                                                                        "model.mapping_layers=2"])
    logged = (run.path / "metrics.jsonl").read_text()
    assert '"G/path_length"' in logged and float(run.recipe.pl_mean) > 0
    with pytest.raises(ConfigError, match="style generator"):
        gankit.train("stylegan2", out=tmp_path / "bad", overrides=TINY + ["model.arch=dcgan", "model.g_norm=batch"])


def test_cli_mix_and_truncated_samples(tmp_path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    assert main(["train", "stylegan2", "--out", str(out), *TINY, "model.mapping_layers=2"]) == 0
    grid = tmp_path / "mix.png"
    assert main(["mix", str(out), "--rows", "3", "--cols", "2", "--out", str(grid)]) == 0 and grid.is_file()
    from PIL import Image

    width, height = Image.open(grid).size  # a header row and column of sources: 3 x 4 cells of 8 px, 1 px apart
    assert (width, height) == (3 * 9 + 1, 4 * 9 + 1)
    assert main(["sample", str(out), "--n", "4", "--truncation", "0.5", "--out", str(tmp_path / "t.png")]) == 0
    dcgan = tmp_path / "dcgan"
    assert main(["train", "dcgan", "--out", str(dcgan), *TINY]) == 0
    bad = tmp_path / "bad.png"
    assert main(["mix", str(dcgan), "--out", str(bad)]) == 2 and not bad.exists()
    assert "style" in capsys.readouterr().err


QUICK = ["train.progress=false", "device=cpu", "train.sample_every=100000", "train.checkpoint_every=100000"]


def test_stylegan_learns_and_coarse_styles_decide_the_digit(tmp_path) -> None:  # noqa: ANN001
    """The stylegan (v1) preset on the digits, 400 steps: domain FID far below the untrained G's, and swapping a
    sample's coarse styles for another's changes its digit (domain evaluator) far more often than swapping its
    fine styles (Karras et al. 2019, Fig. 3). Seeds 0 / 1: fid 148.4 / 148.3 (untrained 348.7 / 451.3); class
    changes coarse .778 / .866, fine .404 / .222 (StyleGAN2 at 1,000 steps: README)."""
    run = gankit.train("stylegan", out=tmp_path / "run", overrides=QUICK + ["train.steps=400"])
    trained, untrained = learning_scores(run, n=500)
    assert trained["fid"] <= 200 and untrained["fid"] - trained["fid"] >= 150, (trained, untrained)
    mixing = run.evaluate(["style_mixing"], n=500, log=False)
    coarse, fine = mixing["eval/mix_coarse_change"], mixing["eval/mix_fine_change"]
    assert coarse > fine + 0.25 and coarse > 0.6, (coarse, fine)
    assert mixing["protocol"]["style_mixing"] == {"pairs": 500, "cutoff": 2}


def test_path_length_regularisation_lowers_ppl(tmp_path) -> None:  # noqa: ANN001
    """Karras et al. 2020: path-length regularisation makes the walk through w smoother. stylegan2 at width 16,
    150 steps, the same seed with recipe_args.pl_weight 0 and 20 (at the preset's 2 the effect does not show at
    such budgets: README), ppl of 200 pairs: 972 -> 635 (seed 0), 1027 -> 455 (seed 1); at 300 steps and 500
    pairs 1142 -> 407, 922 -> 585."""
    small = QUICK + ["train.steps=150", "model.g_width=16", "model.d_width=16"]
    ppl = {}
    for weight in (0, 20):
        run = gankit.train("stylegan2", out=tmp_path / f"pl{weight}", overrides=small + [f"recipe_args.pl_weight={weight}"])
        row = run.evaluate(["ppl"], n=200, log=False)
        ppl[weight] = row["eval/ppl"]
    assert row["protocol"]["ppl"]["space"] == "w (linear)"
    assert ppl[20] < 0.8 * ppl[0], ppl


def test_ppl_measures_lpips_where_the_vgg16_weights_are(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """LPIPS through torchmetrics (its linear layers, a VGG16 backbone): zero for equal images, growing with the
    change; without the ImageNet weights (here: a random backbone stands in for them, the weights cannot be
    downloaded offline) ppl uses the domain features, and the protocol says which distance it measured."""
    from gankit.metrics import lpips

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert not lpips.available() and lpips.for_ppl(torch.device("cpu")) is None
    with pytest.raises(FileNotFoundError, match="vgg16-397923af.pth"):
        lpips.LPIPS(torch.device("cpu"))
    net = lpips.LPIPS(torch.device("cpu"), imagenet=False)
    torch.manual_seed(0)
    a, noise = torch.rand(3, 1, 16, 16) * 2 - 1, torch.randn(3, 1, 16, 16)
    near, far = net.distance(a, a + 0.05 * noise), net.distance(a, a + 0.5 * noise)
    assert net.distance(a, a).abs().max() < 1e-6 and near.shape == (3,) and bool((near < far).all())
    run = gankit.train("stylegan2", "digits", out=tmp_path / "run", overrides=TINY + ["model.g_norm=null",
                                                                                     "model.d_norm=null"])
    offline = run.evaluate(["ppl"], n=8, log=False)
    monkeypatch.setattr(lpips, "for_ppl", lambda device: net)
    online = run.evaluate(["ppl"], n=8, log=False)
    assert offline["protocol"]["ppl"]["features"].startswith("domain evaluator")
    assert online["protocol"]["ppl"]["features"].startswith("LPIPS") and online["eval/ppl"] != offline["eval/ppl"]
