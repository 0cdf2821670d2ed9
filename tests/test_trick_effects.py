"""Each training trick does what it is for: a short real run with the trick against the same run without it.

Same preset, data, seed and every other setting; only ``tricks=[...]`` differs. The settings are tiny
(2-layer MLPs of width 32 on ring8, or DCGAN on 32 of the 8x8 digits, 200-400 steps), and every margin was
measured before picking it (values in each docstring: without -> with the trick, per seed; ``pytest -s``
prints what each run measures). Plain runs are shared between tests through the module's ``runs`` cache.
``pack`` also has the PacGAN preset's learning test in tests/test_learning.py; here it runs in the same
collapse-prone setting as minibatch discrimination.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit.api import Run, build_recipe
from gankit.data import MIXTURES, load_dataset
from gankit.recipes.base import ranking_accuracy
from gankit.tricks import TRICKS

FAST = ["train.progress=false", "device=cpu", "train.sample_every=100000", "train.checkpoint_every=100000",
        "train.log_every=25", "eval.every=0", "symptoms.enabled=false", "ema=null"]
# PacGAN's ring (8 modes, std 0.01) with 2-layer MLPs of width 32 and 2-d noise
RING = FAST + ["model.g_width=32", "model.d_width=32", "model.g_layers=2", "model.d_layers=2", "model.z_dim=2",
               "train.batch_size=64", "optim.lr=1e-3"]
SEEDS = (0, 1)
PLAIN = RING + ["train.steps=300"]  # the preset's lr decay to 0 over the last 60%
COLLAPSE = RING + ["model.g_norm=null", "optim.decay_from=null", "train.steps=400"]  # as in test_learning's PacGAN test
DIGITS = FAST + ["data.limit=32", "model.g_width=16", "model.d_width=16", "model.d_norm=null", "train.batch_size=32",
                 "optim.lr=1e-3", "optim.decay_from=null", "train.steps=300"]
BATCH_TRICKS = {"minibatch_discrimination": "{name: minibatch_discrimination, kernels: 8, kernel_dim: 3}",
                "pack": "{name: pack, m: 2}"}
HA_WEIGHT = 1.0e-2
COLLAPSE_SEEDS = (0, 2)  # of seeds 0-2, those where the plain GAN collapses in COLLAPSE


class Runs:
    """Trains on demand and keeps each run, so tests comparing against the same plain run share it."""

    def __init__(self, root: Path) -> None:
        self.root, self.cache = root, {}

    def __call__(self, preset: str, data: str, overrides: list[str], seed: int = 0) -> Run:
        key = (preset, data, tuple(overrides), seed)
        if key not in self.cache:
            out = self.root / f"run{len(self.cache)}"
            self.cache[key] = gankit.train(preset, data, out=out, overrides=overrides + [f"seed={seed}"])
        return self.cache[key]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:  # noqa: ANN001
    return Runs(tmp_path_factory.mktemp("trick_effects"))


def d_rows(run: Run) -> list[dict]:
    """The training rows of metrics.jsonl (one every train.log_every steps)."""
    lines = (run.path / "metrics.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if "D/d_acc" in row]


def mean_d_acc(run: Run, rows: int | None = None) -> float:
    """D's ranking accuracy (Recipe.record_d), averaged over the first ``rows`` logged rows."""
    return float(np.mean([row["D/d_acc"] for row in d_rows(run)[:rows]]))


def modes_reached(samples: torch.Tensor, data: str = "ring8", share: float = 0.02) -> int:
    """Modes that are the nearest mode of at least ``share`` of the samples (diversity, ignoring sharpness)."""
    centres = torch.as_tensor(MIXTURES[data][0], dtype=torch.float32)
    nearest = torch.cdist(samples.float(), centres).argmin(1)
    return int((torch.bincount(nearest, minlength=len(centres)) >= share * len(samples)).sum())


def distance_to_modes(samples: torch.Tensor, data: str = "ring8") -> float:
    """Mean distance of the samples to their nearest mode (an untrained G's points sit near the centre)."""
    centres = torch.as_tensor(MIXTURES[data][0], dtype=torch.float32)
    return float(torch.cdist(samples.float(), centres).min(1).values.mean())


def measured(what: str, seed: int, *values: float) -> None:
    """Prints a measured value without and with the trick (shown with ``pytest -s``), for the docstrings."""
    print(f"\n{what} seed {seed}: " + " -> ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in values))


def adam_steps(run: Run) -> dict[str, int]:
    """Updates each optimiser made, read from the run's last checkpoint (Adam counts its steps)."""
    state = torch.load(run.path / "checkpoints" / "latest.pt", map_location="cpu", weights_only=False)["optimizers"]
    return {group: int(opt["state"][0]["step"]) for group, opt in state.items()}


def batch_dependence(G: torch.nn.Module, z: torch.Tensor) -> float:
    """How much G's outputs for the first 8 latents change when generated with the other 56, or in eval mode."""
    was = G.training
    with torch.no_grad():
        G.train()
        alone, together = G(z[:8]), G(z)[:8]
        G.eval()
        evaluated = G(z[:8])
    G.train(was)
    return float(torch.maximum((alone - together).abs().max(), (alone - evaluated).abs().max()))


def collapse_penalty(D: torch.nn.Module, real: torch.Tensor, points: int = 16) -> float:
    """How much lower D scores each of the first ``points`` real points inside a batch of 64 copies of itself
    than inside the diverse batch ``real`` (mean logit difference; 0 for a D that scores samples one by one)."""
    with torch.no_grad():
        diverse = D(real).logit[:points]
        collapsed = torch.stack([D(real[i:i + 1].repeat(len(real), 1)).logit[0] for i in range(points)])
    return float((collapsed - diverse).mean())


def distance_to_average(run: Run, group: str) -> float:
    """||theta - running mean of theta|| of one parameter group, with the mean the historical-averaging trick keeps."""
    trick = run.recipe.objective.tricks[0]
    flat = torch.cat([p.detach().flatten() for p in run.recipe.param_groups()[group]])
    return float((flat - getattr(trick, f"mean_{group}")).norm())


# --- D's targets and inputs ------------------------------------------------------------------------
def test_label_smoothing_lowers_d_confidence_on_real_data(runs) -> None:  # noqa: ANN001
    """Salimans et al. 2016: with real labels smoothed to 0.9, D's mean sigmoid on held-out real ring points is
    lower (D's optimum is 0.9 p_data / (p_data + p_g) instead of p_data / (p_data + p_g)).
    Measured after 300 steps, seeds 0/1/2: 0.503/0.501/0.503 without, 0.452/0.451/0.452 with."""
    real = load_dataset("ring8", split="test", limit=1000).x
    for seed in SEEDS:
        plain = runs("gan", "ring8", PLAIN, seed)
        smooth = runs("gan", "ring8", PLAIN + ["tricks=[label_smoothing]"], seed)
        with torch.no_grad():
            p_plain, p_smooth = (float(torch.sigmoid(r.recipe.D(real).logit).mean()) for r in (plain, smooth))
        measured("label_smoothing", seed, p_plain, p_smooth)
        assert p_smooth < p_plain - 0.03 and p_smooth < 0.47, (seed, p_plain, p_smooth)


def test_instance_noise_keeps_d_from_perfect_accuracy_early(runs) -> None:  # noqa: ANN001
    """Sonderby et al. 2017: noise (sigma 0.5, annealed over 400 steps) on D's inputs lowers D's ranking
    accuracy (D/d_acc) over the first 200 steps.
    Measured, seeds 0/1/2: 0.657/0.591/0.625 without, 0.529/0.527/0.533 with."""
    early = RING + ["train.steps=200", "optim.decay_from=null"]
    for seed in SEEDS:
        plain = runs("gan", "ring8", early, seed)
        noisy = runs("gan", "ring8", early + ["tricks=[{name: instance_noise, sigma: 0.5, anneal_steps: 400}]"], seed)
        acc_plain, acc_noisy = mean_d_acc(plain), mean_d_acc(noisy)
        measured("instance_noise", seed, acc_plain, acc_noisy)
        assert acc_noisy < acc_plain - 0.03 and acc_noisy < 0.56, (seed, acc_plain, acc_noisy)


def test_d_steps_gives_d_k_updates_and_higher_accuracy(runs) -> None:  # noqa: ANN001
    """Goodfellow et al. 2014, Algorithm 1: k = 3 D updates per G update (counted by D's Adam step), and D
    ranks real above fake more often (mean D/d_acc over 300 steps).
    Measured, seeds 0/1/2: 0.691/0.645/0.659 with k = 1, 0.810/0.746/0.770 with k = 3."""
    for seed in SEEDS:
        plain = runs("gan", "ring8", PLAIN, seed)
        k3 = runs("gan", "ring8", PLAIN + ["tricks=[{name: d_steps, k: 3}]"], seed)
        assert adam_steps(k3) == {"G": 300, "D": 900} and adam_steps(plain) == {"G": 300, "D": 300}
        acc_plain, acc_k3 = mean_d_acc(plain), mean_d_acc(k3)
        measured("d_steps", seed, acc_plain, acc_k3)
        assert acc_k3 > acc_plain + 0.05, (seed, acc_plain, acc_k3)


def test_diffaugment_narrows_d_overfitting_gap(runs) -> None:  # noqa: ANN001
    """Zhao et al. 2020: on 32 training digits, D without augmentation learns to score its training images
    above held-out ones; with DiffAugment the gap (ranking accuracy of training over held-out images, 0.5 = no
    memorisation) is smaller (DCGAN of width 16, no batch norm in D, lr 1e-3, 300 steps of 32 images).
    Measured, seeds 0/1/2: 0.679/0.600/0.600 without, 0.600/0.533/0.560 with."""
    held_out = load_dataset("digits", split="test").x
    for seed in SEEDS:
        train_x = load_dataset("digits", split="train", limit=32, seed=seed).x  # the images the runs trained on
        gaps = []
        for tricks in ("[]", "[diffaugment]"):
            run = runs("dcgan", "digits", DIGITS + [f"tricks={tricks}"], seed)
            D = run.recipe.D.eval()
            with torch.no_grad():
                gaps.append(float(ranking_accuracy(real=D(train_x).logit, fake=D(held_out).logit)))
        measured("diffaugment", seed, *gaps)
        assert gaps[1] < gaps[0] - 0.03, (seed, gaps)


# --- D's architecture: batch-level layers in a collapse-prone setting --------------------------------
@pytest.mark.parametrize("trick", ["minibatch_discrimination", "pack"])
def test_batch_level_tricks_cover_more_modes_where_gan_collapses(runs, trick: str) -> None:  # noqa: ANN001
    """Salimans et al. 2016 / Lin et al. 2018: where the GAN collapses (no batch norm in G, lr 1e-3, 400 steps),
    a D that sees several samples at once makes G reach more of the ring's modes (modes holding >= 2% of 2,500
    samples; the 3-std PacGAN count is too strict without the lr decay). Measured, seeds 0/1/2: 4/8/3 without;
    minibatch_discrimination (8 kernels of dimension 3) 8/8/8 (PacGAN count 2/4/2 -> 8/7/8), pack (m = 2)
    8/8/8. The test asserts on seeds 0 and 2, where the GAN collapses."""
    spec = BATCH_TRICKS[trick]
    for seed in COLLAPSE_SEEDS:
        plain = runs("gan", "ring8", COLLAPSE, seed)
        treated = runs("gan", "ring8", COLLAPSE + [f"tricks=[{spec}]"], seed)
        plain_modes, treated_modes = (modes_reached(r.sample(2500, seed=0)) for r in (plain, treated))
        measured(trick, seed, plain_modes, treated_modes)
        assert plain_modes <= 5 and treated_modes >= plain_modes + 3, (trick, seed, plain_modes, treated_modes)


def test_minibatch_stddev_makes_d_score_a_collapsed_batch_lower(runs) -> None:  # noqa: ANN001
    """Karras et al. 2018: D's features gain the batch's standard deviation, so D judges a real point lower
    inside a batch of copies of itself than inside a diverse batch (exactly 0 difference without the trick:
    D scores each sample alone). Measured in the collapse-prone setting, mean over 16 points, seeds 0/2:
    -0.032/-0.026 (D's weight on the statistic ends at +0.23/+0.27; when that weight started at nn.Linear's
    random init instead of zero, it was still -0.86 after 100 steps on seed 3: D rewarded collapse). Its diversity
    gain is not measurable here: modes reached 4/8/3 -> 3/8/3 on seeds 0/1/2 (a ring
    with 4 of its 8 modes has nearly the data's spread, which is all the statistic sees)."""
    real = load_dataset("ring8", split="test", limit=64).x
    for seed in COLLAPSE_SEEDS:
        plain = runs("gan", "ring8", COLLAPSE, seed)
        stddev = runs("gan", "ring8", COLLAPSE + ["tricks=[minibatch_stddev]"], seed)
        penalties = collapse_penalty(plain.recipe.D, real), collapse_penalty(stddev.recipe.D, real)
        measured("minibatch_stddev", seed, *penalties)
        assert abs(penalties[0]) < 1e-5 and penalties[1] < -0.01, (seed, penalties)


# --- G's architecture --------------------------------------------------------------------------------
def test_virtual_batch_norm_samples_do_not_depend_on_their_batch(runs) -> None:  # noqa: ANN001
    """Salimans et al. 2016: after training, G's output for a latent is the same whatever batch it is generated
    in and in train or eval mode, and G still learns the ring. Measured, seeds 0/1: the largest change of an
    output 0.860/0.916 with batch norm, 0 with virtual batch norm; mean distance to the nearest mode
    0.530/0.558 untrained, 0.203/0.203 trained; all 8 modes reached."""
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    for seed in SEEDS:
        plain = runs("gan", "ring8", PLAIN, seed)
        vbn = runs("gan", "ring8", PLAIN + ["tricks=[virtual_batch_norm]"], seed)
        dependence = batch_dependence(plain.recipe.G, z), batch_dependence(vbn.recipe.G, z)
        untrained = build_recipe(vbn.config, vbn.data, torch.device("cpu")).sample(2500)
        samples = vbn.sample(2500, seed=0)
        measured("virtual_batch_norm", seed, *dependence, distance_to_modes(untrained), distance_to_modes(samples),
                 modes_reached(samples))
        assert dependence[0] > 0.05 and dependence[1] < 1e-5, dependence
        assert distance_to_modes(samples) < 0.5 * distance_to_modes(untrained), seed
        assert modes_reached(samples) >= 6, seed


# --- G's objective -----------------------------------------------------------------------------------
def test_feature_matching_trains_g_on_the_feature_distance_and_learns(runs) -> None:  # noqa: ANN001
    """Salimans et al. 2016: G's only loss is the distance of D's mean features on fake and real batches
    (G/feature_matching is logged, G/adv is not), and G still learns the ring. Measured, seeds 0/1: mean
    distance to the nearest mode 0.859/0.875 untrained, 0.305/0.340 trained; all 8 modes reached."""
    for seed in SEEDS:
        run = runs("gan", "ring8", PLAIN + ["tricks=[feature_matching]"], seed)
        rows = d_rows(run)
        assert all("G/feature_matching" in row and "G/adv" not in row for row in rows)
        untrained = build_recipe(run.config, run.data, torch.device("cpu")).sample(2500)
        samples = run.sample(2500, seed=0)
        before, after, reached = distance_to_modes(untrained), distance_to_modes(samples), modes_reached(samples)
        measured("feature_matching", seed, before, after, reached)
        assert after < 0.5 * before and reached >= 6, (seed, before, after, reached)


def test_historical_averaging_keeps_parameters_near_their_average(runs) -> None:  # noqa: ANN001
    """Salimans et al. 2016: with the penalty, G's and D's parameters end nearer their running average. The
    baseline is the trick with weight 0 (it tracks the average and trains exactly as without the trick).
    Measured ||theta - mean|| after 300 steps with weight 0 -> 1e-2, seeds 0/1/2: G 0.443/0.362/0.364 ->
    0.296/0.207/0.189, D 0.454/0.448/0.306 -> 0.262/0.217/0.172 (the default weight 1e-3 gives 10-17% less
    distance: G 0.399/0.304/0.302, D 0.414/0.373/0.278)."""
    for seed in SEEDS:
        plain = runs("gan", "ring8", PLAIN, seed)
        zero = runs("gan", "ring8", PLAIN + ["tricks=[{name: historical_averaging, weight: 0}]"], seed)
        assert [row["D/d_acc"] for row in d_rows(zero)] == [row["D/d_acc"] for row in d_rows(plain)]
        averaged = runs("gan", "ring8", PLAIN + [f"tricks=[{{name: historical_averaging, weight: {HA_WEIGHT}}}]"], seed)
        for group in ("G", "D"):
            far, near = distance_to_average(zero, group), distance_to_average(averaged, group)
            measured(f"historical_averaging {group}", seed, far, near)
            assert near < 0.75 * far, (seed, group, far, near)


def off_diagonal_total(run: Run) -> float:
    """sum over G's weight matrices of ||W W^T * (1 - I)||_F^2: how far their rows are from orthogonal."""
    from gankit.tricks import off_diagonal_gram

    return float(sum(off_diagonal_gram(p.detach()) for p in run.recipe.G.parameters() if p.dim() >= 2))


def test_orthogonal_reg_pulls_g_rows_towards_orthogonal(runs) -> None:  # noqa: ANN001
    """Brock et al. 2019: with the regulariser (weight 1e-2 here; BigGAN's 1e-4 acts on much larger nets and runs),
    the rows of G's weight matrices end nearer orthogonal than without it, and G still learns the ring. Measured
    after 300 steps, seeds 0/1: 53.9 -> 11.3, 48.0 -> 10.1."""
    for seed in SEEDS:
        plain = runs("gan", "ring8", PLAIN, seed)
        ortho = runs("gan", "ring8", PLAIN + ["tricks=[{name: orthogonal_reg, weight: 1.0e-2}]"], seed)
        far, near = off_diagonal_total(plain), off_diagonal_total(ortho)
        measured("orthogonal_reg", seed, far, near)
        assert near < 0.5 * far, (seed, far, near)
        assert distance_to_modes(ortho.sample(1000, seed=0)) < 0.6, seed  # an untrained G: about 0.86


# --- config-level tricks -----------------------------------------------------------------------------
def test_ttur_sets_the_two_learning_rates_and_d_learns_faster(runs) -> None:  # noqa: ANN001
    """Heusel et al. 2017: D's optimiser runs at 4e-4 and G's at 1e-4; against both at 1e-4, D ranks real above
    fake more often (mean D/d_acc over 300 steps), and G still learns. Measured, seeds 0/1: D/d_acc
    0.600/0.541 -> 0.666/0.587; mean distance to the nearest mode 0.859/0.875 untrained, 0.428/0.396 with TTUR."""
    slow = RING + ["train.steps=300", "optim.decay_from=null", "optim.lr=1e-4"]
    for seed in SEEDS:
        plain = runs("gan", "ring8", slow, seed)
        ttur = runs("gan", "ring8", slow + ["tricks=[ttur]"], seed)
        rows = d_rows(ttur)
        assert all((row["lr/G"], row["lr/D"]) == (1e-4, 4e-4) for row in rows)
        assert all((row["lr/G"], row["lr/D"]) == (1e-4, 1e-4) for row in d_rows(plain))
        acc_plain, acc_ttur = mean_d_acc(plain), mean_d_acc(ttur)
        measured("ttur", seed, acc_plain, acc_ttur)
        assert acc_ttur > acc_plain + 0.03, (seed, acc_plain, acc_ttur)
        untrained = build_recipe(ttur.config, ttur.data, torch.device("cpu")).sample(2500)
        measured("ttur learns", seed, distance_to_modes(untrained), distance_to_modes(ttur.sample(2500, seed=0)))
        assert distance_to_modes(ttur.sample(2500, seed=0)) < 0.7 * distance_to_modes(untrained), seed


EFFECTS = {
    "label_smoothing": test_label_smoothing_lowers_d_confidence_on_real_data,
    "instance_noise": test_instance_noise_keeps_d_from_perfect_accuracy_early,
    "d_steps": test_d_steps_gives_d_k_updates_and_higher_accuracy,
    "diffaugment": test_diffaugment_narrows_d_overfitting_gap,
    "minibatch_discrimination": test_batch_level_tricks_cover_more_modes_where_gan_collapses,
    "minibatch_stddev": test_minibatch_stddev_makes_d_score_a_collapsed_batch_lower,
    "pack": test_batch_level_tricks_cover_more_modes_where_gan_collapses,
    "virtual_batch_norm": test_virtual_batch_norm_samples_do_not_depend_on_their_batch,
    "feature_matching": test_feature_matching_trains_g_on_the_feature_distance_and_learns,
    "historical_averaging": test_historical_averaging_keeps_parameters_near_their_average,
    "orthogonal_reg": test_orthogonal_reg_pulls_g_rows_towards_orthogonal,
    "ttur": test_ttur_sets_the_two_learning_rates_and_d_learns_faster,
}


def test_every_trick_has_an_effect_test() -> None:
    """A newly registered trick fails here until this file measures its effect."""
    assert sorted(EFFECTS) == sorted(TRICKS.names())
