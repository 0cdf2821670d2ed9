"""Memorisation: does G hand back near-copies of its training images?

A nearest-neighbour test in the evaluation's feature space (the features FID uses), with
held-out real images as the yardstick (in the spirit of Meehan et al. 2020, "A non-parametric
test to detect data-copying in generative models"). A held-out test image is by construction
no copy of a training image, so its distance to the nearest training image shows how close a
new sample of the data lies to the training set. A generated sample nearer to a training image
than all but ``quantile`` (1%) of the held-out images are is counted as a near-copy:

- ``copy_share``: the share of generated samples that are near-copies; about ``quantile`` for a
  G that draws new samples of the data, 1 for a G that replays its training set;
- ``copy_distance_ratio``: the median of the generated samples' nearest-training distances over
  the held-out images' median; below 1, G sits closer to its training images than new real
  images do. (Far above 1 is no praise: noise is far from everything; read it beside FID.)
"""
from __future__ import annotations

from typing import Any

import torch

from gankit.errors import ConfigError, DataError
from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric
from gankit.metrics.prdc import nearest_distance
from gankit.metrics.stats import Features, MetricInputError, as_pair


def memorisation(*, train: Features, test: Features, fake: Features, quantile: float = 0.01,
                 chunk_size: int = 1024) -> dict[str, float]:
    """{'copy_share', 'copy_distance_ratio'} of generated features ``fake`` (N, D) against the training
    features ``train`` (M, D), measured by the held-out features ``test`` (T, D); float64 distances."""
    train_rows, test_rows = as_pair(train, test, ("train", "test"))
    _, fake_rows = as_pair(train, fake, ("train", "fake"))
    if not 0 <= quantile < 1:
        raise MetricInputError(f"quantile must be in [0, 1), got {quantile}")
    for name, rows in (("train", train_rows), ("test", test_rows), ("fake", fake_rows)):
        if rows.shape[0] < 1:
            raise MetricInputError(f"{name} is empty (shape {tuple(rows.shape)}): memorisation needs samples of each")
    test_distance = nearest_distance(test_rows, train_rows, chunk_size)  # (T,)
    fake_distance = nearest_distance(fake_rows, train_rows, chunk_size)  # (N,)
    threshold = torch.quantile(test_distance, quantile)
    # <=: an exact copy is a copy even where a held-out image duplicates a training one (threshold 0)
    copy_share = (fake_distance <= threshold).double().mean()
    ratio = torch.quantile(fake_distance, 0.5) / torch.quantile(test_distance, 0.5)
    return {"copy_share": float(copy_share), "copy_distance_ratio": float(ratio)}


@register_metric("memorisation")
class Memorisation(Metric):
    """Near-copies of training images: share of samples nearer a training image than 99% of test images are."""

    scores = {"copy_share": False, "copy_distance_ratio": True}
    needs = frozenset({Need.FEATURE_ROWS, Need.TRAIN_ROWS})
    quantile = 0.01

    def check(self, setting: Setting) -> None:
        held_out, trained_on = setting.cfg.split, setting.data_cfg.split
        if held_out != "test":
            raise ConfigError(f"memorisation measures G against held-out real images: it needs eval.split=test, "
                              f"got eval.split={held_out!r} (set eval.split=test, or drop memorisation)")
        if trained_on != "train":
            raise ConfigError(f"memorisation needs held-out images G never saw, but this run trained on "
                              f"data.split={trained_on!r}, which holds the test split; it applies to runs "
                              "trained on data.split=train")
        from gankit.data import load_dataset

        data_cfg = setting.data_cfg
        try:  # a data set without a test split has nothing held out: say so here, as a config error
            load_dataset(data_cfg.name, split="test", root=data_cfg.root, pairing=data_cfg.pairing,
                         domains=data_cfg.domains)
        except DataError as err:
            raise ConfigError(f"memorisation needs held-out real images, and {data_cfg.name!r} has no test split "
                              f"({err}); hold some images out (an .npz with x_test, or train/ and test/ folders), "
                              "or drop memorisation") from err

    def score(self, inputs: Inputs) -> dict[str, float]:
        return memorisation(train=inputs.train, test=inputs.real.rows, fake=inputs.fake.rows, quantile=self.quantile)

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        setting = inputs.setting
        return {"memorisation": {"train": f"{setting.data.name}:{setting.data_cfg.split}",
                                 "train_images": len(inputs.train), "test": f"{setting.data.name}:{setting.cfg.split}",
                                 "test_images": inputs.n_real, "quantile": self.quantile,
                                 "features": inputs.extractor.name}}
