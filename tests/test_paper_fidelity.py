"""Paper fidelity: pix2pix's test-time dropout, SRGAN's SRResNet pre-training and bicubic baseline, WGAN's
critic schedule (100 critic steps early on and every 500th G step) -- all through generic hooks, resumed exactly."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import gankit
from gankit.errors import ConfigError
from gankit.metrics.image import psnr, ssim
from gankit.recipes.base import Phase
from gankit.recipes.gan import CriticSchedule
from gankit.recipes.translation import DropoutSampler
from gankit.train.checkpoint import load_checkpoint
from tests.conftest import TINY
from tests.test_translation import paired_npz


def rows(run) -> list[dict]:  # noqa: ANN001
    return [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]


def optimizer_steps(run, group: str) -> int:  # noqa: ANN001
    """Updates the group's Adam optimiser has made (its per-parameter step count)."""
    state = load_checkpoint(run.path / "checkpoints" / "latest.pt")["optimizers"][group]["state"]
    return int(state[0]["step"]) if state else 0


# --- Phase.repeats: a number or a schedule of the step ------------------------------------------
def test_phase_repeats_take_a_number_or_a_schedule() -> None:
    step = lambda batch, i: {}  # noqa: E731
    assert Phase("D", step, trains="D", repeats=3).repeats_at(7) == 3
    assert [Phase("D", step, trains="D", repeats=lambda i: i % 2).repeats_at(i) for i in (1, 2)] == [1, 0]
    with pytest.raises(ValueError, match="repeats at step 1 is -1"):
        Phase("D", step, trains="D", repeats=lambda i: -1).repeats_at(1)


def test_wgan_critic_schedule_is_the_reference_codes(tmp_path: Path) -> None:
    """Arjovsky et al.'s Diters: 100 while gen_iterations < 25 or gen_iterations % 500 == 0, else 5 (steps are 1-based)."""
    schedule = CriticSchedule(n_critic=5)
    counts = {step: schedule(step) for step in (1, 25, 26, 27, 500, 501, 502, 1001, 1002)}
    assert counts == {1: 100, 25: 100, 26: 5, 27: 5, 500: 5, 501: 100, 502: 5, 1001: 100, 1002: 5}
    cfg = gankit.config.resolve("wgan")
    assert cfg.n_critic == 5 and cfg.recipe_args["critic_schedule"] == {"boosted": 100, "boost_first": 25, "boost_every": 500}
    with pytest.raises(ConfigError, match="boost_every"):
        gankit.train("gan", out=tmp_path / "bad", overrides=TINY + ["recipe_args.critic_schedule={boost_evry: 5}"])


SCHEDULE = TINY + ["n_critic=1", "recipe_args.critic_schedule={boosted: 3, boost_first: 2, boost_every: 4}",
                   "optim.decay_from=null"]


def test_critic_updates_follow_the_schedule_and_resume_exactly(tmp_path: Path) -> None:
    # steps 1..6 (done 0..5): boosted while done < 2 or done % 4 == 0 -> 3, 3, 1, 1, 3, 1
    straight = gankit.train("gan", out=tmp_path / "straight", overrides=SCHEDULE + ["train.steps=6"])
    assert optimizer_steps(straight, "D") == 12 and optimizer_steps(straight, "G") == 6
    gankit.train("gan", out=tmp_path / "resumed", overrides=SCHEDULE + ["train.steps=3"])
    resumed = gankit.resume(tmp_path / "resumed", ["train.steps=6"])
    a = load_checkpoint(straight.path / "checkpoints" / "latest.pt")
    b = load_checkpoint(resumed.path / "checkpoints" / "latest.pt")
    assert optimizer_steps(resumed, "D") == 12
    for key in a["recipe"]:
        torch.testing.assert_close(a["recipe"][key], b["recipe"][key], rtol=0, atol=0, msg=key)


# --- SRGAN: SRResNet pre-training, then the GAN; bicubic upsampling as the baseline --------------
SR = TINY + ["data.name=digits", "data.image_size=16", "recipe_args.n_blocks=1", "recipe_args.scale=2",
             "recipe_args.content=mse", "optim.lr=1e-3", "optim.decay_from=null"]


def test_srgan_pretrains_g_on_mse_alone_then_trains_the_gan(tmp_path: Path) -> None:
    run = gankit.train("srgan", out=tmp_path / "sr", overrides=SR + ["train.steps=12", "recipe_args.pretrain=0.75"])
    assert run.recipe.pretrain_steps == 9
    logged = rows(run)
    pre, gan = [r for r in logged if r["step"] <= 9], [r for r in logged if r["step"] > 9]
    assert all(set(k for k in r if "/" in k and not k.startswith("lr/")) == {"G/mse"} for r in pre)
    assert all({"D/adv", "G/content", "G/adv"} <= set(r) for r in gan)
    assert pre[-1]["G/mse"] < 0.5 * pre[0]["G/mse"]  # pixel MSE alone trains G (an SRResNet)
    assert optimizer_steps(run, "D") == 3 and optimizer_steps(run, "G") == 12  # D sat out the pre-training
    with pytest.raises(ConfigError, match="pretrain"):
        gankit.train("srgan", out=tmp_path / "bad", overrides=SR + ["recipe_args.pretrain=1.0"])


def test_srgan_eval_scores_bicubic_upsampling_beside_g(tmp_path: Path) -> None:
    import torch.nn.functional as F

    from gankit.recipes.srgan import downsample

    run = gankit.train("srgan", out=tmp_path / "sr", overrides=SR)
    x = gankit.data.load_dataset("digits", split="test", image_size=16).x
    row = run.evaluate(["psnr", "ssim"], n=len(x))  # every test image once (the scores are means over images)
    bicubic = F.interpolate(downsample(x, 2), scale_factor=2, mode="bicubic", align_corners=False).clamp(-1, 1)
    assert row["eval/psnr_bicubic"] == pytest.approx(psnr(bicubic, x), rel=1e-6)
    assert row["eval/ssim_bicubic"] == pytest.approx(ssim(bicubic, x), rel=1e-6)
    assert row["protocol"]["baseline"] == "bicubic"
    assert row["eval/psnr"] != row["eval/psnr_bicubic"]


# --- pix2pix: dropout stays on at test time, reproducibly ---------------------------------------------
P2P = TINY + ["data.image_size=32", "recipe_args.n_layers=1", "data.augment=false"]  # 32 px: the U-Net has a dropout


def test_pix2pix_samples_and_evaluates_with_dropout_on(tmp_path: Path) -> None:
    data = paired_npz(tmp_path / "pairs.npz", size=32)
    run = gankit.train("pix2pix", out=tmp_path / "p", overrides=P2P + [f"data.name={data}"])
    recipe = run.recipe
    assert isinstance(recipe.sampler(), DropoutSampler) and run.config.recipe_args["test_dropout"] is True
    rng = torch.random.get_rng_state()
    first = run.sample(4, seed=1)
    torch.testing.assert_close(run.sample(4, seed=1), first, rtol=0, atol=0)  # a seed reproduces the sample
    assert torch.equal(torch.random.get_rng_state(), rng)  # sampling leaves the training's random stream alone
    assert recipe.G.training  # and G's modes as they were

    test = gankit.data.load_dataset(str(data), split="test", pairing="paired")
    out = run.translate(test.a)
    with torch.no_grad():
        plain = recipe.G.eval()(test.a)  # dropout off
    recipe.G.train()
    assert float((out - plain).abs().mean()) > 1e-3  # the noise is on
    torch.testing.assert_close(run.translate(test.a.flip(0)).flip(0), out, rtol=0, atol=0)  # per image, any batch
    row = run.evaluate(["psnr", "ssim"], n=100)
    assert row["eval/psnr"] == pytest.approx(psnr(out, test.x), rel=1e-6)  # eval scores the noisy G
    assert not [key for key in row if key.startswith(("eval/psnr_", "eval/ssim_"))]  # no baseline for pix2pix


def test_pix2pix_test_dropout_false_samples_in_eval_mode(tmp_path: Path) -> None:
    data = paired_npz(tmp_path / "pairs.npz", size=32)
    run = gankit.train("pix2pix", out=tmp_path / "p", overrides=P2P + [f"data.name={data}", "recipe_args.test_dropout=false"])
    test = gankit.data.load_dataset(str(data), split="test", pairing="paired")
    with torch.no_grad():
        plain = run.recipe.G.eval()(test.a)
    torch.testing.assert_close(run.translate(test.a), plain, rtol=0, atol=0)
