"""Context Encoder (Pathak et al. 2016): masks, the masked L2 loss, the hole metrics against closed forms, the
recipe's loss terms, `gankit inpaint` and Run.inpaint with their bad inputs, and a learning check."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import gankit
from gankit.cli import main
from gankit.data.masks import block_masks, centre_mask, check_hole, read_mask
from gankit.errors import ConfigError, DataError
from gankit.losses.masked import masked_l2
from gankit.metrics.hole import hole_l1, hole_psnr
from gankit.recipes.inpainting import masked_input
from gankit.types import Batch
from tests.conftest import TINY

DIGITS = ["data.name=digits", "data.image_size=16"]  # offline; the centre hole is 8x8, D judges that patch


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):  # noqa: ANN001, ANN201
    """A two-step context-encoder run on 16 px digits (its overlap band 1 px wide)."""
    return gankit.train("context-encoder", out=tmp_path_factory.mktemp("ce") / "run",
                        overrides=TINY + DIGITS + ["recipe_args.overlap=1"])


# --- masks --------------------------------------------------------------------------------------------------
def test_centre_mask_is_the_central_quarter() -> None:
    mask = centre_mask(32)
    assert mask.shape == (1, 1, 32, 32) and float(mask.sum()) == 16 * 16
    assert float(mask[..., 8:24, 8:24].sum()) == 256  # rows and columns 8..23


def test_block_masks_cover_at_most_a_quarter_and_follow_the_generator() -> None:
    masks = block_masks(200, 32, generator=torch.Generator().manual_seed(0))
    area = masks.mean(dim=(1, 2, 3))
    assert masks.shape == (200, 1, 32, 32) and set(masks.unique().tolist()) == {0.0, 1.0}
    assert float(area.min()) >= 16 / 1024 and float(area.max()) <= 0.25  # one 4x4 block at least, four 8x8 at most
    again = block_masks(200, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(masks, again) and not torch.equal(masks[0], masks[1])


def test_read_mask_takes_a_binary_png_of_the_right_size_and_refuses_the_rest(tmp_path: Path) -> None:
    pixels = np.zeros((16, 16), np.uint8)
    pixels[2:6, 3:9] = 255
    Image.fromarray(pixels).save(tmp_path / "ok.png")
    mask = read_mask(tmp_path / "ok.png", (16, 16))
    assert mask.shape == (1, 1, 16, 16) and float(mask.sum()) == 24 and float(mask[0, 0, 2, 3]) == 1
    Image.fromarray(np.stack([pixels] * 3, axis=-1)).save(tmp_path / "rgb.png")  # colour masks are read as grey
    assert torch.equal(read_mask(tmp_path / "rgb.png", (16, 16)), mask)
    with pytest.raises(DataError, match=r"16x16 pixels; this run fills images of 32x32"):
        read_mask(tmp_path / "ok.png", (32, 32))
    grey = pixels.copy()
    grey[0, 0] = 128
    Image.fromarray(grey).save(tmp_path / "grey.png")
    with pytest.raises(DataError, match="not binary"):
        read_mask(tmp_path / "grey.png", (16, 16))
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "empty.png")
    with pytest.raises(DataError, match="no hole"):
        read_mask(tmp_path / "empty.png", (16, 16))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read the mask"):
        read_mask(tmp_path / "bad.png", (16, 16))
    with pytest.raises(DataError, match="not binary"):
        check_hole(torch.full((16, 16), 0.5), 2, (16, 16))
    with pytest.raises(DataError, match="shape"):
        check_hole(torch.ones(3, 1, 16, 16), 2, (16, 16))


# --- the loss and the metrics against hand-computed values --------------------------------------------------
def test_masked_l2_is_the_weighted_mean_over_the_weighted_pixels() -> None:
    output, target = torch.zeros(1, 2, 2, 2), torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2).expand(1, 2, 2, 2)
    weight = torch.tensor([1.0, 0.0, 10.0, 0.0]).view(1, 1, 2, 2)
    # pixels 1 (error 1) and 3 (error 9) in 2 channels: (1 * 1 + 10 * 9) * 2 / (2 pixels * 2 channels)
    torch.testing.assert_close(masked_l2(output=output, target=target, weight=weight), torch.tensor(91 / 2))


def test_hole_psnr_and_l1_count_the_hole_only() -> None:
    target = torch.zeros(2, 3, 8, 8)
    hole = torch.zeros(2, 1, 8, 8)
    hole[..., 2:6, 2:6] = 1
    output = target + 0.2 * hole - 0.7 * (1 - hole)  # 0.1 off in [0, 1] units on the hole, far off elsewhere
    assert hole_l1(output, target, hole) == pytest.approx(0.1)
    assert hole_psnr(output, target, hole) == pytest.approx(20.0)  # 10 log10(1 / 0.1^2)
    assert hole_psnr(target, target, hole) == math.inf


# --- the recipe ---------------------------------------------------------------------------------------------
def test_loss_terms_and_the_completion_keep_the_context(tiny_run) -> None:  # noqa: ANN001
    recipe = tiny_run.recipe.eval()
    torch.manual_seed(1)
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    hole = centre_mask(16).expand(3, -1, -1, -1)
    prediction = recipe.G(masked_input(x, hole))
    g = recipe.g_step(Batch(x=x), 1)
    band = F.max_pool2d(hole, 3, stride=1, padding=1) - hole  # the overlap: 1 px of context around the hole
    expected = ((prediction - x) ** 2 * (hole + 10 * band)).sum() / ((hole + band).sum() * 1)
    torch.testing.assert_close(g["l2"], 0.999 * expected)
    completed = prediction * hole + x * (1 - hole)
    logit = recipe.D(completed[..., 4:12, 4:12]).logit  # D judges the filled central patch
    torch.testing.assert_close(g["adv"], 0.001 * F.softplus(-logit).mean())
    out = tiny_run.inpaint(x)
    torch.testing.assert_close(out, completed, rtol=1e-5, atol=1e-6)
    assert torch.equal(out * (1 - hole), x * (1 - hole))  # the context comes back untouched


def test_l2_only_ablation_and_mask_settings(tmp_path: Path) -> None:
    run = gankit.train("context-encoder-l2", out=tmp_path / "l2", overrides=TINY + DIGITS)
    assert set(run.recipe.g_step(Batch(x=torch.zeros(2, 1, 16, 16)), 1)) == {"l2"}
    with pytest.raises(ConfigError, match="d_sees=image"):
        gankit.train("context-encoder", out=tmp_path / "b", overrides=TINY + DIGITS + ["recipe_args.mask=blocks"])
    with pytest.raises(ConfigError, match="neither centre nor blocks"):
        gankit.train("context-encoder", out=tmp_path / "c", overrides=TINY + DIGITS + ["recipe_args.mask=center"])
    blocks = gankit.train("context-encoder", out=tmp_path / "d",
                          overrides=TINY + DIGITS + ["recipe_args.mask=blocks", "recipe_args.d_sees=image"])
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    torch.testing.assert_close(blocks.inpaint(x), blocks.inpaint(x))  # each image's blocks come from its own seed
    assert blocks.sample(4, seed=0).shape == (4, 1, 16, 16)


# --- gankit inpaint and Run.inpaint ------------------------------------------------------------------------
def test_inpaint_from_the_cli_and_its_bad_inputs(tiny_run, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    folder = tmp_path / "inputs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((20, 20), 60 * i, np.uint8)).save(folder / f"img{i}.png")
    pixels = np.zeros((16, 16), np.uint8)
    pixels[0:5, 0:5] = 255
    Image.fromarray(pixels).save(tmp_path / "corner.png")
    run = str(tiny_run.path)
    assert main(["inpaint", run, "--input", str(folder), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.png", "img1.png", "img2.png"]
    assert Image.open(tmp_path / "out" / "img1.png").size == (16, 16)
    assert main(["inpaint", run, "--input", str(folder / "img2.png"), "--mask", str(tmp_path / "corner.png"),
                 "--out", str(tmp_path / "out2"), "--device", "cpu"]) == 0
    filled = np.asarray(Image.open(tmp_path / "out2" / "img2.png"), dtype=np.int64)
    assert (filled[5:, :] == 120).all() and (filled[:, 5:] == 120).all()  # only the user's hole changed
    x = torch.full((1, 1, 16, 16), 120 / 127.5 - 1)
    torch.testing.assert_close(tiny_run.inpaint(x, tmp_path / "corner.png"),
                               tiny_run.inpaint(x, torch.from_numpy(pixels == 255).float()))

    # bad input: a clear message, exit 2, nothing written
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "big.png")
    Image.fromarray(np.where(pixels > 0, 200, 0).astype(np.uint8)).save(tmp_path / "grey.png")
    (folder / "zz_broken.png").write_bytes(b"\x89PNG but not really")
    bad = {"big.png": "20x20 pixels; this run fills images of 16x16", "grey.png": "not binary"}
    for i, (name, message) in enumerate(bad.items()):
        out = tmp_path / f"bad{i}"
        assert main(["inpaint", run, "--input", str(folder / "img0.png"), "--mask", str(tmp_path / name),
                     "--out", str(out), "--device", "cpu"]) == 2
        assert message in capsys.readouterr().err and not out.exists()
    assert main(["inpaint", run, "--input", str(folder), "--out", str(tmp_path / "bad3"), "--device", "cpu"]) == 2
    assert "cannot read image" in capsys.readouterr().err and not (tmp_path / "bad3").exists()
    with pytest.raises(ConfigError, match=r"\(N, 1, 16, 16\)"):
        tiny_run.inpaint(torch.zeros(1, 3, 16, 16))


# --- learning ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_context_encoder_learns_to_fill_the_hole(tmp_path: Path) -> None:
    """Trained on 16 px digits, the fills beat the context's mean colour and an untrained G inside the hole."""
    run = gankit.train("context-encoder", out=tmp_path / "run",
                       overrides=DIGITS + ["model.g_width=16", "model.d_width=16", "train.steps=150",
                                           "train.batch_size=32", "train.progress=false", "device=cpu"])
    untrained = gankit.api.build_recipe(run.config, run.data, torch.device("cpu"))  # the same seed's start
    row = run.evaluate(["hole_psnr", "hole_l1"], n=297)  # the whole test split
    data = gankit.data.load_dataset("digits", split="test", image_size=16)
    latent = untrained.inputs(data, torch.arange(len(data)), None)
    before = hole_psnr(untrained.generate(latent).clamp(-1, 1), latent.target, untrained.hole(latent))
    assert row["eval/hole_psnr"] > row["eval/hole_psnr_mean_fill"] + 5.0, row
    assert row["eval/hole_psnr"] > before + 3.0, (row, before)
    assert row["eval/hole_l1"] < 0.8 * row["eval/hole_l1_mean_fill"], row
