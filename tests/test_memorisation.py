"""The memorisation metric, and the contract of every metric in the METRICS registry."""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import gankit
from gankit.api import build_recipe
from gankit.config import DataConfig, resolve
from gankit.data import load_dataset
from gankit.errors import ConfigError
from gankit.evaluate import Evaluation, higher_is_better
from gankit.metrics import METRICS, Metric, Need, Setting, memorisation
from gankit.types import DataInfo
from tests.test_evaluate import FAST


def test_memorisation_closed_form() -> None:
    """1D features by hand: test images lie 1, 2, 3, 4 from the training set, so the median quantile is 2.5;
    generated ones lie 0.5, 0, 3, 10 away: two of four within 2.5, median 1.75 over the test median 2.5."""
    train = torch.tensor([[0.0], [10.0], [20.0]])
    test = torch.tensor([[1.0], [12.0], [23.0], [14.0]])
    fake = torch.tensor([[0.5], [10.0], [17.0], [30.0]])
    result = memorisation(train=train, test=test, fake=fake, quantile=0.5)
    assert result == pytest.approx({"copy_share": 0.5, "copy_distance_ratio": 0.7}, abs=1e-12)
    assert memorisation(train=train, test=test, fake=train)["copy_share"] == 1.0  # exact copies, at any quantile
    with pytest.raises(ValueError, match="quantile"):
        memorisation(train=train, test=test, fake=fake, quantile=1.0)


class Replay(nn.Module):
    """A stand-in generator that hands back given images in order (a fixture for the metric, not a model)."""

    def __init__(self, images: Tensor) -> None:
        super().__init__()
        self.register_buffer("images", images)
        self.device_anchor = nn.Parameter(torch.zeros(1))  # the recipe reads G's device from its parameters
        self.served = 0

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        index = (torch.arange(len(z)) + self.served) % len(self.images)
        self.served += len(z)
        return self.images[index]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, evaluator_cache):  # noqa: ANN001, ANN201
    """A dcgan on digits without EMA, so that replacing G replaces the sampler."""
    return gankit.train("dcgan", "digits", out=tmp_path_factory.mktemp("memo") / "dcgan",
                        overrides=FAST + ["train.steps=1", "ema=null"])


def digits(run, split: str) -> Tensor:  # noqa: ANN001
    data = run.config.data
    return load_dataset("digits", split=split, image_size=data.image_size, channels=data.channels).x


def test_replayed_training_images_are_flagged_and_held_out_ones_are_not(digits_run) -> None:  # noqa: ANN001
    recipe, trained_g = digits_run.recipe, digits_run.recipe.G
    test_images = digits(digits_run, "test")  # 297: the evaluation's whole reference split
    n = len(test_images)
    try:
        recipe.G = Replay(digits(digits_run, "train"))
        copied = digits_run.evaluate(["memorisation"], n=n, features="domain", log=False)
        recipe.G = Replay(test_images)
        fresh = digits_run.evaluate(["memorisation", "fid"], n=n, features="domain", log=False)
    finally:
        recipe.G = trained_g
    assert copied["eval/copy_share"] > 0.9 and copied["eval/copy_distance_ratio"] < 0.1, copied
    assert copied["protocol"]["memorisation"] == {"train": "digits:train", "train_images": 1500, "test": "digits:test",
                                                  "test_images": n, "quantile": 0.01, "features": "domain:digits"}
    # held-out images are near-copies about as often as the quantile says (1%), and exactly as far away as the test set
    assert fresh["eval/copy_share"] < 0.1 and fresh["eval/copy_distance_ratio"] == pytest.approx(1.0), fresh
    assert fresh["eval/fid"] == pytest.approx(0.0, abs=1e-3)  # the replayed images are the reference split itself


def test_memorisation_refuses_without_held_out_images(digits_run, tmp_path) -> None:  # noqa: ANN001
    run, cfg = digits_run, replace(digits_run.config.eval, metrics=["memorisation"])
    with pytest.raises(ConfigError, match=r"memorisation .* needs eval.split=test, got eval.split='train'"):
        run.evaluate(["memorisation"], split="train", log=False)
    with pytest.raises(ConfigError, match=r"memorisation needs held-out images .* data.split='all'"):
        Evaluation(cfg, replace(run.config.data, split="all"), run.data, run.recipe, run.device)
    # an .npz with a training split only: nothing held out
    pixels = (digits(run, "train")[:50, 0].numpy() + 1) * 127.5
    train_only = tmp_path / "train_only.npz"
    np.savez(train_only, x_train=pixels.round().astype(np.uint8))
    with pytest.raises(ConfigError, match=r"memorisation needs held-out real images, and .* has no test split"):
        Evaluation(cfg, DataConfig(name=str(train_only)), run.data, run.recipe, run.device)


# --- the registry's contract: a metric added later is checked here by being registered -------------------------
def test_every_registered_metric_declares_its_contract() -> None:
    assert {"fid", "kid", "is", "pr", "dc", "class_acc", "code_acc", "classes", "modes", "psnr", "ssim", "cycle",
            "memorisation"} <= set(METRICS)
    keys = [key for name in METRICS for key in METRICS.get(name).keys]
    assert len(keys) == len(set(keys)), "two metrics write the same score key"
    for name in METRICS:
        metric = METRICS.get(name)
        assert issubclass(metric, Metric) and metric.name == name and METRICS.doc(name), name
        assert metric.scores and metric.keys == tuple(metric.scores), name
        assert all(isinstance(up, bool) and higher_is_better(key) is up for key, up in metric.scores.items()), name
        # empty needs: a metric that reads the scored recipe itself (probe, prior_match, ssl_acc: encoders, classifiers)
        assert all(isinstance(need, Need) for need in metric.needs), name
        assert metric.score is not Metric.score, f"{name} does not implement score"


def setting(preset: str, data: str, **eval_cfg: str) -> Setting:
    cfg = resolve(preset, data, ["device=cpu"])
    real = load_dataset(data, split="test")
    info = DataInfo(data, real.sample_shape, real.num_classes, real.kind, real.class_names)
    return Setting(replace(cfg.eval, **eval_cfg), cfg.data, info, build_recipe(cfg, info, torch.device("cpu")))


def test_each_metric_that_can_refuse_does_so_naming_itself() -> None:
    """Every metric with an applicability check refuses in at least one of these settings, with its name in
    the message; a new metric whose check none of them trips needs a setting here."""
    settings = [setting("dcgan", "digits"), setting("gan", "ring8"), setting("dcgan", "digits", split="train")]
    refused = set()
    for name in METRICS:
        metric = METRICS.get(name)()
        for s in settings:
            try:
                metric.check(s)
            except ConfigError as err:
                assert re.search(rf"\b{re.escape(name)}\b", str(err)), (name, str(err))
                refused.add(name)
    assert refused == {name for name in METRICS if METRICS.get(name).check is not Metric.check}
    # a need the evaluation cannot meet is reported with the metrics that need it
    ring = settings[1]
    with pytest.raises(ConfigError, match=r"metric 'is' needs class probabilities"):
        Evaluation(replace(ring.cfg, metrics=["fid", "is"]), ring.data_cfg, ring.data, ring.recipe, torch.device("cpu"))
