"""LPIPS distances (Zhang et al. 2018) on VGG16, for the perceptual path length where the StyleGAN paper uses them.

torchmetrics' LPIPS: its linear layers ship with torchmetrics, its VGG16 backbone is torchvision's ImageNet weights
(``vgg16-397923af.pth``), read from the torch hub cache; ``download()`` fetches them there once, online. Without
them (offline) ``ppl`` measures on the domain evaluator's features instead, and its protocol says which.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

VGG16_FILE = "vgg16-397923af.pth"
VGG16_URL = f"https://download.pytorch.org/models/{VGG16_FILE}"
MIN_SIZE = 64  # smaller images are upsampled (bilinear) so VGG16's five stages see more than a pixel


def vgg16_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE


def available() -> bool:
    """Whether the VGG16 weights are in the torch hub cache (nothing is downloaded)."""
    return vgg16_path().is_file()


def download() -> Path:
    """Fetch the VGG16 weights into the torch hub cache (online machines)."""
    torch.hub.load_state_dict_from_url(VGG16_URL, progress=True, check_hash=True)
    return vgg16_path()


class LPIPS:
    """``distance(a, b)``: (B,) LPIPS between images a and b in [-1, 1], any size and 1 or 3 channels."""

    description = f"LPIPS (VGG16, torchmetrics' linear layers; images upsampled to at least {MIN_SIZE} px)"

    def __init__(self, device: torch.device, *, imagenet: bool = True) -> None:
        """``imagenet=False``: a random VGG16 backbone (tests; the real distance needs the ImageNet weights)."""
        from torchmetrics.functional.image.lpips import _NoTrainLpips

        if imagenet and not available():
            raise FileNotFoundError(f"VGG16 weights not found at {vgg16_path()}: gankit.metrics.lpips.download() "
                                    f"fetches them ({VGG16_URL})")
        self.net = _NoTrainLpips(net="vgg", pnet_rand=not imagenet).to(device).eval()

    @torch.no_grad()
    def distance(self, a: Tensor, b: Tensor) -> Tensor:
        a, b = (_prepared(x) for x in (a, b))
        return self.net(a, b).flatten().float()


def for_ppl(device: torch.device) -> LPIPS | None:
    """The LPIPS distance ``ppl`` measures with, or None when the VGG16 weights are not here."""
    return LPIPS(device) if available() else None


def _prepared(x: Tensor) -> Tensor:
    x = x.float().clamp(-1, 1)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if min(x.shape[-2:]) < MIN_SIZE:
        x = F.interpolate(x, size=(MIN_SIZE, MIN_SIZE), mode="bilinear", align_corners=False)
    return x


__all__ = ["LPIPS", "available", "download", "for_ppl", "vgg16_path"]
