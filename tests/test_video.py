"""Video generation: Moving MNIST and video folders, VGAN's and MoCoGAN's networks, the video metrics (FVD's loading
on a random stand-in network), GIF/MP4 output, bad input, and a learning check on held-out clips."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit.cli import main
from gankit.data import load_dataset
from gankit.data.dataset import Dataset
from gankit.data.video import VideoOptions, bounce, digit_size, moving_mnist
from gankit.errors import DataError
from gankit.metrics.content_consistency import agreement
from gankit.metrics.motion import frame_difference
from gankit.metrics.video import digit_crops
from tests.conftest import SHARED_DATA, TINY, shared_file

VIDEO_TINY = [*TINY, f"data.root={SHARED_DATA}", "data.image_size=16", "data.frames=8"]


def fake_mnist(n: int = 20) -> Dataset:
    """MNIST-shaped stand-in digits: a bright square of a size set by the label, so crops can be checked exactly."""
    x = -torch.ones(n, 1, 28, 28)
    y = torch.arange(n) % 10
    for i in range(n):
        half = 3 + int(y[i]) // 2
        x[i, 0, 14 - half:14 + half, 14 - half:14 + half] = 1.0
    return Dataset(name="mnist", x=x, y=y, num_classes=10, kind="image")


def test_moving_mnist_clips_bounce_inside_the_frame_and_keep_their_digit() -> None:
    data = moving_mnist(fake_mnist(), split="train", frame_size=32, options=VideoOptions(frames=16), limit=50, seed=0)
    assert data.x.shape == (50, 16, 1, 32, 32) and data.kind == "video" and data.y.shape == (50,)
    assert float(data.x.min()) == -1.0 and float(data.x.max()) == 1.0
    ink = (data.x > 0).flatten(2).sum(2).float()  # (N, T) bright pixels per frame: the whole digit in every frame
    torch.testing.assert_close(ink, ink[:, :1].expand_as(ink))
    assert float(frame_difference(data.x)) > 0.01  # the digits move
    again = moving_mnist(fake_mnist(), split="train", frame_size=32, options=VideoOptions(frames=16), limit=50, seed=0)
    assert torch.equal(again.x, data.x)  # a fixed construction
    corners = bounce(np.array([[0.0, 17.0]]), np.array([[-2.0, 3.0]]), 8, room=18)
    assert corners.min() >= 0 and corners.max() <= 18 and corners[0, 1].tolist() == [2, 16]  # reflected at both walls


def test_two_digit_clips_are_labelled_10a_plus_b() -> None:
    mnist = fake_mnist()
    data = moving_mnist(mnist, split="test", frame_size=64, options=VideoOptions(frames=4, digits=2), limit=6, seed=1)
    assert data.x.shape == (6, 4, 1, 64, 64) and data.num_classes == 100 and data.class_names[37] == "37"
    with pytest.raises(DataError, match="data.digits=3"):
        VideoOptions(digits=3)


def test_digit_crops_recover_the_scaled_mnist_image() -> None:
    """The frame metrics' view: a digit-size window at the centre of mass is the digit MNIST drew, at its scale."""
    data = moving_mnist(fake_mnist(), split="train", frame_size=32, options=VideoOptions(frames=4), limit=10, seed=0)
    crops = digit_crops(data.x.flatten(0, 1), digit_size(32))  # (40, 1, 14, 14)
    assert crops.shape == (40, 1, 14, 14)
    ink = (crops > 0).flatten(1).sum(1)
    torch.testing.assert_close(ink, (data.x.flatten(0, 1) > 0).flatten(1).sum(1))  # the whole digit inside the window
    rows = (crops[:, 0] > 0).any(2).float().argmax(1)  # first bright row: the square sits in the middle
    assert bool(((rows - (7 - (ink.float().sqrt() / 2))).abs() <= 1).all())


def test_agreement_and_motion_by_hand() -> None:
    classes = torch.tensor([[3, 3, 3, 3], [1, 2, 1, 1], [0, 1, 2, 0]])
    torch.testing.assert_close(agreement(classes), torch.tensor([1.0, 0.75, 0.5]))
    static = torch.zeros(2, 5, 1, 4, 4)
    assert frame_difference(static) == 0.0
    blink = static.clone()
    blink[:, 1::2] = 1.0  # 0, 1, 0, 1, 0 in [-1, 1] units: |diff| = 1 = 0.5 in [0, 1] units
    assert frame_difference(blink) == pytest.approx(0.5)


def test_vgan_composes_foreground_mask_and_background() -> None:
    from gankit.nets import ModelConfig, NetSpec
    from gankit.nets.video import MoCoGANGenerator, MotionSplit, VGANGenerator, VideoDiscriminator

    spec = NetSpec(sample_shape=(8, 1, 16, 16), z_dim=6)
    cfg = ModelConfig(g_width=4, d_width=4)
    torch.manual_seed(0)
    G = VGANGenerator(spec, cfg).eval()
    parts = G(torch.randn(3, 6), parts=True)
    assert parts.video.shape == (3, 8, 1, 16, 16) and parts.mask.shape == (3, 8, 1, 16, 16)
    expected = parts.mask * parts.foreground + (1 - parts.mask) * parts.background[:, None]
    torch.testing.assert_close(parts.video, expected)
    assert VideoDiscriminator(spec, cfg)(parts.video).logit.shape == (3,)
    # keep_time (MoCoGAN's D_V as in the authors' code): strides (1, 2, 2), the trunk ends with all 8 frames, not 2
    kept = VideoDiscriminator(spec, cfg, keep_time=True)
    assert [conv.stride for conv in kept.modules() if isinstance(conv, torch.nn.Conv3d)] == [(1, 2, 2)] * 2
    assert kept.trunk.features == 4 * VideoDiscriminator(spec, cfg).trunk.features
    assert kept(parts.video).logit.shape == (3,)

    split = MotionSplit(content=5, motion=3, noise=2, frames=8)
    M = MoCoGANGenerator(spec, cfg, split).eval()
    z = torch.randn(2, split.total)
    moved = z.clone()
    moved[:, 5 + 3:] = torch.randn(2, 16)  # the same content and h0, other motion noise
    a, b = M(z), M(moved)
    assert a.shape == (2, 8, 1, 16, 16)
    motion_a = M.motion_codes(z[:, 5:8], z[:, 8:].view(2, 8, 2))
    assert motion_a.shape == (2, 8, 3) and not torch.allclose(a, b)


def write_gif(path: Path, frames: np.ndarray) -> None:
    import imageio.v2 as imageio

    imageio.mimwrite(path, list(frames), format="GIF", duration=100, loop=0)


def test_video_folder_reads_clips_and_refuses_inconsistent_frames(tmp_path) -> None:  # noqa: ANN001
    import imageio.v3 as iio

    videos = tmp_path / "videos"
    videos.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        write_gif(videos / f"{name}.gif", rng.integers(0, 255, size=(9, 12, 12, 3), dtype=np.uint8))
    data = load_dataset(str(videos), video=VideoOptions(frames=4))
    assert data.kind == "video" and data.x.shape == (4, 4, 3, 12, 12)  # 9 frames -> two clips of 4 each
    frames = tmp_path / "frames"
    (frames / "clip").mkdir(parents=True)
    for t in range(4):
        iio.imwrite(frames / "clip" / f"{t:03d}.png", rng.integers(0, 255, size=(8 if t < 3 else 10, 8, 3), dtype=np.uint8))
    with pytest.raises(DataError, match="inconsistent sizes: 000.png is 8x8, 003.png is 8x10"):
        load_dataset(str(frames), video=VideoOptions(frames=4))


def test_inconsistent_frames_exit_2_and_write_nothing(tmp_path, capsys) -> None:  # noqa: ANN001
    import imageio.v3 as iio

    frames = tmp_path / "frames" / "clip"
    frames.mkdir(parents=True)
    for t in range(4):
        iio.imwrite(frames / f"{t}.png", np.zeros((8 if t else 16, 8, 3), dtype=np.uint8))
    out = tmp_path / "run"
    assert main(["train", "vgan", "--data", str(frames.parent), "--out", str(out), "data.frames=4"]) == 2
    assert "inconsistent sizes" in capsys.readouterr().err and not out.exists()


def test_fvd_loads_a_torchscript_i3d_and_scores(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """The weights cannot be downloaded here: a random network with I3D's TorchScript call signature stands in."""
    from gankit.errors import ConfigError
    from gankit.metrics.fvd import fvd, load_i3d

    class RandomI3D(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv3d(3, 6, 3, stride=2)

        def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = True,
                    return_features: bool = True) -> torch.Tensor:
            return self.conv(x).mean(dim=(2, 3, 4))  # (B, 6)

    torch.manual_seed(0)
    file = tmp_path / "i3d_torchscript.pt"
    torch.jit.script(RandomI3D()).save(str(file))
    i3d = load_i3d(file)
    real, other = torch.rand(40, 8, 1, 16, 16) * 2 - 1, torch.rand(40, 8, 1, 16, 16) * 2 - 1
    assert fvd(i3d, real=real, fake=real) == pytest.approx(0.0, abs=1e-6)
    assert fvd(i3d, real=real, fake=-torch.ones_like(real)) > 10 * fvd(i3d, real=real, fake=other)
    monkeypatch.setenv("GANKIT_I3D", str(tmp_path / "missing.pt"))
    with pytest.raises(ConfigError, match="GANKIT_I3D"):
        load_i3d()


@pytest.fixture(scope="module")
def vgan_run(tmp_path_factory) -> Path:  # noqa: ANN001
    shared_file("mnist.npz")
    out = tmp_path_factory.mktemp("runs") / "vgan"
    assert main(["train", "vgan", "--out", str(out), *VIDEO_TINY]) == 0
    return out


def test_sample_writes_gif_mp4_and_a_frame_grid(vgan_run, tmp_path, capsys) -> None:  # noqa: ANN001
    import imageio.v3 as iio

    for name in ("clips.gif", "clips.mp4"):
        assert main(["sample", str(vgan_run), "--out", str(tmp_path / name), "--n", "4"]) == 0
        frames = iio.imread(tmp_path / name)
        assert frames.shape[0] == 8 and frames.shape[-1] == 3, frames.shape  # 8 frames of a 2x2 grid of clips
    assert main(["sample", str(vgan_run), "--out", str(tmp_path / "grid.png"), "--n", "3"]) == 0
    grid = iio.imread(tmp_path / "grid.png")
    assert grid.shape[:2] == (3 * 17 + 1, 8 * 17 + 1)  # a row of 8 frames per clip
    assert main(["sample", str(vgan_run), "--out", str(tmp_path / "x.mp4"), "--class", "1"]) == 2
    assert not (tmp_path / "x.mp4").exists()


def frame_changes(clips: torch.Tensor) -> torch.Tensor:
    """|x(t+1) - x(t)| of every pixel: where and how much clips change between frames."""
    return (clips[:, 1:] - clips[:, :-1]).abs()


def pixel_distance(fake: torch.Tensor, real: torch.Tensor) -> float:
    """1D Wasserstein distance between the pixel values of two clip sets (sorted quantiles)."""
    q = torch.linspace(0, 1, 1001)
    return float((torch.quantile(fake.flatten()[::7], q) - torch.quantile(real.flatten()[::7], q)).abs().mean())


@pytest.mark.slow
@pytest.mark.parametrize(("preset", "steps"), [("vgan", 150), ("mocogan", 400)])  # MoCoGAN's motion comes later
def test_training_learns_the_pixels_and_the_motion_of_held_out_clips(preset, steps, tmp_path) -> None:  # noqa: ANN001
    """Trained vs untrained (the same seed) on held-out test clips: the distributions of pixel values and of frame
    changes (an untrained MoCoGAN's flicker can match the real mean frame difference, not its distribution)."""
    shared_file("mnist.npz")
    overrides = [f"data.root={SHARED_DATA}", "data.image_size=16", "data.frames=8", "data.limit=512",
                 "model.g_width=8", "model.d_width=8", "train.batch_size=16", f"train.steps={steps}", "train.progress=false",
                 "train.sample_every=1000", "train.checkpoint_every=1000", "device=cpu", "optim.lr=1e-3"]
    torch.manual_seed(0)
    run = gankit.train(preset, out=tmp_path / "run", overrides=overrides)
    untrained = gankit.api.build_recipe(run.config, run.data, torch.device("cpu"))
    real = load_dataset("moving-mnist", split="test", root=str(SHARED_DATA), image_size=16, limit=200,
                        video=VideoOptions(frames=8)).x
    trained_clips = run.sample(200, seed=1)
    untrained_clips = untrained.sample(200, generator=torch.Generator().manual_seed(1))
    pixels = (pixel_distance(trained_clips, real), pixel_distance(untrained_clips, real))
    changes = (pixel_distance(frame_changes(trained_clips), frame_changes(real)),
               pixel_distance(frame_changes(untrained_clips), frame_changes(real)))
    print(preset, "pixels", pixels, "changes", changes, "motion", frame_difference(trained_clips), frame_difference(real))
    assert pixels[0] < 0.5 * pixels[1], pixels
    assert changes[0] < 0.7 * changes[1], changes  # how frames change, not just how much on average
    assert frame_difference(trained_clips) > 0.2 * frame_difference(real)  # not a static video


def test_video_metrics_refuse_other_data() -> None:
    from gankit.config import resolve
    from gankit.errors import ConfigError
    from gankit.metrics import METRICS, Setting
    from gankit.types import DataInfo

    cfg = resolve("vgan")
    images = DataInfo("digits", (1, 8, 8), 10, "image")
    two_digits = DataInfo("moving-mnist", (16, 1, 32, 32), 100, "video")
    folder = DataInfo("my/videos", (16, 3, 32, 32), 0, "video")
    with pytest.raises(ConfigError, match="scores video clips"):
        METRICS.get("motion")().check(Setting(cfg.eval, cfg.data, images, None))
    METRICS.get("motion")().check(Setting(cfg.eval, cfg.data, folder, None))  # any video
    with pytest.raises(ConfigError, match="data.digits=1"):
        METRICS.get("frame_fid")().check(Setting(cfg.eval, cfg.data, folder, None))
    from dataclasses import replace

    with pytest.raises(ConfigError, match="data.digits=2"):
        METRICS.get("content_consistency")().check(Setting(cfg.eval, replace(cfg.data, digits=2), two_digits, None))
