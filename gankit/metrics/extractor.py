"""Feature extractors: images in [-1, 1] -> (features, class logits), with the protocol that names them.

Every score gankit reports is computed on the output of one of these networks, and the
score is stored next to ``extractor.protocol()``: which network, the sha256 of its
weights and how images were resized to fit it. Two kinds exist:

- ``inception``: the FID InceptionV3 (TF-ported weights of pytorch-fid / torch-fidelity /
  clean-fid), for numbers comparable with papers (``gankit.metrics.inception``);
- ``domain``: a small classifier trained on the data set itself, which works offline
  (``gankit.metrics.domain``).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.metrics.stats import MetricInputError


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def fit_images(images: Tensor, *, channels: int, size: int | None, mode: str = "bilinear") -> Tensor:
    """(N, C, H, W) images -> ``channels`` channels (grey repeated to RGB, RGB averaged to grey)
    and ``size`` x ``size`` pixels (``F.interpolate`` with ``mode``, align_corners=False), float32."""
    if images.dim() != 4:
        raise MetricInputError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    x = images.float()
    if x.shape[1] != channels:
        if x.shape[1] == 1:
            x = x.expand(-1, channels, -1, -1)
        elif channels == 1:
            x = x.mean(dim=1, keepdim=True)
        else:
            raise MetricInputError(f"cannot convert {x.shape[1]}-channel images to {channels} channels")
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode=mode, align_corners=False if mode != "nearest" else None)
    return x


class FeatureExtractor(nn.Module):
    """Base class. Subclasses set ``name``, ``feature_dim``, ``num_classes``, ``resize`` and
    ``weights_sha256`` and implement ``forward``.

    ``forward(images)`` takes (N, C, H, W) images in [-1, 1] of any size and channel count
    and returns (features (N, feature_dim) float32, logits (N, num_classes) or None).
    """

    name: str = ""
    feature_dim: int = 0
    num_classes: int = 0  # 0: no class head (no Inception Score)
    resize: str = ""  # how inputs are brought to the network's size, e.g. "bilinear to 299x299"
    weights_sha256: str = ""

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor | None]:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def extract(self, images: Tensor, batch_size: int = 200) -> tuple[Tensor, Tensor | None]:
        """``forward`` in batches, in eval mode, on the extractor's device; CPU float32 results."""
        device = next(self.parameters()).device
        self.eval()
        feats, logits = [], []
        for i in range(0, len(images), batch_size):
            f, lg = self(images[i:i + batch_size].to(device))
            feats.append(f.float().cpu())
            if lg is not None:
                logits.append(lg.float().cpu())
        return torch.cat(feats), (torch.cat(logits) if logits else None)

    def protocol(self) -> dict[str, Any]:
        """What a score computed on these features depends on."""
        return {"extractor": self.name, "weights_sha256": self.weights_sha256, "resize": self.resize,
                "feature_dim": self.feature_dim}
