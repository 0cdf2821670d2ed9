"""What an encoder learnt: a linear probe on its codes, and the class kept by its reconstructions.

For recipes with an encoder (gankit/recipes/encoding.py: BiGAN/ALI, AAE, VAE, VAE-GAN, IcGAN, BiCoGAN):

- ``probe_acc``: the test accuracy of a logistic regression fitted on the codes E(x) of labelled
  training images (Donahue et al. 2017's evaluation of BiGAN features, linear here). A random-init
  encoder already gives a probe above chance; the learning check is the margin over it.
- ``recon_acc``: the share of test images whose reconstruction G(E(x)) the domain classifier puts in
  x's class; ``recon_error``: the mean squared pixel error of the reconstructions (images in [-1, 1]).
- ``edit_acc`` (IcGAN, BiCoGAN): each test image is given another class (drawn at random, never its own); the share
  of edits the domain classifier puts in the asked class. ``edit_style``: the mean pixel distance of an
  edit to its input over that of a random sample of the same asked class to the input; below 1 the edit
  kept the input's style (stroke, slant, position) rather than drawing any image of the class.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric

PROBE_TRAIN = 5000  # labelled training images the probe is fitted on (a fixed random subset)
PROBE_SEED = 0


def linear_probe(train_codes: Tensor, train_labels: Tensor, test_codes: Tensor, test_labels: Tensor) -> float:
    """Test accuracy of a multinomial logistic regression (scikit-learn, standardised inputs) fitted on the
    training codes (N, Z) and labels (N,)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(train_codes.double().numpy(), train_labels.numpy())
    return float(np.mean(probe.predict(test_codes.double().numpy()) == test_labels.numpy()))


def _require_encoder(setting: Setting, metric: str) -> None:
    from gankit.recipes.encoding import Encoding  # imported here: gankit.metrics loads without the recipes

    if not isinstance(setting.recipe, Encoding):
        raise ConfigError(f"{metric} scores an encoder, and recipe {setting.recipe.__class__.__name__} has none: use it "
                          "with bigan, ali, aae, vae, vaegan, icgan or bicogan runs")
    if setting.data.num_classes < 1 or setting.data.kind != "image":
        raise ConfigError(f"{metric} needs labelled images (digits, mnist, a class-folder); data set "
                          f"{setting.data.name!r} has none: drop {metric} from eval.metrics")


def _split(setting: Setting, split: str, limit: int | None):  # noqa: ANN202  (Dataset)
    """``limit`` images (a fixed random subset) of one split of the run's data set, with labels."""
    from gankit.data import load_dataset

    d = setting.data_cfg
    return load_dataset(d.name, split=split, image_size=d.image_size, channels=d.channels, root=d.root,
                        limit=limit, seed=PROBE_SEED)


def _device(setting: Setting) -> torch.device:
    return next(setting.recipe.parameters()).device


@register_metric("probe")
class Probe(Metric):
    """Linear-probe test accuracy of the encoder's codes (logistic regression on train codes; BiGAN's protocol)."""

    scores = {"probe_acc": True}

    def check(self, setting: Setting) -> None:
        _require_encoder(setting, "probe")

    def score(self, inputs: Inputs) -> dict[str, float]:
        setting, recipe = inputs.setting, inputs.setting.recipe
        train = _split(setting, setting.data_cfg.split, PROBE_TRAIN)
        test = _split(setting, setting.cfg.split, setting.cfg.n)
        codes = [recipe.encode_all(d.x.to(_device(setting))).z.float().cpu() for d in (train, test)]
        return {"probe_acc": linear_probe(codes[0], train.y.cpu(), codes[1], test.y.cpu())}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"probe": f"logistic regression on standardised codes of {PROBE_TRAIN} {inputs.setting.data_cfg.split} "
                         f"images (seed {PROBE_SEED}), accuracy on eval.split"}


@register_metric("reconstruction")
class Reconstruction(Metric):
    """G(E(x)) of test images: share the domain evaluator puts in x's class, and the pixel MSE."""

    scores = {"recon_acc": True, "recon_error": False}
    needs = frozenset({Need.LABELLER})

    def check(self, setting: Setting) -> None:
        _require_encoder(setting, "reconstruction")

    def score(self, inputs: Inputs) -> dict[str, float]:
        setting = inputs.setting
        test = _split(setting, setting.cfg.split, setting.cfg.n)
        x = test.x.to(_device(setting))
        recon = setting.recipe.reconstruct(x).clamp(-1, 1)
        _, logits = inputs.labellers[self.labeller(setting)].extract(recon, inputs.batch_size)
        return {"recon_acc": float((logits.argmax(1) == test.y.cpu()).double().mean()),
                "recon_error": float((recon - x).double().pow(2).mean())}


@register_metric("edit")
class Edit(Metric):
    """IcGAN and BiCoGAN edits of test images to another class: share classified as asked, and style kept (distance ratio)."""

    scores = {"edit_acc": True, "edit_style": False}
    needs = frozenset({Need.LABELLER})

    def check(self, setting: Setting) -> None:
        from gankit.recipes.encoding import Editing

        _require_encoder(setting, "edit")
        if not isinstance(setting.recipe, Editing):
            raise ConfigError("edit scores class edits of real images, which need an encoder of the class too: "
                              "use it with icgan and bicogan runs")

    def score(self, inputs: Inputs) -> dict[str, float]:
        setting, recipe = inputs.setting, inputs.setting.recipe
        test = _split(setting, setting.cfg.split, setting.cfg.n)
        device, k = _device(setting), setting.data.num_classes
        generator = torch.Generator(device=device).manual_seed(setting.cfg.seed)
        x, y = test.x.to(device), test.y.to(device)
        shift = torch.randint(1, k, y.shape, device=device, generator=generator)  # another class than its own
        asked = (y + shift) % k
        edited = recipe.edit(x, asked).clamp(-1, 1)
        random = recipe.generate(recipe.sample_latent(len(x), labels=asked, generator=generator)).clamp(-1, 1)
        _, logits = inputs.labellers[self.labeller(setting)].extract(edited, inputs.batch_size)
        distance = lambda a: float((a - x).flatten(1).norm(dim=1).double().mean())  # noqa: E731
        return {"edit_acc": float((logits.argmax(1) == asked.cpu()).double().mean()),
                "edit_style": distance(edited) / distance(random)}


__all__ = ["linear_probe", "Probe", "Reconstruction", "Edit"]
