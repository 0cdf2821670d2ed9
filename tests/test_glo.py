"""GLO (Bojanowski et al. 2018, gankit/recipes/glo.py): the Laplacian-pyramid L1 loss against a hand computation,
the batch's row index (InMemoryLoader), and a short run on the digits whose learnt codes reconstruct the training
images far better than the untrained G's, with codes on the sphere, the Gaussian fitted to them, and codes of new
images inferred by optimisation. The FID of prior samples is checked in tests/test_preset_learning.py ("glo")."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import gankit
from gankit.data import InMemoryLoader, load_dataset
from gankit.errors import ConfigError
from gankit.losses.pyramid import lap1_features, lap1_loss, laplacian_pyramid
from gankit.recipes import Latent
from gankit.recipes.glo import GLO

RUN = ["model.g_width=32", "model.z_dim=16", "train.steps=300", "train.progress=false", "device=cpu",
       "train.sample_every=100000", "train.checkpoint_every=100000", "eval.every=0", "recipe_args.encode_steps=100"]


def test_lap1_matches_a_hand_computation() -> None:
    # x = 0..15 as a 4x4 image, three levels. g1 holds the 2x2 block means 2.5 4.5 / 10.5 12.5, g2 their mean 7.5.
    # L0 = x - up(g1): each block deviates by -2.5 -1.5 1.5 2.5, |L0|_1 = 4 blocks x 8 = 32;
    # L1 = g1 - up(g2) = -5 -3 / 3 5, |L1|_1 = 16; L2 = g2 = 7.5.
    # Lap1 = (2^0 * 32 + 2^2 * 16 + 2^4 * 7.5) / 16 pixels = (32 + 64 + 120) / 16 = 13.5
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    levels = laplacian_pyramid(x, 3)
    torch.testing.assert_close(levels[1], torch.tensor([[[[-5.0, -3.0], [3.0, 5.0]]]]))
    torch.testing.assert_close(levels[2], torch.tensor([[[[7.5]]]]))
    batch, target = torch.cat([x, x]), torch.cat([torch.zeros_like(x), x])
    torch.testing.assert_close(lap1_loss(output=batch, target=target, levels=3), torch.tensor([13.5, 0.0]))
    # one level is the plain mean absolute error; two levels on a 2x2 image: (|-1.5|+|-.5|+|.5|+|1.5| + 4 * 2.5) / 4
    torch.testing.assert_close(lap1_loss(output=x, target=torch.zeros_like(x), levels=1), torch.tensor([7.5]))
    square = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    torch.testing.assert_close(lap1_loss(output=square, target=torch.zeros_like(square), levels=2), torch.tensor([3.5]))
    # the L1 distance of the weighted pyramids is Lap1 (encode compares many pairs with cdist)
    a, b = torch.randn(3, 2, 8, 8), torch.randn(5, 2, 8, 8)
    pairs = torch.stack([lap1_loss(output=a, target=b[j].expand_as(a), levels=3) for j in range(5)], 1)
    torch.testing.assert_close(torch.cdist(lap1_features(a, 3), lap1_features(b, 3), p=1), pairs)


def test_the_pyramid_rebuilds_its_image_and_refuses_sizes_it_cannot_halve() -> None:
    x = torch.randn(2, 3, 8, 8)
    l0, l1, l2 = laplacian_pyramid(x, 3)
    up = lambda t: torch.nn.functional.interpolate(t, scale_factor=2, mode="nearest")  # noqa: E731
    torch.testing.assert_close(l0 + up(l1 + up(l2)), x)
    with pytest.raises(ValueError, match="divisible by 4"):
        laplacian_pyramid(torch.randn(1, 1, 6, 6), 3)


def test_the_loader_gives_each_row_its_index_on_every_rank_and_after_a_resume() -> None:
    data = load_dataset("digits", limit=40, seed=0)
    one = InMemoryLoader(data, 8, seed=5)
    ranks = [InMemoryLoader(data, 4, seed=5, rank=r, world_size=2) for r in range(2)]
    for _ in range(7):  # crosses epoch boundaries (5 batches of 8 per epoch)
        whole, parts = one.next(), [loader.next() for loader in ranks]
        assert torch.equal(data.x[whole.index], whole.x) and torch.equal(data.y[whole.index], whole.y)
        assert torch.equal(torch.cat([p.index for p in parts]), whole.index)  # the rows of the full data set
    resumed = InMemoryLoader(data, 8, seed=5)
    resumed.load_state_dict(one.state_dict())
    assert all(torch.equal(one.next().index, resumed.next().index) for _ in range(4))


@pytest.fixture(scope="module")
def glo_run(tmp_path_factory) -> gankit.api.Run:  # noqa: ANN001
    return gankit.train("glo", "digits", out=tmp_path_factory.mktemp("glo") / "run", overrides=RUN + ["seed=0"])


def test_learnt_codes_reconstruct_the_training_images(glo_run) -> None:  # noqa: ANN001
    data = load_dataset("digits", seed=0)
    trained = glo_run.recipe.eval()
    untrained = gankit.api.build_recipe(glo_run.config, glo_run.data, torch.device("cpu")).eval()
    untrained.use_data(data)  # the codes it starts from: the images' whitened principal components
    errors = {}
    for name, recipe in (("trained", trained), ("untrained", untrained)):
        with torch.no_grad():
            errors[name] = float((recipe.G(recipe.codes.weight) - data.x).pow(2).mean())
    # pixel MSE of G(z_i) against x_i over the 1,500 training digits: .033 / .706 (seed 0), .034 / .872 (seed 1)
    assert errors["trained"] < 0.06 and errors["trained"] < 0.1 * errors["untrained"], errors
    norms = trained.codes.weight.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms))  # every code on the unit sphere


def test_prior_samples_follow_the_gaussian_fitted_to_the_codes(glo_run) -> None:  # noqa: ANN001
    recipe, codes = glo_run.recipe, glo_run.recipe.codes.weight.detach().double()
    z = recipe.sample_latent(20000, generator=torch.Generator().manual_seed(0)).z.double()
    torch.testing.assert_close(z.mean(0), codes.mean(0), atol=0.01, rtol=0)
    torch.testing.assert_close(torch.cov(z.T), torch.cov(codes.T), atol=0.004, rtol=0)
    loaded = gankit.load(glo_run.path, device="cpu")  # the Gaussian is the checkpointed codes'
    torch.testing.assert_close(loaded.sample(8, seed=1), glo_run.sample(8, seed=1), rtol=0, atol=0)


def test_encode_infers_codes_of_training_images_by_optimisation(glo_run) -> None:  # noqa: ANN001
    x = load_dataset("digits", seed=0).x[:16]
    latent = glo_run.encode(x)
    torch.testing.assert_close(latent.z.norm(dim=1), torch.ones(16))
    # each image's code is optimised alone: the batch it comes in changes only the rounding (which Adam's normalised
    # steps amplify where a gradient is nearly 0: up to .035 of the unit-norm codes seen on one machine)
    torch.testing.assert_close(glo_run.encode(x[5:7]).z, latent.z[5:7], atol=0.06, rtol=0)
    recon = glo_run.recipe.generate(Latent(latent.z))
    with torch.no_grad():
        learnt = glo_run.recipe.G(glo_run.recipe.codes.weight[:16])
    # pixel MSE of the reconstructions by inferred codes .030 (seed 0), .030 (seed 1); by the learnt codes .031, .034
    assert float((recon - x).pow(2).mean()) < 1.5 * float((learnt - x).pow(2).mean()) + 0.005


@pytest.mark.parametrize(("override", "message"), [
    ("recipe_args.level=2", "nearest|levels"),
    ("recipe_args.levels=5", "do not divide by 16"),
    ("recipe_args.init=zeros", "pca, random"),
    ("recipe_args.encode_lr=0", "learning rate > 0"),
    ("tricks=[label_smoothing]", "does not accept trick 'label_smoothing'.*no discriminator"),
    ("penalties=[gp]", "does not accept"),
    ("conditional=true", "unconditional"),
])
def test_bad_configs_are_refused_clearly(override: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        gankit.train("glo", "digits", out=tmp_path / "run", overrides=RUN + [override])


def test_points_data_are_refused() -> None:
    cfg = gankit.config.resolve("glo", "ring8", ["device=cpu"])
    with pytest.raises(ConfigError, match="image data"):
        GLO.from_config(cfg, gankit.types.DataInfo("ring8", (2,), 8, "points", size=100))


def test_a_resumed_run_ends_bitwise_equal_to_an_uninterrupted_one(tmp_path: Path) -> None:
    from gankit.train.checkpoint import load_checkpoint
    from tests.test_resume import assert_same

    tiny = ["model.g_width=8", "data.limit=200", "train.checkpoint_every=3", "train.sample_every=100",
            "optim.decay_from=null", "train.deterministic=true", "train.progress=false", "device=cpu"]
    straight = gankit.train("glo", "digits", out=tmp_path / "straight", overrides=tiny + ["train.steps=6"])
    first = gankit.train("glo", "digits", out=tmp_path / "resumed", overrides=tiny + ["train.steps=3"])
    resumed = gankit.resume(first.path, ["train.steps=6"])  # 3 batches of 64 per epoch: the second epoch resumes
    a, b = (load_checkpoint(run.path / "checkpoints" / "latest.pt") for run in (straight, resumed))
    for key in ("recipe", "optimizers", "loader", "rng", "fixed"):
        assert_same(a[key], b[key], key)


@pytest.mark.skipif(not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
                    reason="torch.distributed with gloo is needed for multi-process training")
def test_two_ranks_learn_the_codes_one_process_learns_with_twice_the_batch(tmp_path: Path) -> None:
    """Each rank looks up its rows' codes by their global index; DDP averages the table's gradient like G's."""
    import subprocess
    import sys

    from gankit.train.checkpoint import load_checkpoint
    from tests.test_distributed import env, pre_norm_biases

    tiny = ["model.g_width=8", "train.steps=3", "train.checkpoint_every=3", "train.sample_every=3", "model.sync_bn=true",
            "train.progress=false", "symptoms.enabled=false", "device=cpu", "optim.decay_from=null"]
    cmd = [sys.executable, "-m", "gankit", "train", "glo", "--data", "digits", *tiny, "train.batch_size=32", "--nproc",
           "2", "--out", str(tmp_path / "ddp")]
    done = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    single = gankit.train("glo", "digits", out=tmp_path / "single", overrides=tiny + ["train.batch_size=64"])
    two = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "latest.pt")["recipe"]
    one = load_checkpoint(single.path / "checkpoints" / "latest.pt")["recipe"]
    assert two.keys() == one.keys()
    skip = pre_norm_biases(single.recipe.G, "G.")  # their true gradient is 0: Adam's steps on rounding noise
    for key in [k for k in one if k.split(".")[0] in ("G", "codes") and k not in skip]:
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-5, msg=key)
