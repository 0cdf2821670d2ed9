"""Image-to-image translation: image pool, auxiliary losses, PSNR/SSIM, the four recipes' loss terms
against hand-computed values, SRGAN's content-loss choice, translate/sample from Python and the CLI."""
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
from gankit.errors import ConfigError
from gankit.losses.auxiliary import cycle_loss, identity_loss, l1_loss
from gankit.metrics.image import psnr, ssim
from gankit.nn.pool import ImagePool
from gankit.types import Batch
from tests.conftest import TINY


# --- the image pool -----------------------------------------------------------------------------
def test_pool_fills_first_then_returns_new_and_old_fakes_half_the_time() -> None:
    torch.manual_seed(0)
    pool = ImagePool(4, (1, 2, 2))
    first = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    torch.testing.assert_close(pool.query(first), first)  # filling: every new image comes back as it is
    assert int(pool.count) == 4
    old_values = set(range(4))
    returned_old = 0
    stored = set(old_values)
    for step in range(400):
        new = torch.full((1, 1, 2, 2), 100.0 + step)
        value = float(pool.query(new)[0, 0, 0, 0])
        if value in stored:  # an older fake came back and the new one took its place
            returned_old += 1
            assert value < 100.0 + step
        else:
            assert value == 100.0 + step
        stored = {float(v) for v in pool.images[:, 0, 0, 0]}
    assert 0.42 < returned_old / 400 < 0.58  # probability 0.5, 400 draws: 4 standard errors either side


def test_pool_of_size_zero_is_off_and_pool_state_is_in_the_state_dict() -> None:
    off = ImagePool(0, (1, 2, 2))
    x = torch.randn(3, 1, 2, 2)
    torch.testing.assert_close(off.query(x), x)
    pool = ImagePool(2, (1, 2, 2))
    pool.query(x[:2])
    state = pool.state_dict()
    assert set(state) == {"images", "count"} and int(state["count"]) == 2
    torch.testing.assert_close(state["images"], x[:2])


# --- auxiliary losses and image metrics ----------------------------------------------------------
def test_auxiliary_losses_against_hand_computed_values() -> None:
    a = torch.tensor([[[[0.0, 1.0], [2.0, -1.0]]]])
    b = torch.tensor([[[[0.5, 1.0], [0.0, 0.0]]]])
    expected = (0.5 + 0 + 2 + 1) / 4
    torch.testing.assert_close(l1_loss(output=a, target=b), torch.tensor(expected))
    torch.testing.assert_close(cycle_loss(original=b, reconstructed=a), torch.tensor(expected))
    torch.testing.assert_close(identity_loss(image=b, mapped=a), torch.tensor(expected))


def test_psnr_and_ssim() -> None:
    torch.manual_seed(0)
    target = torch.rand(4, 3, 16, 16) * 2 - 1
    # a shift of 0.1 in [-1, 1] is 0.05 in [0, 1]: MSE 0.0025, PSNR 10 log10(1 / 0.0025) = 26.0206 dB
    shifted = (target + 0.1).clamp(-1, 1)
    mse = (((shifted.double() + 1) / 2 - (target.double() + 1) / 2) ** 2).flatten(1).mean(1)
    assert psnr(shifted, target) == pytest.approx(float((10 * torch.log10(1 / mse)).mean()), rel=1e-9)
    assert psnr(target, target) == math.inf
    assert ssim(target, target) == pytest.approx(1.0, abs=1e-6)
    noisy = (target + 0.3 * torch.randn_like(target)).clamp(-1, 1)
    assert ssim(noisy, target) < ssim(shifted, target) < 1.0
    assert ssim(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)) < 0.5  # small images shrink the window
    with pytest.raises(ValueError, match="one shape"):
        psnr(target, target[:, :1])


# --- the recipes' loss terms ---------------------------------------------------------------------
def tiny_recipe(preset: str, tmp_path: Path, overrides: list[str]):  # noqa: ANN201
    run = gankit.train(preset, out=tmp_path / preset, overrides=TINY + overrides)
    return run, run.recipe


def paired_npz(path: Path, n: int = 12, size: int = 16) -> Path:
    """Paired data with a simple relation: b is a mirrored a (a G can learn it)."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    np.savez(path, a_train=a, b_train=a[:, :, ::-1].copy(), a_test=a[:4], b_test=a[:4, :, ::-1].copy())
    return path


PIX2PIX = ["data.image_size=16", "recipe_args.n_layers=1", "data.augment=false"]


def test_pix2pix_terms(tmp_path) -> None:  # noqa: ANN001
    data = paired_npz(tmp_path / "pairs.npz")
    run, recipe = tiny_recipe("pix2pix", tmp_path, PIX2PIX + [f"data.name={data}"])
    torch.manual_seed(1)
    a, b = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    recipe.eval()  # dropout off: G is a function
    g = recipe.g_step(Batch(x=b, a=a), 1)
    fake = recipe.G(a)
    torch.testing.assert_close(g["l1"], 100 * (fake - b).abs().mean())
    logit = recipe.D(torch.cat([a, fake], 1)).logit
    torch.testing.assert_close(g["adv"], F.softplus(-logit).mean())
    d = recipe.d_step(Batch(x=b, a=a), 1)
    real_logit = recipe.D(torch.cat([a, b], 1)).logit
    torch.testing.assert_close(d["adv"], 0.5 * (F.softplus(-real_logit).mean() + F.softplus(logit).mean()))
    assert logit.dim() == 3  # a patch map per image


def test_pix2pix_l1_only_ablation_has_no_adversarial_term(tmp_path) -> None:  # noqa: ANN001
    data = paired_npz(tmp_path / "pairs.npz")
    _, recipe = tiny_recipe("pix2pix-l1", tmp_path, PIX2PIX + [f"data.name={data}"])
    assert set(recipe.g_step(Batch(x=torch.zeros(2, 3, 16, 16), a=torch.zeros(2, 3, 16, 16)), 1)) == {"l1"}


CYCLE = ["data.name=digits", "data.domains=[3, 8]", "data.image_size=16", "recipe_args.n_layers=1",
         "recipe_args.n_blocks=1", "data.augment=false"]


def test_cyclegan_terms(tmp_path) -> None:  # noqa: ANN001
    _, recipe = tiny_recipe("cyclegan", tmp_path, CYCLE)
    torch.manual_seed(2)
    a, b = torch.rand(2, 1, 16, 16) * 2 - 1, torch.rand(2, 1, 16, 16) * 2 - 1
    recipe.eval()
    g = recipe.g_step(Batch(x=b, a=a), 1)
    assert set(g) == {"adv_a", "adv_b", "cycle_a", "cycle_b", "identity_a", "identity_b"}
    torch.testing.assert_close(g["cycle_a"], 10 * (recipe.G_BA(recipe.G(a)) - a).abs().mean())
    torch.testing.assert_close(g["cycle_b"], 10 * (recipe.G(recipe.G_BA(b)) - b).abs().mean())
    torch.testing.assert_close(g["identity_b"], 0.5 * 10 * (recipe.G(b) - b).abs().mean())
    torch.testing.assert_close(g["adv_b"], 2.0 * 0.5 * ((recipe.D(recipe.G(a)).logit - 1) ** 2).mean())
    d = recipe.d_step(Batch(x=b, a=a), 1)  # the pool is empty: D sees exactly the G phase's fakes
    real, fake = recipe.D(b).logit, recipe.D(recipe.G(a)).logit
    torch.testing.assert_close(d["adv_b"], 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean())


def test_cyclegan_identity_needs_equal_channels(tmp_path) -> None:  # noqa: ANN001
    """A: 1-channel, B: 3-channel folders -> the identity loss cannot apply, and the error says so."""
    for side, mode in (("A", "L"), ("B", "RGB")):
        (tmp_path / "ab" / side).mkdir(parents=True)
        for i in range(6):
            Image.new(mode, (16, 16), color=i * 20 if mode == "L" else (i * 20, 0, 0)).save(tmp_path / "ab" / side / f"{i}.png")
    with pytest.raises(ConfigError, match="same channels"):
        gankit.train("cyclegan", out=tmp_path / "c", overrides=TINY + CYCLE[2:] + [f"data.name={tmp_path / 'ab'}"])


STAR = ["data.name=digits", "data.image_size=16", "recipe_args.n_blocks=1", "recipe_args.n_layers=2", "n_critic=1"]


def test_stargan_terms(tmp_path) -> None:  # noqa: ANN001
    _, recipe = tiny_recipe("stargan", tmp_path, STAR)
    assert recipe.label_classes() == 10 and recipe.domain_names()[3] == "3"
    torch.manual_seed(3)
    x, y = torch.rand(4, 1, 16, 16) * 2 - 1, torch.tensor([0, 1, 2, 3])
    recipe.eval()
    torch.manual_seed(4)
    g = recipe.g_step(Batch(x=x, y=y), 1)
    torch.manual_seed(4)
    target = recipe.target_domains(y)
    fake = recipe.G(x, target)
    out = recipe.D(fake)
    torch.testing.assert_close(g["adv"], -out.logit.mean())
    torch.testing.assert_close(g["cls"], F.cross_entropy(out.aux, target))
    torch.testing.assert_close(g["rec"], 10 * (recipe.G(fake, y) - x).abs().mean())
    d = recipe.d_step(Batch(x=x, y=y), 1)
    assert set(d) == {"adv", "cls", "gp"}
    torch.testing.assert_close(d["cls"], F.cross_entropy(recipe.D(x).aux, y))


# --- SRGAN's content loss ---------------------------------------------------------------------------
SR = ["data.name=digits", "data.image_size=16", "recipe_args.n_blocks=1", "recipe_args.scale=2"]


def test_srgan_falls_back_to_mse_offline_and_records_it(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("GANKIT_VGG19", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache; the download fails offline
    import gankit.losses.perceptual as perceptual

    monkeypatch.setattr(perceptual, "WEIGHTS_URL", "http://127.0.0.1:9/vgg19-dcbb9e9d.pth")  # refused at once
    with pytest.warns(UserWarning, match="falls back to pixel MSE"):
        run, recipe = tiny_recipe("srgan", tmp_path, SR)
    assert recipe.content == "mse" and run.config.recipe_args["content"] == "mse"
    assert "content: mse" in (run.path / "config.yaml").read_text()
    from gankit.recipes.srgan import downsample

    x = torch.rand(2, 1, 16, 16) * 2 - 1
    recipe.eval()  # batch norm on running statistics: G is a function
    g = recipe.g_step(Batch(x=x), recipe.pretrain_steps + 1)  # the GAN phase, after the SRResNet pre-training
    fake = recipe.G(downsample(x, 2))
    assert fake.shape == x.shape
    torch.testing.assert_close(g["content"], F.mse_loss(fake, x))


def test_srgan_uses_vgg_features_when_weights_are_there(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from gankit.losses.perceptual import VGGFeatures, vgg_content_loss

    torch.manual_seed(0)
    features = VGGFeatures()  # randomly initialised, saved as a torchvision-style state dict
    torch.save({f"features.{k}": v for k, v in features.net.state_dict().items()}, tmp_path / "vgg.pth")
    monkeypatch.setenv("GANKIT_VGG19", str(tmp_path / "vgg.pth"))
    run, recipe = tiny_recipe("srgan", tmp_path, SR + ["recipe_args.content=auto"])
    assert recipe.content == "vgg" and run.config.recipe_args["content"] == "vgg"
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    fake = torch.rand(2, 1, 16, 16) * 2 - 1
    expected = vgg_content_loss(features, output=fake, target=x)
    torch.testing.assert_close(recipe.content_loss(fake, x), expected)
    assert float(expected) > 0


def test_srgan_rejects_sizes_that_do_not_divide(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="multiple of"):
        tiny_recipe("srgan", tmp_path, ["data.name=digits", "data.image_size=10", "recipe_args.content=mse"])


# --- translate, sample and the CLI ------------------------------------------------------------------
def test_translate_and_sample_from_python_and_cli(tmp_path, capsys) -> None:  # noqa: ANN001
    data = paired_npz(tmp_path / "pairs.npz")
    run, _ = tiny_recipe("pix2pix", tmp_path, PIX2PIX + [f"data.name={data}"])
    images = torch.rand(3, 3, 16, 16) * 2 - 1
    out = run.translate(images)
    assert out.shape == (3, 3, 16, 16) and float(out.abs().max()) <= 1
    loaded = gankit.load(run.path, device="cpu")
    torch.testing.assert_close(loaded.translate(images), out)
    assert loaded.sample(10, seed=0).shape == (4, 3, 16, 16)  # the test split holds 4 inputs
    with pytest.raises(ConfigError, match=r"\(N, 3, 16, 16\)"):
        run.translate(torch.zeros(1, 3, 8, 8))

    folder = tmp_path / "inputs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((20, 24, 3), 40 * i, np.uint8)).save(folder / f"img{i}.png")
    assert main(["translate", str(run.path), "--input", str(folder), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["img0.png", "img1.png", "img2.png"]
    assert Image.open(tmp_path / "out" / "img1.png").size == (16, 16)
    assert main(["sample", str(run.path), "--n", "4", "--out", str(tmp_path / "grid.png"), "--device", "cpu"]) == 0
    grid = Image.open(tmp_path / "grid.png")
    assert grid.size == (3 * 4 * 17 + 1, 17 + 1)  # one row of 4 input | output | target groups (16 px + padding)

    # bad input: exit 2, a clear message, nothing written
    assert main(["translate", str(run.path), "--input", str(tmp_path / "missing"), "--out", str(tmp_path / "o2")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "o2").exists()
    assert main(["translate", str(run.path), "--input", str(folder), "--out", str(tmp_path / "o3"), "--to", "B"]) == 2
    assert "one direction" in capsys.readouterr().err


def test_cyclegan_and_stargan_translate_to_a_chosen_domain(tmp_path) -> None:  # noqa: ANN001
    cycle, _ = tiny_recipe("cyclegan", tmp_path, CYCLE)
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    torch.testing.assert_close(cycle.translate(x, to="A"), cycle.recipe.G_BA.eval()(x))
    assert not torch.equal(cycle.translate(x, to="A"), cycle.translate(x))
    star, _ = tiny_recipe("stargan", tmp_path, STAR)
    sevens = star.translate(x, to="7")
    torch.testing.assert_close(sevens, star.recipe.G.eval()(x, torch.full((2,), 7)))
    with pytest.raises(ConfigError, match="target domain"):
        star.translate(x)
    with pytest.raises(ConfigError, match="domain"):
        star.translate(x, to="seven")


# --- gankit eval on translation runs -----------------------------------------------------------------
def test_eval_psnr_ssim_cycle_and_domain_scores(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    data = paired_npz(tmp_path / "pairs.npz")
    p2p, _ = tiny_recipe("pix2pix", tmp_path, PIX2PIX + [f"data.name={data}"])
    row = p2p.evaluate(["psnr", "ssim"], n=100)
    test = gankit.data.load_dataset(str(data), split="test", pairing="paired")
    out = p2p.translate(test.a)  # the 4 test pairs, each once, whatever n asks for
    assert row["eval/psnr"] == pytest.approx(psnr(out, test.x), rel=1e-6)
    assert row["eval/ssim"] == pytest.approx(ssim(out, test.x), rel=1e-6)
    assert row["protocol"]["n_fake"] == 4 and "translated" in row["protocol"]["inputs"]
    with pytest.raises(ConfigError, match="cyclegan"):
        p2p.evaluate(["cycle"])

    cyc, _ = tiny_recipe("cyclegan", tmp_path, CYCLE)
    row = cyc.evaluate(["cycle", "fid"], n=50, features="domain:digits")
    a = gankit.data.load_dataset("digits", split="test", image_size=16, pairing="unpaired", domains=[3, 8]).a
    rebuilt = cyc.translate(cyc.translate(a), to="A")
    assert row["eval/cycle_l1"] == pytest.approx(float((rebuilt - a).abs().mean()), rel=1e-5)
    assert row["eval/fid"] > 0 and row["protocol"]["extractor"] == "domain:digits"
    with pytest.raises(ConfigError, match="pix2pix and srgan"):
        cyc.evaluate(["psnr"])

    star, _ = tiny_recipe("stargan", tmp_path, STAR)
    row = star.evaluate(["class_acc"], n=60)  # target domains balanced over the ten digits
    assert row["protocol"]["labeller"]["extractor"] == "domain:digits"
    # outputs made by hand: an image the labeller calls the target digit scores 1, one fixed digit 1/10
    from gankit.metrics.domain import load_evaluator  # the evaluator this evaluation trained and cached

    digits = gankit.data.load_dataset("digits", split="test", image_size=16)
    called = load_evaluator("digits").extract(digits.x)[1].argmax(1)
    bank = torch.stack([digits.x[called == k][0] for k in range(10)])  # (10, 1, 16, 16): image k is a k to it
    for expected, digit_of in ((1.0, lambda y: y), (0.1, lambda y: torch.full_like(y, 4))):
        monkeypatch.setattr(star.recipe, "generate", lambda latent, *_, **__: bank[digit_of(latent.y.cpu())])
        assert star.evaluate(["class_acc"], n=60, log=False)["eval/class_acc"] == expected


def test_cyclegan_resume_is_exact(tmp_path) -> None:  # noqa: ANN001
    """2 steps + resume to 4 == 4 steps straight, bitwise: the pools, the A stream and the jitter all resume."""
    from gankit.train.checkpoint import load_checkpoint

    setting = TINY + CYCLE[:-1] + ["data.augment=true", "optim.decay_from=null", "recipe_args.pool_size=3"]
    straight = gankit.train("cyclegan", out=tmp_path / "straight", overrides=setting + ["train.steps=4"])
    gankit.train("cyclegan", out=tmp_path / "resumed", overrides=setting + ["train.steps=2"])
    resumed = gankit.resume(tmp_path / "resumed", ["train.steps=4"])
    assert resumed.step == straight.step == 4
    a = load_checkpoint(straight.path / "checkpoints" / "latest.pt")
    b = load_checkpoint(resumed.path / "checkpoints" / "latest.pt")
    assert int(a["recipe"]["pool_b.count"]) == 3
    for key in a["recipe"]:
        torch.testing.assert_close(a["recipe"][key], b["recipe"][key], rtol=0, atol=0, msg=key)
