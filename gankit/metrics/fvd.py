"""``fvd``: Fréchet Video Distance (Unterthiner et al. 2018), FID on the features of an I3D network trained on
Kinetics-400, the usual video score.

The network is the TorchScript export of the TF-Hub I3D that StyleGAN-V (Skorokhodov et al. 2022) and
universome/fvd-comparison publish (``i3d_torchscript.pt``): called as ``i3d(videos, rescale=False, resize=True,
return_features=True)`` on (B, 3, T, H, W) videos in [-1, 1], it resizes to 224 px and returns 400-d pre-softmax
features. It is found at ``$GANKIT_I3D``, else in the torch.hub cache, else downloaded there from I3D_URL. The
weights cannot be downloaded in an offline session; there ``fvd`` fails with a clear error, and the loading code is
tested with a random TorchScript network of the same call signature (tests/test_video.py).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Setting, register_metric
from gankit.metrics.fid import fid
from gankit.metrics.video import VideoMetric, check_clips

I3D_URL = "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1"
I3D_FILE = "i3d_torchscript.pt"
I3D_ENV = "GANKIT_I3D"
I3D_OPTIONS = {"rescale": False, "resize": True, "return_features": True}


def i3d_path() -> Path:
    """Where the I3D TorchScript file is looked for: $GANKIT_I3D, else <torch.hub dir>/checkpoints/i3d_torchscript.pt."""
    named = os.environ.get(I3D_ENV)
    return Path(named).expanduser() if named else Path(torch.hub.get_dir()) / "checkpoints" / I3D_FILE


def load_i3d(path: str | Path | None = None, *, device: str | torch.device = "cpu",
             download: bool = True) -> torch.jit.ScriptModule:
    """The I3D TorchScript module from ``path`` (else ``i3d_path()``), downloaded there when missing and allowed."""
    file = Path(path) if path is not None else i3d_path()
    if not file.is_file():
        if not download or path is not None or os.environ.get(I3D_ENV):
            raise ConfigError(f"the I3D network for fvd is not at {file}; put {I3D_FILE} ({I3D_URL}) there or set "
                              f"{I3D_ENV}=<file>, or drop fvd from eval.metrics")
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(I3D_URL, str(file), progress=True)
        except Exception as err:  # noqa: BLE001 - offline, DNS, HTTP: one fix
            raise ConfigError(f"fvd needs the I3D network ({I3D_FILE}), and its download from {I3D_URL} failed "
                              f"({type(err).__name__}). To fix: download it elsewhere, set {I3D_ENV}=<file>, or "
                              "drop fvd from eval.metrics (frame_fid, content_consistency and motion work offline)") from None
    return torch.jit.load(str(file), map_location=device).eval()


@torch.no_grad()
def i3d_features(i3d: torch.jit.ScriptModule, clips: Tensor, batch_size: int = 16) -> Tensor:
    """(N, T, C, H, W) clips in [-1, 1] -> (N, F) I3D features (grey repeated to RGB; I3D resizes to 224 itself)."""
    clips = check_clips(clips, "clips")
    device = next(iter(i3d.parameters())).device
    out = []
    for start in range(0, len(clips), batch_size):
        part = clips[start:start + batch_size].permute(0, 2, 1, 3, 4)  # (B, C, T, H, W)
        if part.shape[1] == 1:
            part = part.expand(-1, 3, -1, -1, -1)
        out.append(i3d(part.contiguous().to(device), **I3D_OPTIONS).float().cpu())
    return torch.cat(out)


def fvd(i3d: torch.jit.ScriptModule, *, real: Tensor, fake: Tensor, batch_size: int = 16) -> float:
    """Unterthiner et al. 2018: the Fréchet distance of the I3D features of generated vs real clips."""
    return fid(i3d_features(i3d, fake, batch_size), i3d_features(i3d, real, batch_size))


@register_metric("fvd")
class FVD(VideoMetric):
    """Fréchet Video Distance in Kinetics I3D features (needs i3d_torchscript.pt; not available offline)."""

    scores = {"fvd": False}

    def check(self, setting: Setting) -> None:
        super().check(setting)
        self.i3d = load_i3d()  # fails at once, before anything is generated

    def score(self, inputs: Inputs) -> dict[str, float]:
        return {"fvd": fvd(self.i3d, real=inputs.real_samples[:inputs.n_real], fake=inputs.samples)}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"fvd": f"Frechet distance of {I3D_FILE} features ({I3D_URL}), videos in [-1, 1], resized by I3D"}
