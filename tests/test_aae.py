"""The adversarial autoencoder (gankit/recipes/aae.py) and its prior_match metric (gankit/metrics/prior_match.py):
priors, the MMD against closed forms, every prior trains, bad input, and learning checks on digits."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.data import load_dataset
from gankit.errors import ConfigError
from gankit.metrics.prior_match import SCALES, median_bandwidth, mmd2_unbiased
from gankit.recipes.aae import AAE, CategoricalPrior, GaussianPrior, MixturePrior
from conftest import TINY  # tests/ is on sys.path under pytest
from test_conformance import unchanged_networks


# --- the MMD ------------------------------------------------------------------------------------------
def naive_mmd2(x: torch.Tensor, y: torch.Tensor, bandwidths: list[float]) -> float:
    """Gretton et al. 2012's unbiased estimate term by term, in float64."""
    def k(a: torch.Tensor, b: torch.Tensor) -> float:
        return sum(math.exp(-float(((a - b) ** 2).sum()) / (2 * h**2)) for h in bandwidths) / len(bandwidths)

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def gaussian_kernel_mean(mu: float, var: float, dim: int, bandwidth: float) -> float:
    """E k(X, Y) for X - Y ~ N(mu * 1, var * I) in ``dim`` dimensions, k(a, b) = exp(-|a - b|^2 / (2 h^2))."""
    h2 = bandwidth**2
    return (h2 / (h2 + var)) ** (dim / 2) * math.exp(-dim * mu**2 / (2 * (h2 + var)))


def test_mmd_matches_a_float64_reference_and_the_closed_form() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(7, 3, generator=g), torch.randn(9, 3, generator=g) + 0.5
    for bandwidths in ([1.3], [0.4, 2.0]):
        expected = naive_mmd2(x.double(), y.double(), bandwidths)
        assert mmd2_unbiased(x, y, bandwidths=bandwidths) == pytest.approx(expected, abs=1e-12)
    # N(0, I) against N(0.5, 1.5^2 I) in 4-D: MMD^2 = E k(X,X') + E k(Y,Y') - 2 E k(X,Y), each a closed form
    dim, h = 4, 2.0
    x, y = torch.randn(3000, dim, generator=g), 0.5 + 1.5 * torch.randn(3000, dim, generator=g)
    exact = (gaussian_kernel_mean(0, 2, dim, h) + gaussian_kernel_mean(0, 2 * 1.5**2, dim, h)
             - 2 * gaussian_kernel_mean(0.5, 1 + 1.5**2, dim, h))
    assert mmd2_unbiased(x, y, bandwidths=[h]) == pytest.approx(exact, abs=0.01)  # exact .0977
    same = mmd2_unbiased(torch.randn(3000, dim, generator=g), torch.randn(3000, dim, generator=g), bandwidths=[h])
    assert abs(same) < 0.003  # unbiased: zero in expectation for one distribution
    median = math.sqrt(2) * 1.832  # sqrt(2) times the median of a chi distribution with 4 degrees of freedom
    assert median_bandwidth(torch.randn(2000, dim, generator=g)) == pytest.approx(median, rel=0.03)
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd2_unbiased(x[:1], y, bandwidths=[h])


# --- priors ------------------------------------------------------------------------------------------
def test_priors_draw_what_they_say() -> None:
    g = torch.Generator().manual_seed(0)
    z = GaussianPrior(5).sample(4000, generator=g)
    torch.testing.assert_close(z.mean(0), torch.zeros(5), atol=0.06, rtol=0)
    mixture = MixturePrior(6, 10)
    labels = torch.full((4000,), 3)
    z = mixture.sample(4000, labels=labels, generator=g)  # component 3: rotated by 3/10 of a turn
    angle = 2 * math.pi * 3 / 10
    torch.testing.assert_close(z[:, :2].mean(0), 1.4 * torch.tensor([math.cos(angle), math.sin(angle)]), atol=0.03,
                               rtol=0)
    along = z[:, :2] @ torch.tensor([math.cos(angle), math.sin(angle)])  # radial spread .5, tangential .05
    across = z[:, :2] @ torch.tensor([-math.sin(angle), math.cos(angle)])
    assert along.std() == pytest.approx(0.5, rel=0.05) and across.std() == pytest.approx(0.05, rel=0.05)
    torch.testing.assert_close(z[:, 2:].std(0), torch.ones(4), atol=0.06, rtol=0)  # N(0, I) beyond the plane
    counts = torch.bincount((torch.atan2(*mixture.sample(4000, generator=g)[:, [1, 0]].T) % (2 * math.pi)
                             / (2 * math.pi) * 10 + 0.5).long() % 10, minlength=10)
    assert counts.min() > 300  # unlabelled draws: every component, about equally
    cat = CategoricalPrior(10, 4).sample(6, labels=torch.arange(6), generator=g)
    assert cat.shape == (6, 14) and torch.equal(cat[:, :10].argmax(1), torch.arange(6)) and cat[:, :10].sum() == 6


# --- every prior trains; bad input ---------------------------------------------------------------------
PRIORS = {"gaussian": [], "mixture": [], "labelled-mixture": [], "categorical": ["recipe_args.labels=10"]}


@pytest.mark.parametrize("prior", list(PRIORS))
def test_every_prior_trains_and_round_trips(prior: str, tmp_path) -> None:  # noqa: ANN001
    overrides = TINY + ["data.limit=128", f"recipe_args.prior={prior}"] + PRIORS[prior]
    run = gankit.train("aae", "digits", out=tmp_path / "run", overrides=overrides)
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    losses = {k: v for row in rows for k, v in row.items() if "/" in k and not k.startswith(("lr/", "sample/"))}
    assert {"recon/recon", "D/adv", "G/adv"} <= set(losses) and all(math.isfinite(v) for v in losses.values())
    recipe = run.recipe
    assert isinstance(recipe, AAE)
    expected = {"G", "E", "D"} | ({"D_y"} if prior == "categorical" else set())
    assert set(recipe.networks()) == expected
    if prior == "categorical":
        assert {"D/adv_y", "G/adv_y", "classify/supervised"} <= set(losses)
    initial = gankit.api.build_recipe(run.config, run.data, torch.device("cpu"))
    assert unchanged_networks(initial, recipe) == []
    x = run.input_data().x[:5].cpu()
    code = run.encode(x).z
    assert code.shape == (5, recipe.prior.dim) and run.reconstruct(x).shape == x.shape
    classes = 10 if prior in ("labelled-mixture", "categorical") else 0
    assert recipe.label_classes() == classes
    if classes:  # a chosen class draws its component (labelled mixture) or its one-hot (categorical)
        z = recipe.sample_latent(400, labels=torch.full((400,), 2), generator=torch.Generator().manual_seed(0)).z
        if prior == "categorical":
            assert torch.equal(z[:, :10].argmax(1), torch.full((400,), 2))
        else:
            torch.testing.assert_close(z[:, 0].mean(), torch.tensor(1.4 * math.cos(2 * math.pi * 0.2)), atol=0.08,
                                       rtol=0)
    loaded = gankit.load(run.path, device="cpu")
    torch.testing.assert_close(loaded.sample(4, seed=3), run.sample(4, seed=3), rtol=0, atol=0)


@pytest.mark.parametrize(("data", "overrides", "message"), [
    ("digits", ["recipe_args.prior=uniform"], "unknown prior 'uniform'"),
    ("digits", ["recipe_args.recon=l2"], "unknown reconstruction loss 'l2'"),
    ("digits", ["recipe_args.labels=20"], "set recipe_args.prior=categorical"),
    ("digits", ["recipe_args.prior=labelled-mixture", "recipe_args.components=8"], "each of the 10 classes"),
    ("digits", ["recipe_args.prior=categorical", "recipe_args.labels=15"], "positive multiple of 10"),
    ("digits", ["recipe_args.width=3"], "argument of recipe 'aae'"),
    ("digits", ["conditional=true"], "set conditional=false"),
    ("digits", ["tricks=[diffaugment]"], "does not accept trick 'diffaugment'"),
    ("digits", ["terms=[classification]"], "does not accept term 'classification'"),
    ("LOOSE", ["recipe_args.prior=labelled-mixture"], "codes are tied to class labels"),
    ("LOOSE", ["recipe_args.prior=categorical"], "codes are tied to class labels"),
    ("digits", ["recipe_args.prior=mixture", "model.z_dim=1"], "components are 2-D"),
])
def test_bad_input_is_refused_clearly(data: str, overrides: list[str], message: str, tmp_path) -> None:  # noqa: ANN001
    if data == "LOOSE":  # a folder of images without class sub-folders: no labels
        (tmp_path / "loose").mkdir()
        for i in range(4):
            Image.fromarray(np.full((16, 16), i * 60, np.uint8)).save(tmp_path / "loose" / f"{i}.png")
        data = str(tmp_path / "loose")
    with pytest.raises(ConfigError, match=message):
        gankit.train("aae", data, out=tmp_path / "run", overrides=TINY + overrides)


# --- learning checks on the digits ---------------------------------------------------------------------
SMALL = ["model.g_width=32", "model.d_width=256", "train.progress=false", "train.sample_every=100000",
         "train.checkpoint_every=100000", "device=cpu"]


def train_small(preset: str, tmp_path, overrides: list[str], seed: int = 0) -> gankit.api.Run:  # noqa: ANN001
    return gankit.train(preset, "digits", out=tmp_path / "run", overrides=SMALL + overrides + [f"seed={seed}"])


def component_accuracy(codes: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of codes (N, Z) whose nearest mixture component (by angle in the first two entries) is their label's."""
    component = (torch.atan2(codes[:, 1], codes[:, 0]) / (2 * math.pi) * 10).round().long() % 10
    return float((component == labels).float().mean())


def class_mmd(codes: torch.Tensor, labels: torch.Tensor, prior: MixturePrior, shift: int) -> float:
    """Mean over classes k of MMD^2(codes of class k, draws of component k + shift): shift 0 is the prior the
    labelled AAE matches, shift 1 a mismatched one (each class on its neighbour's component)."""
    g = torch.Generator().manual_seed(0)
    bandwidths = [scale * median_bandwidth(prior.sample(1000, generator=g)) for scale in SCALES]
    scores = []
    for k in range(10):
        own = codes[labels == k]
        draws = prior.sample(len(own), labels=torch.full((len(own),), (k + shift) % 10), generator=g)
        scores.append(mmd2_unbiased(own, draws, bandwidths=bandwidths))
    return sum(scores) / len(scores)


def labelled_signals(tmp_path, seed: int = 0) -> dict[str, float]:  # noqa: ANN001
    """The aae-labelled preset, small: its codes of test digits against their class's component and a neighbour's,
    and the component accuracy of the trained and the untrained encoder."""
    run = train_small("aae-labelled", tmp_path, ["train.steps=300"], seed)
    test = load_dataset("digits", split="test")
    untrained = gankit.api.build_recipe(run.config, run.data, torch.device("cpu"))
    codes = run.recipe.encode_all(test.x).z
    prior = run.recipe.prior
    return {"own": class_mmd(codes, test.y, prior, 0), "neighbour": class_mmd(codes, test.y, prior, 1),
            "accuracy": component_accuracy(codes, test.y),
            "untrained_accuracy": component_accuracy(untrained.encode_all(test.x).z, test.y)}


def test_labelled_codes_match_their_prior_far_better_than_a_mismatched_one(tmp_path) -> None:  # noqa: ANN001
    """Sec. 2.3 / Fig. 4A: D reads the label, so E puts the codes of class k on mixture component k: the codes of each
    class of unseen test digits match their component far better than the mismatched prior (the neighbouring
    component), and the nearest component names the class."""
    signals = labelled_signals(tmp_path)
    assert signals["own"] < 0.3 * signals["neighbour"], signals  # seeds 0, 1: own .064, .065; neighbour .312, .307
    assert signals["accuracy"] > 0.6 and signals["untrained_accuracy"] < 0.25, signals  # .734 / .088, .714 / .128


def semi_supervised_accuracy(tmp_path, seed: int = 0) -> float:  # noqa: ANN001
    """Test accuracy of the categorical head of an AAE trained with 100 labelled digits."""
    run = train_small("aae", tmp_path, ["recipe_args.prior=categorical", "recipe_args.labels=100", "train.steps=300"],
                      seed)
    test = load_dataset("digits", split="test")
    recipe = run.recipe.eval()
    assert len(recipe.labelled.y) == 100 and torch.equal(torch.bincount(recipe.labelled.y), torch.full((10,), 10))
    with torch.no_grad():
        return float((recipe.classify(test.x).argmax(1) == test.y).float().mean())


def test_semi_supervised_head_classifies_from_a_few_labels(tmp_path) -> None:  # noqa: ANN001
    """Sec. 5: E's categorical head, trained on 100 labelled digits besides the two code games, classifies the
    test split far above chance (.1)."""
    accuracy = semi_supervised_accuracy(tmp_path)
    assert accuracy > 0.8, accuracy  # seeds 0, 1: .939, .933
