"""StackGAN (Zhang et al. 2017): captioned data, measured caption attributes, sampling from text, bad captions,
and a learning check (the class the caption names is the class the MNIST evaluator sees)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.data import load_dataset
from gankit.data.captions import stroke_attributes
from gankit.data.text import Vocabulary
from gankit.errors import DataError
from tests.conftest import SHARED_DATA, TINY

CAPTIONS = ["a red circle", "a blue square", "a small red square", "a large blue circle", "a red square",
            "a blue circle"]


def bars() -> np.ndarray:
    """(3, 28, 28) in [0, 1]: a thin upright bar, a thick upright bar, a thin bar leaning right."""
    images = np.zeros((3, 28, 28))
    images[0, 4:24, 13:15] = 1.0
    images[1, 4:24, 11:17] = 1.0
    for row in range(4, 24):
        col = 14 + (14 - row) // 2  # the top is to the right
        images[2, row, col:col + 2] = 1.0
    return images


def test_stroke_attributes_measure_thickness_slant_and_size() -> None:
    measured = stroke_attributes(bars())
    assert measured["thickness"][1] > 2 * measured["thickness"][0]  # 6 px wide against 2 px wide
    assert abs(measured["slant"][0]) < 1e-9 and abs(measured["slant"][1]) < 1e-9  # upright
    assert measured["slant"][2] == pytest.approx(0.5, abs=0.05)  # half a column per row, leaning right
    assert measured["size"][1] == pytest.approx(20 * 6 / 28**2) and measured["size"][0] == pytest.approx(20 * 2 / 28**2)


def caption_folder(root: Path, captions: list[str]) -> Path:
    """A folder of 16 px grey images with captions.txt ('<image><TAB><caption>' a line)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    for i, caption in enumerate(captions):
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(root / f"img{i}.png")
        lines.append(f"img{i}.png\t{caption}")
    (root / "captions.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_caption_folder_loads_captions_beside_images(tmp_path: Path) -> None:
    data = load_dataset(str(caption_folder(tmp_path / "shapes", CAPTIONS)))
    assert data.x.shape == (6, 1, 16, 16) and data.captions.shape == (6, 5)  # 4 words at most, then <eos>
    assert Vocabulary(data.tokens).decode(data.captions) == CAPTIONS


def test_empty_caption_is_refused_and_nothing_is_written(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    folder = caption_folder(tmp_path / "shapes", [*CAPTIONS[:3], " ", *CAPTIONS[3:]])
    with pytest.raises(DataError, match="line 4: the caption of img3.png is empty"):
        load_dataset(str(folder))
    out = tmp_path / "run"
    assert main(["train", "stackgan", "--data", str(folder), "--out", str(out), *TINY]) == 2
    assert "is empty" in capsys.readouterr().err and not out.exists()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> gankit.Run:  # noqa: ANN001
    folder = caption_folder(tmp_path_factory.mktemp("data") / "shapes", CAPTIONS)
    return gankit.train("stackgan", out=tmp_path_factory.mktemp("runs") / "run",
                        overrides=[*TINY, f"data.name={folder}", "data.image_size=16", "model.embed_dim=8",
                                   "recipe_args.condition_dim=4"])


def test_sample_from_text(tiny_run: gankit.Run, tmp_path: Path) -> None:
    images = tiny_run.from_text(["a red circle", "a blue square"], 3, seed=1)
    assert images.shape == (6, 1, 16, 16)
    torch.testing.assert_close(images, tiny_run.from_text(["a red circle", "a blue square"], 3, seed=1))
    out = tmp_path / "grid.png"
    assert main(["sample", str(tiny_run.path), "--text", "a red circle", "--text", "a blue square", "--n", "3",
                 "--out", str(out)]) == 0
    assert Image.open(out).size[0] > Image.open(out).size[1]  # two rows of three stage I | stage II pairs


@pytest.mark.parametrize(("caption", "message"), [("", "is empty"), ("a purple circle", "'purple'")])
def test_bad_caption_exits_2_and_writes_nothing(tiny_run: gankit.Run, tmp_path: Path, capsys, caption: str,  # noqa: ANN001
                                                message: str) -> None:
    out = tmp_path / "grid.png"
    assert main(["sample", str(tiny_run.path), "--text", caption, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err and not out.exists()


@pytest.mark.slow
def test_stackgan_draws_the_class_the_caption_names(tmp_path: Path, mnist_evaluator) -> None:  # noqa: ANN001
    """MNIST captions, a short budget (mostly stage I): the MNIST evaluator sees the class the caption names in stage
    I's images well above chance and above the untrained G of the same seed (which draws one digit for every caption)."""
    run = gankit.train("stackgan", out=tmp_path / "run", overrides=LEARNING)
    untrained = gankit.api.build_recipe(run.config, run.data, torch.device("cpu"))
    untrained.load_state_dict({k: v for k, v in run.recipe.state_dict().items() if "caption" in k}, strict=False)
    evaluator = mnist_evaluator  # "mnist-captions" has MNIST's images: the MNIST evaluator reads them
    labels = torch.arange(500) % 10

    def stage_one_accuracy(recipe) -> float:  # noqa: ANN001
        latent = recipe.sample_latent(500, labels=labels, generator=torch.Generator().manual_seed(0))
        return float((evaluator.extract(recipe.stage_images(latent)[0])[1].argmax(1) == labels).float().mean())

    trained, baseline = stage_one_accuracy(run.recipe), stage_one_accuracy(untrained)
    assert trained > 0.25 and trained > baseline + 0.12, (trained, baseline)


LEARNING = ["train.steps=650", "recipe_args.stage_one_share=0.95", "train.progress=false", "train.sample_every=650",
            "train.checkpoint_every=650", "device=cpu", f"data.root={SHARED_DATA}", "data.limit=10000"]


def test_gpu_profile_builds_the_papers_64_to_256_px_layout() -> None:
    """--profile gpu-256: stage I at 64 px, stage II at 256 px, both D's judging their own size."""
    from gankit.api import build_recipe
    from gankit.config import resolve
    from gankit.types import DataInfo

    cfg = resolve("stackgan", "path/to/captions", ["profile=gpu-256", "device=cpu", "amp=null"])
    data = DataInfo("folder", (3, 256, 256), 0, "image", tokens=["<pad>", "<eos>", "<unk>", "a", "bird"], size=4)
    recipe = build_recipe(cfg, data, torch.device("cpu")).eval()
    captions = torch.tensor([[3, 4, 1]])
    with torch.no_grad():
        low, high = recipe.G.stages(recipe.sample_latent(1).z, captions)
        text = recipe.G.text(captions)
        scores = [D(x, text).logit for D, x in zip(recipe.D, (low, high))]
    assert low.shape == (1, 3, 64, 64) and high.shape == (1, 3, 256, 256)
    assert [s.shape for s in scores] == [(1,), (1,)]
