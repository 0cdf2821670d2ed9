"""EBGAN and BEGAN (gankit/recipes/energy.py): the losses by hand, the auto-encoder discriminator, the refusals,
BEGAN's k_t across a resume, and learning on the 8x8 digits."""
from __future__ import annotations

import json
import math

import pytest
import torch
from torch.testing import assert_close

import gankit
from gankit.bench import learning_scores, margin
from gankit.errors import ConfigError
from gankit.losses.energy import (began_d, began_g, began_k, convergence_measure, ebgan_d, ebgan_g, l1_energy,
                                  l2_energy, pulling_away)
from gankit.nets import ModelConfig
from gankit.nets.autoencoder import build_autoencoder, default_code_dim
from gankit.train.checkpoint import load_checkpoint
from conftest import TINY  # tests/ is on sys.path under pytest

FAST = ["train.progress=false", "device=cpu", "train.sample_every=100000", "train.checkpoint_every=100000"]
DIGITS32 = ["model.g_width=32", "model.d_width=32"]  # the presets' nets at half width, on the 8x8 digits


# --- the losses, by hand -----------------------------------------------------------------------------------
def test_energies_by_hand() -> None:
    x = torch.tensor([[[[1.0, -1.0], [0.5, 0.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])  # (2, 1, 2, 2)
    r = torch.tensor([[[[0.0, -1.0], [0.5, 2.0]]], [[[3.0, 0.0], [0.0, -4.0]]]])
    assert_close(l1_energy(x, r), torch.tensor([(1 + 0 + 0 + 2) / 4, (3 + 4) / 4]))
    assert_close(l2_energy(x, r), torch.tensor([math.sqrt(1 + 4), 5.0]))


def test_ebgan_losses_by_hand() -> None:
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([2.0, 12.0])
    # D: mean D(x) + mean [m - D(G(z))]^+ = 2 + ((10 - 2) + 0) / 2; a fake past the margin costs D nothing
    assert_close(ebgan_d(real=real, fake=fake, margin=10.0), torch.tensor(2.0 + 4.0))
    assert_close(ebgan_g(fake=fake), torch.tensor(7.0))


def test_pulling_away_by_hand() -> None:
    assert_close(pulling_away(torch.eye(3)), torch.tensor(0.0))  # orthogonal codes
    assert_close(pulling_away(torch.tensor([[1.0, 2.0], [2.0, 4.0], [-3.0, -6.0]])), torch.tensor(1.0))  # one line
    # cos^2 between (1, 0) and (1, 1) is 1/2, counted for both ordered pairs: (1/2 + 1/2) / (2 * 1)
    assert_close(pulling_away(torch.tensor([[1.0, 0.0], [1.0, 1.0]])), torch.tensor(0.5))
    with pytest.raises(ValueError, match="at least 2"):
        pulling_away(torch.ones(1, 4))


def test_began_losses_and_k_by_hand() -> None:
    real, fake = torch.tensor([0.2, 0.4]), torch.tensor([0.1, 0.3])  # L(x) = 0.3, L(G(z)) = 0.2
    assert_close(began_d(real=real, fake=fake, k=torch.tensor(0.25)), torch.tensor(0.3 - 0.25 * 0.2))
    assert_close(began_g(fake=fake), torch.tensor(0.2))
    # k + lambda (gamma L(x) - L(G(z))) = 0.25 + 0.1 (0.5 * 0.3 - 0.2) = 0.245
    assert_close(began_k(torch.tensor(0.25), real=real, fake=fake, gamma=0.5, lambda_k=0.1), torch.tensor(0.245))
    assert_close(began_k(torch.tensor(0.0), real=real, fake=fake, gamma=0.5, lambda_k=0.1), torch.tensor(0.0))  # clip
    assert_close(began_k(torch.tensor(0.99), real=real, fake=fake * 0, gamma=1.0, lambda_k=1.0), torch.tensor(1.0))
    # M = L(x) + |gamma L(x) - L(G(z))| = 0.3 + |0.15 - 0.2|
    assert_close(convergence_measure(real=real, fake=fake, gamma=0.5), torch.tensor(0.35))


# --- the auto-encoder discriminator ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 16, 16), (1, 28, 28), (3, 32, 32), (2,)], ids=str)
def test_autoencoder_scores_minus_the_energy(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(arch="mlp" if len(shape) == 1 else "dcgan", d_width=8, d_norm="batch")
    D = build_autoencoder(shape, cfg, energy=l1_energy).eval()
    x = torch.randn(3, *shape)
    out = D(x)
    reconstruction, code = D.reconstruct(x)
    assert reconstruction.shape == x.shape and code.shape == (3, default_code_dim(shape))
    assert_close(out.logit, -l1_energy(x, reconstruction))  # higher still means "looks real"
    assert_close(out.features, code)
    assert default_code_dim((1, 8, 8)) == 16 and default_code_dim((3, 32, 32)) == 64 and default_code_dim((2,)) == 1


# --- what the recipes refuse ------------------------------------------------------------------------------
@pytest.mark.parametrize(("preset", "override", "match"), [
    ("ebgan", "tricks=[label_smoothing]", "does not accept trick 'label_smoothing'"),
    ("began", "tricks=[{name: pack, m: 2}]", "does not accept trick 'pack'"),
    ("ebgan", "tricks=[minibatch_stddev]", "does not accept trick 'minibatch_stddev'"),
    ("began", "penalties=[clip]", "does not accept penalty 'clip'"),
    ("ebgan", "terms=[classification]", "does not accept term 'classification'"),
    ("began", "conditional=true", "unconditional"),
    ("ebgan", "recipe_args.gamma=0.5", "argument of recipe 'ebgan'"),
    ("began", "recipe_args.gamma=0", "0 < gamma <= 1"),
    ("ebgan", "recipe_args.margin=-1", "margin > 0"),
    ("began", "recipe_args.code_dim=0", "code_dim=0"),
    ("ebgan", "model.attention=4", "no self-attention"),
])
def test_refusals(preset: str, override: str, match: str, tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match=match):
        gankit.train(preset, out=tmp_path / "run", overrides=TINY + [override])


def test_accepted_items_train(tmp_path) -> None:  # noqa: ANN001
    """DiffAugment on what D reconstructs, R1 on -energy, EBGAN on 2D points with an MLP auto-encoder."""
    run = gankit.train("began", out=tmp_path / "a", overrides=TINY + ["tricks=[diffaugment]", "penalties=[r1]"])
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert "D/r1" in rows[-1] and math.isfinite(rows[-1]["D/r1"])
    run = gankit.train("ebgan", "ring8", out=tmp_path / "b", overrides=TINY + ["model.arch=mlp", "model.d_layers=2"])
    assert math.isfinite(json.loads((run.path / "metrics.jsonl").read_text().splitlines()[-1])["G/pt"])


# --- BEGAN's k_t -------------------------------------------------------------------------------------------
def test_began_k_is_checkpointed_and_resumes_exactly(tmp_path) -> None:  # noqa: ANN001
    """k_t is a buffer: saved with the networks, and a run resumed at step 3 ends where a straight one does."""
    args = TINY + ["recipe_args.lambda_k=1.0", "recipe_args.gamma=1.0", "train.checkpoint_every=3",
                   "optim.decay_from=null"]  # the lr schedule would depend on train.steps
    straight = gankit.train("began", out=tmp_path / "straight", overrides=args + ["train.steps=6"])
    k = float(straight.recipe.k)
    assert 0 < k <= 1  # it moved: the energies of the tiny nets differ from the start
    saved = load_checkpoint(straight.path / "checkpoints" / "latest.pt")["recipe"]
    assert_close(saved["k"], straight.recipe.k, rtol=0, atol=0)
    gankit.train("began", out=tmp_path / "resumed", overrides=args + ["train.steps=3"])
    resumed = gankit.resume(tmp_path / "resumed", ["train.steps=6"])
    for key, value in saved.items():
        assert_close(resumed.recipe.state_dict()[key], value, rtol=0, atol=0, msg=key)
    logged = [json.loads(line)["D/k"] for line in (straight.path / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1] == pytest.approx(k)  # D/k: k_t after each update, logged every step


# --- learning on the digits ------------------------------------------------------------------------------
def scores(preset: str, tmp_path, overrides: list[str]) -> tuple:  # noqa: ANN001
    """A short run of ``preset`` on the digits (seed 0), its domain scores and those of its untrained G."""
    run = gankit.train(preset, out=tmp_path / preset, overrides=FAST + DIGITS32 + ["seed=0"] + overrides)
    trained, untrained = learning_scores(run, n=500)
    return run, trained, untrained


@pytest.fixture(scope="module")
def began_run(evaluator_cache, tmp_path_factory):  # noqa: ANN001, ANN201
    """The began preset (gamma 1.0), 400 steps: shared by the learning and the gamma tests."""
    return scores("began", tmp_path_factory.mktemp("began"), ["train.steps=400"])


def test_ebgan_beats_its_untrained_generator(evaluator_cache, tmp_path) -> None:  # noqa: ANN001
    _, trained, untrained = scores("ebgan", tmp_path, ["train.steps=400"])
    # seeds 0 / 1: fid 184.3 / 437.6 untrained, 168.7 / 274.9; class entropy .908 / .492, .912 / .816
    assert trained["fid"] <= 240 and margin("fid", trained["fid"], untrained["fid"]) >= 60, (trained, untrained)
    assert trained["class_entropy"] >= 0.85, (trained, untrained)


def test_began_learns_and_its_convergence_measure_falls(began_run) -> None:  # noqa: ANN001
    run, trained, untrained = began_run
    # seeds 0 / 1: fid 105.9 / 246.1 untrained, 148.7 / 281.5; class entropy .948 / .788, .924 / .816
    assert trained["fid"] <= 200 and margin("fid", trained["fid"], untrained["fid"]) >= 60, (trained, untrained)
    assert trained["class_entropy"] >= 0.88, (trained, untrained)
    M = [json.loads(line)["D/began_M"] for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    fifth = len(M) // 5  # 16 rows, one per 25 steps
    first, last = sum(M[:fifth]) / fifth, sum(M[-fifth:]) / fifth
    assert last <= 0.6 * first, (first, last)  # seeds 0 / 1: .490 -> .207, .449 -> .182


def test_lower_gamma_gives_less_diverse_samples(began_run, tmp_path) -> None:  # noqa: ANN001
    """Section 3.2: a lower gamma asks for fakes the auto-encoder reconstructs better; on the digits, at the same
    seed and steps, gamma 0.5 spreads its samples over fewer digits than the preset's 1.0 (and looks worse)."""
    _, high, _ = began_run
    _, low, _ = scores("began", tmp_path, ["train.steps=400", "recipe_args.gamma=0.5"])
    # seeds 0 / 1: class entropy .948 vs .842, .924 vs .680; fid 105.9 vs 443.5, 148.7 vs 392.9
    assert high["class_entropy"] - low["class_entropy"] >= 0.05, (high, low)
    assert low["fid"] - high["fid"] >= 100, (high, low)
