"""The command line: every verb, and bad input -> a clear message and exit status 2."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main
from tests.conftest import TINY


def run_cli(capsys, *args: str) -> tuple[int, str, str]:  # noqa: ANN001
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory) -> Path:  # noqa: ANN001
    out = tmp_path_factory.mktemp("runs") / "cgan"
    assert main(["train", "cgan", "--data", "digits", "--out", str(out), *TINY, "data.image_size=16"]) == 0
    return out


def test_list_names_everything(capsys) -> None:  # noqa: ANN001
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for name in ["dcgan", "wgan-gp", "sagan", "infogan", "hinge", "lsgan", "gp", "r1", "clip", "ring8", "digits", "cifar10",
                 "classification", "memorisation", "fid"]:
        assert f"  {name} " in out or f"  {name}\n" in out, name
    from gankit.metrics import METRICS

    metrics = out.split("metrics (")[1]  # every registered metric, listed from the registry
    assert all(f"  {name} " in metrics for name in METRICS.names())


@pytest.mark.parametrize(("args", "expected"), [
    (["train", "dcgna", "--data", "digits"], "Did you mean 'dcgan'"),
    (["train", "dcgan", "--data", "mnsit"], "Did you mean 'mnist'"),
    (["train", "dcgan", "train.stepz=5"], "Did you mean 'train.steps'"),
    (["train", "dcgan", "loss=hinj"], "Did you mean 'hinge'"),
    (["train", "dcgan", "optim.lr=0"], "optim.lr=0"),
    (["train", "dcgan", "train.batch_size=0"], "train.batch_size=0"),
    (["train", "dcgan", "data.image_size=30"], "data.image_size=30"),
    (["train", "dcgan", "model.arch=resnt"], "Did you mean 'resnet'"),
    (["train", "infogan", "recipe_args.info_wieght=2"], "Did you mean 'info_weight'"),
    (["train", "dcgan", "recipe_args.n_cont=2"], "unknown argument of recipe 'gan' 'n_cont'"),
    (["train", "pix2pix", "--data", "digits"], "has no pairs"),
    (["train", "pix2pix", "--data", "digits", "data.pairing=null"], "needs paired data"),
    (["train", "cyclegan", "--data", "digits", "data.domains=null"], "data.domains=[A, B]"),
    (["train", "srgan", "--data", "digits", "recipe_args.scale=3"], "scale"),
    (["train", "dcgan", "data.pairing=pared"], "data.pairing"),
])
def test_bad_input_exits_2_with_a_message(capsys, tmp_path, args, expected) -> None:  # noqa: ANN001
    code, _, err = run_cli(capsys, *args, "--out", str(tmp_path / "run"), "train.progress=false", "train.steps=2")
    assert code == 2
    assert expected in err
    assert err.startswith("gankit: error:")
    assert not (tmp_path / "run").exists()  # a run that could not start leaves nothing behind


def test_conditional_preset_on_unlabelled_folder(capsys, tmp_path) -> None:  # noqa: ANN001
    folder = tmp_path / "loose"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((16, 16), i * 60, np.uint8)).save(folder / f"{i}.png")
    code, _, err = run_cli(capsys, "train", "cgan", "--data", str(folder), "--out", str(tmp_path / "run"), *TINY)
    assert code == 2 and "has no labels" in err


def test_existing_run_is_never_overwritten(capsys, cgan_run) -> None:  # noqa: ANN001
    before = {p: p.stat().st_mtime_ns for p in cgan_run.rglob("*") if p.is_file()}
    code, _, err = run_cli(capsys, "train", "dcgan", "--out", str(cgan_run), *TINY)
    assert code == 2 and "--resume" in err
    assert {p: p.stat().st_mtime_ns for p in cgan_run.rglob("*") if p.is_file()} == before


def test_sample_a_chosen_class(capsys, cgan_run, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "grid.png"
    code, stdout, _ = run_cli(capsys, "sample", str(cgan_run), "--n", "9", "--class", "3", "--seed", "1", "--out", str(out))
    assert code == 0 and "wrote a grid of 9 samples" in stdout
    w, h = Image.open(out).size
    assert (w, h) == (3 * 17 + 1, 3 * 17 + 1)  # 3x3 grid of 16 px tiles with 1 px padding
    import gankit

    run = gankit.load(cgan_run)
    a, b = run.sample(4, labels=3, seed=1), run.sample(4, labels=5, seed=1)
    assert not np.allclose(a.numpy(), b.numpy())  # the label changes the sample
    np.testing.assert_array_equal(run.sample(4, labels=3, seed=1).numpy(), a.numpy())  # same seed, same sample


def test_sample_class_out_of_range(capsys, cgan_run, tmp_path) -> None:  # noqa: ANN001
    code, _, err = run_cli(capsys, "sample", str(cgan_run), "--class", "12", "--out", str(tmp_path / "g.png"))
    assert code == 2 and "0..9" in err


def test_interpolate_png_and_gif(capsys, cgan_run, tmp_path) -> None:  # noqa: ANN001
    code, _, _ = run_cli(capsys, "interpolate", str(cgan_run), "--rows", "2", "--steps", "5", "--out", str(tmp_path / "w.png"))
    assert code == 0 and Image.open(tmp_path / "w.png").size == (5 * 17 + 1, 2 * 17 + 1)
    code, _, _ = run_cli(capsys, "interpolate", str(cgan_run), "--rows", "2", "--steps", "5", "--out", str(tmp_path / "w.gif"))
    gif = Image.open(tmp_path / "w.gif")
    assert code == 0 and gif.n_frames == 5


def test_info(capsys, cgan_run) -> None:  # noqa: ANN001
    code, out, _ = run_cli(capsys, "info", str(cgan_run))
    info = json.loads(out)
    assert code == 0 and info["preset"] == "cgan" and info["step"] == 2 and info["data"]["num_classes"] == 10


def test_infogan_varies_a_chosen_code(tmp_path) -> None:  # noqa: ANN001
    import gankit

    run = gankit.train("infogan", "digits", out=tmp_path / "info", overrides=[*TINY, "data.image_size=16"])
    assert run.recipe.code_names() == ["cat0", "cont0", "cont1"]
    walk = run.interpolate(rows=2, steps=10, code="cat0", seed=0)  # (20, 1, 16, 16): columns are the 10 categories
    assert walk.shape == (20, 1, 16, 16)
    assert not np.allclose(walk[0].numpy(), walk[1].numpy())
    with pytest.raises(gankit.ConfigError, match="cont0"):
        run.interpolate(code="cont7")
    # labels pick the first categorical code: same noise, another code value, another image
    assert run.recipe.label_classes() == 10
    assert not np.allclose(run.sample(2, labels=3, seed=0).numpy(), run.sample(2, labels=4, seed=0).numpy())


def test_corrupt_image_in_folder_is_named(capsys, tmp_path) -> None:  # noqa: ANN001
    folder = tmp_path / "imgs"
    (folder / "cats").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((16, 16, 3), i * 40, np.uint8)).save(folder / "cats" / f"{i}.png")
    (folder / "cats" / "broken.png").write_bytes(b"not a png at all")
    code, _, err = run_cli(capsys, "train", "dcgan", "--data", str(folder), "--out", str(tmp_path / "run"), *TINY)
    assert code == 2 and "broken.png" in err
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run" / "checkpoints").glob("*.pt"))


def test_crafted_checkpoint_is_refused_not_executed(capsys, cgan_run, tmp_path) -> None:  # noqa: ANN001
    import shutil

    run = tmp_path / "evil"
    shutil.copytree(cgan_run, run)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # noqa: ANN204
            return (Path.touch, (marker,))

    latest = run / "checkpoints" / "latest.pt"
    latest.unlink()
    latest.write_bytes(pickle.dumps({"recipe": Evil()}))
    code, _, err = run_cli(capsys, "sample", str(run), "--out", str(tmp_path / "g.png"))
    assert code == 2 and "refused" in err
    assert not marker.exists()


def test_console_script_exit_status(tmp_path) -> None:  # noqa: ANN001
    """The installed entry point (a real process) exits 2 on bad input."""
    done = subprocess.run([sys.executable, "-m", "gankit", "train", "nosuchpreset"], capture_output=True, text=True)
    assert done.returncode == 2 and "unknown preset 'nosuchpreset'" in done.stderr
