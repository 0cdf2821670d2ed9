"""The semi-supervised GANs (issue 12): SSGAN and Triple-GAN on the 8x8 digits with 20 labels (2 per class).

The signal is the classifier's test accuracy (ssgan: D's class head; triplegan: C) against the same classifier
network, from the same initialisation, trained on the same 30 labelled digits alone for the same number of
steps (``supervised_only``). The values measured on seeds 0 and 1 (600 steps, one thread) are written beside the
bounds; the tests run seed 0.
"""
from __future__ import annotations

import pytest
import torch

import gankit
from gankit.api import build_recipe
from gankit.config import resolve
from gankit.errors import ConfigError
from gankit.bench import supervised_only
from gankit.recipes.semi_supervised import classifier_accuracy, labelled_indices
from gankit.types import Batch

QUIET = ["train.progress=false", "device=cpu", "symptoms.enabled=false", "train.log_every=100",
         "train.sample_every=100000", "train.checkpoint_every=100000"]
TINY = QUIET + ["train.steps=2", "model.g_width=16", "model.d_width=16"]


def test_labelled_examples_are_balanced_and_fixed_by_the_seed() -> None:
    y = torch.arange(10).repeat(20)[torch.randperm(200, generator=torch.Generator().manual_seed(1))]
    rows = labelled_indices(y, 30, 10, seed=0)
    assert torch.equal(torch.bincount(y[rows], minlength=10), torch.full((10,), 3))  # 3 of each class
    assert len(set(rows.tolist())) == 30
    assert torch.equal(rows, labelled_indices(y, 30, 10, seed=0))
    assert not torch.equal(rows, labelled_indices(y, 30, 10, seed=1))
    with pytest.raises(ConfigError, match="class 0"):
        labelled_indices(y, 250, 10, seed=0)  # 25 per class, and the data has 20


@pytest.mark.parametrize(("preset", "override", "message"), [
    ("ssgan", "recipe_args.labels=35", "multiple of 10"),
    ("ssgan", "recipe_args.labels=2000", "labelled examples of class"),
    ("ssgan", "loss=hinge", "nonsat"),
    ("ssgan", "model.label_input=concat", "never sees labels"),
    ("ssgan", "recipe_args.unlabelled=3", "labels, supervised_weight"),
    ("ssgan", "tricks=[minibatch_stddev]", "does not accept trick 'minibatch_stddev'"),
    ("triplegan", "tricks=[feature_matching]", "does not accept trick 'feature_matching'"),
    ("triplegan", "recipe_args.alpha=1.0", "alpha"),
])
def test_bad_settings_are_refused(preset: str, override: str, message: str, tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match=message):
        gankit.train(preset, out=tmp_path / "run", overrides=TINY + [override])


def test_unlabelled_data_is_refused(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="labelled data set"):
        gankit.train("ssgan", "ring8", out=tmp_path / "run", overrides=TINY + ["model.z_dim=2"])


def test_labelled_examples_travel_with_the_run(tmp_path) -> None:  # noqa: ANN001
    """The labelled examples are the run's own (a checkpoint holds them) and ssl_acc scores the classifier."""
    run = gankit.train("triplegan", out=tmp_path / "run", overrides=TINY)
    labelled = run.recipe.labelled
    assert torch.equal(torch.bincount(labelled.y, minlength=10), torch.full((10,), 2))
    loaded = gankit.load(run.path, device="cpu")
    assert torch.equal(loaded.recipe.labelled.x, labelled.x) and torch.equal(loaded.recipe.labelled.y, labelled.y)
    row = loaded.evaluate(["ssl_acc"], log=False)
    assert row["eval/ssl_acc"] == classifier_accuracy(run.recipe, run.config.data)  # all 297 test digits (eval.n 2000)


def measure(preset: str, tmp_path) -> tuple[float, float, gankit.api.Run]:  # noqa: ANN001
    """(the test accuracy of a 600-step run of seed 0, the supervised-only baseline's, the run)."""
    run = gankit.train(preset, out=tmp_path / preset, overrides=QUIET + ["train.steps=600"])
    return classifier_accuracy(run.recipe, run.config.data), supervised_only(run.config).accuracy, run


def test_ssgan_beats_the_labelled_examples_alone(tmp_path) -> None:  # noqa: ANN001
    accuracy, baseline, _ = measure("ssgan", tmp_path)
    assert accuracy >= 0.82  # .896, .852 on seeds 0, 1
    assert accuracy - baseline >= 0.06  # baseline .795, .694: margins .101, .158


def test_triplegan_beats_the_labelled_examples_alone(tmp_path) -> None:  # noqa: ANN001
    accuracy, baseline, run = measure("triplegan", tmp_path)
    untrained = classifier_accuracy(build_recipe(run.config, run.data, torch.device("cpu")), run.config.data)
    assert accuracy >= 0.8  # .872, .764 on seeds 0, 1
    assert accuracy - baseline >= 0.04  # baseline .758, .714: margins .114, .050
    assert accuracy - untrained >= 0.4  # the untrained C is at chance


def test_triplegan_regularisers_on_unlabelled_images(tmp_path) -> None:  # noqa: ANN001
    """C's entropy and balance terms are the authors': weight x mean_x H(p_c(.|x)) and weight x the cross-entropy
    of the batch's mean prediction against uniform (at least log K, reached when the classes are balanced)."""
    run = gankit.train("triplegan", out=tmp_path / "run", overrides=TINY + ["recipe_args.entropy_weight=0.5",
                                                                            "recipe_args.balance_weight=2.0"])
    recipe = run.recipe.eval()
    x = recipe.labelled.x[:16]
    with torch.no_grad():
        probs = torch.softmax(recipe.classify(x), dim=1)
        terms = recipe.c_step(Batch(x=x, y=None), step=1)
    entropy = -(probs * probs.log()).sum(1).mean()
    balance = -probs.mean(0).log().mean()
    assert torch.allclose(terms["entropy"], 0.5 * entropy, atol=1e-5)
    assert torch.allclose(terms["balance"], 2.0 * balance, atol=1e-5)
    log_k = torch.tensor(10.0).log()
    assert 2.0 * log_k - 1e-5 <= terms["balance"] and terms["entropy"] <= 0.5 * log_k + 1e-5


def test_supervised_only_trains_the_recipe_classifier() -> None:
    """The baseline trains the recipe's own classifier network (ssgan: D's class head; triplegan: C) for train.steps."""
    for preset in ("ssgan", "triplegan"):
        assert supervised_only(resolve(preset, None, TINY)).steps == 2
