"""3D-GAN (Wu et al. 2016): volumetric nets, voxel data (shapes3d, voxel .npz, .off meshes), renders and meshes, the
adaptive D update, and a learning check (domain FID and class coverage of a trained G against the untrained one)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit.api import build_recipe
from gankit.cli import main
from gankit.data import load_dataset
from gankit.data.dataset import subset
from gankit.data.voxels import read_off, voxelise
from gankit.errors import ConfigError, DataError
from gankit.nets.volume import VolumeGenerator, VolumeTrunk
from gankit.voxelviz import mesh, render_voxels, write_meshes
from tests.conftest import TINY

CUBE_OFF = """OFF8 6 0
# a unit cube as quads, the counts run into the keyword as in ModelNet's files
0 0 0\n1 0 0\n1 1 0\n0 1 0\n0 0 1\n1 0 1\n1 1 1\n0 1 1
4 0 3 2 1\n4 4 5 6 7\n4 0 1 5 4\n4 2 3 7 6\n4 1 2 6 5\n4 0 4 7 3
"""


def test_shapes3d_is_labelled_fixed_and_inside_the_grid() -> None:
    data = load_dataset("shapes3d", limit=200, seed=3)
    assert data.kind == "voxel" and data.x.shape == (200, 1, 16, 16, 16) and data.num_classes == 5
    assert data.class_names == ["box", "sphere", "cylinder", "cone", "torus"]
    assert set(data.x.unique().tolist()) == {-1.0, 1.0}
    occupied = data.x[:, 0] > 0
    assert occupied.flatten(1).any(1).all()  # no empty shape
    fine = load_dataset("shapes3d-32", limit=50).x[:, 0] > 0  # its border voxels' centres lie outside the shapes' cube
    assert not (fine[:, [0, -1]].any() or fine[:, :, [0, -1]].any() or fine[:, :, :, [0, -1]].any())  # none is cut
    full = load_dataset("shapes3d")  # a limit builds exactly the shapes subset() keeps of the whole split
    kept = subset(full, 200, 3)
    assert torch.equal(kept.x, data.x) and torch.equal(kept.y, data.y)
    assert torch.bincount(full.y).tolist() == [800] * 5


@pytest.mark.parametrize("depth, size, channels", [(16, 16, 1), (32, 32, 1), (8, 32, 3), (1, 16, 3)])
def test_volume_nets_take_any_depth_size_and_channels(depth: int, size: int, channels: int) -> None:
    G = VolumeGenerator(z_dim=12, out_channels=channels, depth=depth, size=size, width=4)
    x = G(torch.randn(2, 12))
    assert x.shape == (2, channels, depth, size, size) and x.abs().max() <= 1
    trunk = VolumeTrunk(in_channels=channels, depth=depth, size=size, width=4)
    assert trunk(x).shape == (2, trunk.features)


def test_off_parser_and_voxeliser(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "cube.off"
    path.write_text(CUBE_OFF)
    vertices, triangles = read_off(path)
    assert vertices.shape == (8, 3) and triangles.shape == (12, 3)
    solid = voxelise(vertices, triangles, 16)  # the cube spans 14 voxels a side, one empty voxel around it
    assert solid.sum() == 14 ** 3 and not solid[0].any() and solid[1:15, 1:15, 1:15].all()
    (tmp_path / "bad.off").write_text("PLY\n3 1 0\n")
    with pytest.raises(DataError, match="must begin with the keyword OFF"):
        read_off(tmp_path / "bad.off")


def test_modelnet10_layout_is_voxelised_and_cached(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for part in ("train", "test"):
        folder = tmp_path / "data" / "ModelNet10" / "chair" / part
        folder.mkdir(parents=True)
        (folder / "chair_0001.off").write_text(CUBE_OFF)
    data = load_dataset("modelnet10", split="all", root=str(tmp_path / "data"))
    assert data.x.shape == (2, 1, 32, 32, 32) and data.y.tolist() == [2, 2] and data.class_names[2] == "chair"
    assert (tmp_path / "home" / ".cache" / "gankit" / "data" / "modelnet10-32.npz").is_file()


@pytest.mark.parametrize("voxels, expected", [
    (np.zeros((4, 16, 16, 8), bool), "the grid must be cubic"),
    (np.zeros((4, 1, 16, 16, 16), bool), "drop the channel axis"),
    (np.zeros((4, 16, 16), bool), "(N, S, S, S)"),
    (np.full((4, 16, 16, 16), 2.0), "must lie in [0, 1]"),
])
def test_bad_voxel_file_exits_2_and_writes_nothing(capsys, tmp_path, voxels, expected) -> None:  # noqa: ANN001
    path = tmp_path / "shapes.npz"
    np.savez(path, voxels_train=voxels)
    code = main(["train", "3dgan", "--data", str(path), "--out", str(tmp_path / "run"), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and str(path) in err
    assert not (tmp_path / "run").exists()


def test_render_and_meshes(tmp_path) -> None:  # noqa: ANN001
    axis = (torch.arange(16) + 0.5) / 8 - 1
    sphere = ((axis[:, None, None] ** 2 + axis[None, :, None] ** 2 + axis[None, None] ** 2) < 0.5).float() * 2 - 1
    volumes = torch.stack([sphere, -torch.ones_like(sphere)])[:, None]  # a ball and an empty grid
    views = render_voxels(volumes)
    assert views.shape == (2, 3, 64, 64)
    assert (views[0, :, 32, 32] < 0.5).all() and (views[0, :, 0, 0] == 1).all() and (views[1] == 1).all()
    vertices, faces = mesh((sphere.numpy() + 1) / 2)
    assert len(faces) > 100 and np.abs(vertices).max() < 1
    (one,) = write_meshes(volumes, tmp_path / "shapes.obj")
    text = one.read_text()
    assert text.count("\no shape_") == 2 and "# empty" in text and f"\nf " in text
    assert [p.name for p in write_meshes(volumes, tmp_path / "meshes")] == ["shape_000.obj", "shape_001.obj"]
    with pytest.raises(ConfigError, match=r"\(N, 1, S, S, S\)"):
        write_meshes(torch.zeros(2, 1, 8, 8), tmp_path / "x.obj")


def test_adaptive_d_update_follows_the_last_batch_accuracy() -> None:
    cfg = gankit.config.resolve("3dgan", overrides=TINY)
    info = gankit.types.DataInfo.of(load_dataset("shapes3d", limit=8))
    recipe = build_recipe(cfg, info, torch.device("cpu"))
    d_phase = recipe.phases()[0]
    recipe.d_accuracy.fill_(0.81)
    assert d_phase.repeats_at(1) == 0  # the paper: D updates only while its accuracy is not above 80%
    recipe.d_accuracy.fill_(0.8)
    assert d_phase.repeats_at(1) == 1
    assert "d_accuracy" in recipe.state_dict()  # in the checkpoint: a resumed run skips the same updates
    with pytest.raises(ConfigError, match="d_accuracy_limit"):
        build_recipe(gankit.config.resolve("3dgan", overrides=TINY + ["loss=wasserstein"]), info, torch.device("cpu"))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:  # noqa: ANN001
    """The 3dgan preset at reduced widths, 150 steps on shapes3d (about 15 s on one thread)."""
    out = tmp_path_factory.mktemp("runs") / "3dgan"
    gankit.train("3dgan", out=out, overrides=["train.steps=150", "train.batch_size=32", "model.g_width=8",
                                              "model.d_width=8", "train.progress=false", "device=cpu",
                                              "train.sample_every=150", "train.checkpoint_every=150"])
    return out


def test_sample_writes_views_and_meshes(capsys, trained_run, tmp_path) -> None:  # noqa: ANN001
    assert main(["sample", str(trained_run), "--n", "4", "--out", str(tmp_path / "shapes.png"), "--seed", "0"]) == 0
    assert (tmp_path / "shapes.png").is_file()
    assert main(["sample", str(trained_run), "--n", "2", "--out", str(tmp_path / "meshes"), "--seed", "0"]) == 0
    assert sorted(p.name for p in (tmp_path / "meshes").iterdir()) == ["shape_000.obj", "shape_001.obj"]
    assert main(["sample", str(trained_run), "--n", "3", "--out", str(tmp_path / "all.obj")]) == 0
    assert (tmp_path / "all.obj").read_text().count("\no shape_") == 3


@pytest.mark.slow
def test_trained_g_beats_untrained_on_domain_fid_and_classes(trained_run, evaluator_cache) -> None:  # noqa: ANN001
    from gankit.metrics.domain import train_evaluator

    train_evaluator("shapes3d", epochs=4, progress=False)  # cached for the evaluations below
    run = gankit.load(trained_run, device="cpu")
    trained = run.evaluate(["fid", "classes"], n=500, log=False)
    untrained = build_recipe(run.config, run.data, run.device).eval()
    run.recipe = untrained
    baseline = run.evaluate(["fid", "classes"], n=500, log=False)
    assert trained["eval/fid"] < 0.5 * baseline["eval/fid"], (trained, baseline)
    assert trained["eval/class_entropy"] > baseline["eval/class_entropy"] + 0.2, (trained, baseline)
