"""SRGAN's content loss (Ledig et al. 2017): distance of VGG19 feature maps ("VGG54": relu5_4).

The ImageNet VGG19 weights are torchvision's (``vgg19-dcbb9e9d.pth``). They are read from
``$GANKIT_VGG19`` (a file), else the torch.hub cache, else downloaded by torchvision when
the machine is online. ``find_vgg19`` never downloads; ``load_vgg19`` may.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError

WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"
WEIGHTS_URL = f"https://download.pytorch.org/models/{WEIGHTS_FILE}"
ENV_VAR = "GANKIT_VGG19"
VGG54_LAYERS = 36  # torchvision's vgg19().features[:36] ends with relu5_4, the paper's phi_5,4
FEATURE_SCALE = 1 / 12.75  # the paper rescales the feature maps by 1/12.75 so the loss is comparable to MSE
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def hub_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def find_vgg19() -> Path | None:
    """The weights file from $GANKIT_VGG19 or the torch.hub cache; None when neither exists (never downloads)."""
    if os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR]).expanduser()
        if not path.is_file():
            raise ConfigError(f"${ENV_VAR}={path} is not a file; point it at {WEIGHTS_FILE} or unset it")
        return path
    return hub_path() if hub_path().is_file() else None


def unavailable_message(reason: str) -> str:
    return (f"VGG19 weights unavailable ({reason}). Download {WEIGHTS_URL} to {hub_path()} or set ${ENV_VAR} "
            "to the file; or use recipe_args.content=mse (pixel loss, the SRResNet objective).")


class VGGFeatures(nn.Module):
    """Frozen VGG19 up to relu5_4 on images in [-1, 1] (normalised as torchvision's ImageNet models expect)."""

    def __init__(self, state: dict[str, Tensor] | None = None) -> None:
        super().__init__()
        from torchvision.models import vgg19

        self.net = vgg19(weights=None).features[:VGG54_LAYERS].eval().requires_grad_(False)
        if state is not None:
            own = {k.removeprefix("features."): v for k, v in state.items() if not k.startswith("classifier.")}
            missing = [k for k in self.net.state_dict() if k not in own]
            if missing:
                raise ConfigError(f"VGG19 weights lack {', '.join(missing[:3])}: {unavailable_message('wrong file')}")
            self.net.load_state_dict({k: own[k] for k in self.net.state_dict()})
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> "VGGFeatures":
        return super().train(False)  # always frozen, also inside a recipe in training mode

    def forward(self, images: Tensor) -> Tensor:
        x = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images  # gray -> RGB
        return self.net(((x + 1) / 2 - self.mean) / self.std) * FEATURE_SCALE  # (B, 512, H/16, W/16)


def load_vgg19(*, download: bool = True) -> VGGFeatures:
    """VGGFeatures with the ImageNet weights; ConfigError saying how to get them when they cannot be had."""
    path = find_vgg19()
    if path is None:
        if not download:
            raise ConfigError(unavailable_message("no local file"))
        try:
            state = torch.hub.load_state_dict_from_url(WEIGHTS_URL, map_location="cpu", progress=False)
        except Exception as e:  # noqa: BLE001 - offline, DNS, HTTP, checksum: one fix
            raise ConfigError(unavailable_message(f"the download failed: {type(e).__name__}")) from None
        return VGGFeatures(state)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise ConfigError(unavailable_message(f"{path} could not be read: {type(e).__name__}: {e}")) from None
    return VGGFeatures(state)


def vgg_content_loss(features: VGGFeatures, *, output: Tensor, target: Tensor) -> Tensor:
    """Ledig et al. 2017, l_VGG/5,4: mean squared distance of the rescaled relu5_4 maps."""
    with torch.no_grad():
        target_features = features(target)
    return F.mse_loss(features(output), target_features)
