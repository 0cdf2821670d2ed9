"""Any adversarial loss and any penalty work with any unconditional architecture, by override alone."""
from __future__ import annotations

import math

import pytest

import gankit
from gankit.losses import LOSSES, PENALTIES
from gankit.nets import ARCHS, takes_sequences
from tests.conftest import TINY, shared_file

ONE_STEP = [o for o in TINY if not o.startswith(("train.steps", "train.checkpoint_every"))] + [
    "train.steps=1", "train.checkpoint_every=1", "data.image_size=16", "n_critic=1"]

IMAGE_ARCHS = [arch for arch in ARCHS.names() if not takes_sequences(arch)]  # crnn: tests/test_sequences.py
COMBOS = [(arch, loss, None) for arch in IMAGE_ARCHS for loss in LOSSES.names()]
COMBOS += [(arch, "wasserstein", penalty) for arch in IMAGE_ARCHS for penalty in PENALTIES.names()]


@pytest.mark.parametrize(("arch", "loss", "penalty"), COMBOS, ids=[f"{a}-{l}-{p}" for a, l, p in COMBOS])
def test_any_loss_and_penalty_on_any_architecture(arch: str, loss: str, penalty: str | None, tmp_path) -> None:  # noqa: ANN001
    overrides = ONE_STEP + [f"model.arch={arch}", f"loss={loss}", f"penalties=[{penalty or ''}]"]
    if arch != "dcgan":
        overrides.append("model.d_norm=null")  # the residual/MLP critics run without batch norm, as in their papers
    if arch in ("r3gan", "stylegan", "stylegan2", "progan"):
        overrides.append("model.g_norm=null")  # R3GAN's, the style G's and ProGAN's layers have no normalisation
    preset = "dcgan"
    if arch == "volume":  # voxel networks on voxel shapes (16^3, their own size); D's 80% rule off for any loss
        preset = "3dgan"
        overrides = [o for o in overrides if not o.startswith("data.image_size")] + ["recipe_args.d_accuracy_limit=null"]
    run = gankit.train(preset, out=tmp_path / "r", overrides=overrides)
    assert run.config.model.arch == arch and run.config.loss == loss
    row = (run.path / "metrics.jsonl").read_text().splitlines()[-1]
    values = [v for k, v in __import__("json").loads(row).items() if "/" in k]
    assert values and all(math.isfinite(v) for v in values)
    if penalty in ("gp", "r1", "r2", "drift"):
        assert f'"D/{penalty}"' in row


def test_train_on_shared_mnist(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """The real MNIST file (../shared/data) end to end, found through $GANKIT_DATA."""
    monkeypatch.setenv("GANKIT_DATA", str(shared_file("mnist.npz").parent))
    run = gankit.train("dcgan", "mnist", out=tmp_path / "m", overrides=[o for o in TINY if "limit" not in o] + ["data.limit=256"])
    assert run.data.sample_shape == (1, 28, 28) and run.data.num_classes == 10
    assert run.sample(2).shape == (2, 1, 28, 28)
