"""What the video metrics share: clip checks, Moving MNIST digit crops and the MNIST evaluator's view of them.

Moving MNIST draws each digit smaller than MNIST's (28/64 of the frame: 14 px in a 32 px frame) somewhere in the
frame, so the MNIST domain evaluator (gankit/metrics/domain.py, trained on centred 28 px digits) would misread a
whole frame. ``digit_crops`` undoes the construction instead: a window of the digit's size centred on the frame's
centre of mass (MNIST centres each digit by its centre of mass) is the scaled MNIST image itself for a real frame;
the evaluator brings it back to 28 px. Generated frames are cropped by the same rule, so both sides see the same
view. This needs one digit per clip (data.digits=1): two digits have no single centre.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.metrics.base import Metric, Need, Setting
from gankit.metrics.stats import MetricInputError

LABELLER = "mnist"  # the domain evaluator that reads the digit crops


def check_clips(x: Tensor, name: str) -> Tensor:
    """``x`` as float32 (N, T, C, H, W) clips on the CPU, or MetricInputError naming ``name`` and the shape."""
    if x.dim() != 5 or x.shape[1] < 2:
        raise MetricInputError(f"{name} must be clips (N, T >= 2, C, H, W), got shape {tuple(x.shape)}")
    return x.detach().float().cpu()


def digit_crops(frames: Tensor, crop: int) -> Tensor:
    """(N, 1, S, S) frames in [-1, 1] -> (N, 1, crop, crop): the window centred on each frame's centre of mass
    (ink = (x + 1) / 2; an empty frame: the centre), kept inside the frame."""
    n, _, size, _ = frames.shape
    ink = (frames[:, 0] + 1).clamp(min=0) / 2  # (N, S, S)
    mass = ink.sum(dim=(1, 2)).clamp(min=1e-6)
    axis = torch.arange(size, dtype=ink.dtype)
    centre_row = (ink.sum(dim=2) * axis).sum(dim=1) / mass  # (N,)
    centre_col = (ink.sum(dim=1) * axis).sum(dim=1) / mass
    empty = ink.sum(dim=(1, 2)) < 1e-6
    centre_row[empty], centre_col[empty] = (size - 1) / 2, (size - 1) / 2
    top = (centre_row - (crop - 1) / 2).round().long().clamp(0, size - crop)  # (N,)
    left = (centre_col - (crop - 1) / 2).round().long().clamp(0, size - crop)
    rows = (top[:, None] + torch.arange(crop))[:, :, None]  # (N, crop, 1)
    cols = (left[:, None] + torch.arange(crop))[:, None, :]  # (N, 1, crop)
    return frames[torch.arange(n)[:, None, None], 0, rows, cols][:, None]  # (N, 1, crop, crop)


def frame_view(clips: Tensor) -> Tensor:
    """(N, T, 1, S, S) Moving MNIST clips -> (N T, 1, s, s) digit crops, s = the digit size for S."""
    from gankit.data.video import digit_size

    clips = check_clips(clips, "clips")
    return digit_crops(clips.flatten(0, 1), digit_size(clips.shape[-1]))


def crop_classes(evaluator, clips: Tensor, batch_size: int) -> tuple[Tensor, Tensor]:  # noqa: ANN001  (DomainEvaluator)
    """The evaluator's features (N T, F) and classes (N, T) of every frame's digit crop."""
    features, logits = evaluator.extract(frame_view(clips), batch_size)
    return features, logits.argmax(dim=1).view(clips.shape[0], clips.shape[1])


class VideoMetric(Metric):
    """A metric on clips (N, T, C, H, W); ``digits`` ones read Moving MNIST digit crops with the MNIST evaluator."""

    needs = frozenset({Need.SAMPLES, Need.REAL_SAMPLES})
    reads_digits = False

    def check(self, setting: Setting) -> None:
        data = setting.data
        if data.kind != "video":
            raise ConfigError(f"metric {self.name!r} scores video clips (N, T, C, H, W), but data set {data.name!r} "
                              f"holds {data.kind} data; drop {self.name} from eval.metrics")
        if self.reads_digits and (data.name != "moving-mnist" or setting.data_cfg.digits != 1):
            raise ConfigError(f"metric {self.name!r} reads one MNIST digit per frame with the MNIST evaluator: it "
                              f"applies to moving-mnist with data.digits=1 (here {data.name!r}, data.digits="
                              f"{setting.data_cfg.digits}); use eval.metrics=[motion] or [fvd] for other videos")

    def labeller(self, setting: Setting) -> str | None:
        return LABELLER if self.reads_digits else None


class DigitMetric(VideoMetric):
    """A video metric on Moving MNIST's digit crops, read by the MNIST evaluator (the labeller)."""

    needs = frozenset({Need.SAMPLES, Need.REAL_SAMPLES, Need.LABELLER})
    reads_digits = True


__all__ = ["check_clips", "digit_crops", "frame_view", "crop_classes", "VideoMetric", "DigitMetric", "LABELLER"]
