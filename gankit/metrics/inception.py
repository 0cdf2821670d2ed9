"""The FID InceptionV3 (Szegedy et al. 2016, as used for FID by Heusel et al. 2017) as a ``FeatureExtractor``.

This is the network of pytorch-fid, torch-fidelity and clean-fid: TensorFlow's
``inception-2015-12-05`` graph ported to PyTorch (``pt_inception-2015-12-05-6726825d.pth``).
It is torchvision's Inception v3 with a 1008-way classifier, no auxiliary head and three
changes that reproduce the TF graph (see pytorch-fid ``src/pytorch_fid/inception.py``):

- the pool branches of Mixed_5b/5c/5d (InceptionA), Mixed_6b..6e (InceptionC) and
  Mixed_7b (InceptionE) average-pool with ``count_include_pad=False`` (TF ignores padding);
- Mixed_7c (the second InceptionE) max-pools in its pool branch instead of averaging;
- 1008 classes (the TF graph's, not ImageNet's 1000).

Its ``state_dict()`` has exactly the 566 keys and shapes of torchvision's
``inception_v3(num_classes=1008, aux_logits=False)``, the layout of pytorch-fid's file, so
the official file loads with ``strict=True``.

Outputs: features are the 2048-d pool3 output (global average of Mixed_7c), which FID,
KID and precision/recall use. Logits are ``pool3 @ fc.weight.T`` *without* the fc bias:
the original Inception Score code (Salimans et al. 2016, ``softmax/logits/MatMul``) uses
the matmul before the bias add, torch-fidelity calls it ``logits_unbiased`` and makes it
the default for the Inception Score, and torchmetrics' InceptionScore does the same. So
``softmax(logits)`` gives Inception Scores comparable with papers.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.inception import BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE

from gankit.errors import GankitError
from gankit.metrics.extractor import FeatureExtractor, fit_images, sha256_file
from gankit.metrics.stats import MetricInputError

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
# sha256 of the official file (95,628,359 bytes); its first 8 hex digits are the "6726825d" in the
# name (torch.hub's convention), and torch-fidelity's weights-inception-2015-12-05-6726825d.pth
# is the same file.
WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
ENV_VAR = "GANKIT_INCEPTION"
INPUT_SIZE = 299


class InceptionWeightsError(GankitError):
    """The InceptionV3 weights file cannot be read or is not the FID InceptionV3's state dict."""


class InceptionWeightsUnavailable(InceptionWeightsError):
    """No InceptionV3 weights file was found and it could not be downloaded."""


# --- the FID-specific blocks (pytorch-fid's FIDInceptionA/C/E_1/E_2) -------------------------

def _tf_avg_pool(x: Tensor) -> Tensor:
    """3x3 stride-1 average pool that, like TF, leaves the zero padding out of the average."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(InceptionA):
    """torchvision's InceptionA with TF's average pooling (``count_include_pad=False``)."""

    def forward(self, x: Tensor) -> Tensor:
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([self.branch1x1(x), branch5x5, branch3x3dbl, branch_pool], 1)


class FIDInceptionC(InceptionC):
    """torchvision's InceptionC with TF's average pooling (``count_include_pad=False``)."""

    def forward(self, x: Tensor) -> Tensor:
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                      self.branch7x7dbl_4, self.branch7x7dbl_5):
            branch7x7dbl = layer(branch7x7dbl)
        branch_pool = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([self.branch1x1(x), branch7x7, branch7x7dbl, branch_pool], 1)


class FIDInceptionE(InceptionE):
    """torchvision's InceptionE with TF's pool branch: ``pool="avg"`` (Mixed_7b, pytorch-fid's
    FIDInceptionE_1, padding left out of the average) or ``pool="max"`` (Mixed_7c, FIDInceptionE_2:
    the TF graph max-pools there)."""

    def __init__(self, in_channels: int, *, pool: str) -> None:
        super().__init__(in_channels)
        if pool not in ("avg", "max"):
            raise ValueError(f"FIDInceptionE pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool

    def forward(self, x: Tensor) -> Tensor:
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(branch3x3dbl), self.branch3x3dbl_3b(branch3x3dbl)], 1)
        pooled = _tf_avg_pool(x) if self.pool == "avg" else F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        return torch.cat([self.branch1x1(x), branch3x3, branch3x3dbl, self.branch_pool(pooled)], 1)


class FIDInceptionV3(FeatureExtractor):
    """The FID InceptionV3: images in [-1, 1] -> (pool3 features (N, 2048), unbiased logits (N, 1008)).

    Randomly initialised; ``load_inception()`` builds one with the official weights.
    Always in eval mode (``train()`` keeps batch norm frozen) and without gradients.
    """

    name = "inception-v3-fid"
    feature_dim = 2048
    num_classes = 1008
    resize = ("grey repeated to RGB, then F.interpolate(mode='bilinear', align_corners=False, "
              "antialias=False) to 299x299 as pytorch-fid")

    def __init__(self) -> None:
        super().__init__()
        # the attribute names and order are torchvision's Inception3: they are the state-dict keys
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE(1280, pool="avg")
        self.Mixed_7c = FIDInceptionE(2048, pool="max")
        self.fc = nn.Linear(2048, 1008)
        self.weights_sha256 = ""
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FIDInceptionV3:
        """Stays in eval mode: batch-norm statistics are part of the FID protocol."""
        return super().train(False)

    def pool3(self, x: Tensor) -> Tensor:
        """(N, 3, 299, 299) in [-1, 1] -> (N, 2048) pool3 features."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (N, 64, 147, 147)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (N, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # (N, 192, 71, 71)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (N, 192, 35, 35)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)  # ... (N, 768, 17, 17) ... (N, 2048, 8, 8)
        return torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)  # (N, 2048)

    @torch.no_grad()
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(N, C, H, W) images in [-1, 1], any size, 1 or 3 channels -> ((N, 2048), (N, 1008)) float32."""
        if not images.is_floating_point():
            raise MetricInputError(f"FIDInceptionV3 expects float images in [-1, 1], got dtype {images.dtype} "
                                   "(uint8 images: x / 127.5 - 1)")
        weight = self.fc.weight
        x = fit_images(images.to(weight.device), channels=3, size=INPUT_SIZE, mode="bilinear")  # (N, 3, 299, 299)
        features = self.pool3(x.to(weight.dtype))  # (N, 2048)
        logits = features @ weight.T  # (N, 1008): no bias, torch-fidelity's "logits_unbiased" (see module doc)
        return features.float(), logits.float()

    def protocol(self) -> dict[str, Any]:
        """The base protocol plus which logits the Inception Score is computed from."""
        return {**super().protocol(), "logits": "pool3 @ fc.weight.T, no bias (torch-fidelity logits_unbiased)"}


# --- finding and loading the weights ---------------------------------------------------------

def hub_weights_path() -> Path:
    """Where torch.hub keeps (and downloads) the weights: ``$TORCH_HOME/hub/checkpoints/<WEIGHTS_FILE>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def find_inception_weights(path: str | Path | None = None) -> Path | None:
    """The first weights file of: ``path``, ``$GANKIT_INCEPTION``, the torch.hub checkpoint; None if none.

    A file named explicitly (``path`` or the environment variable) that does not exist raises
    ``InceptionWeightsUnavailable`` rather than being skipped: a typo should not silently
    change which network scores are computed with.
    """
    for source, named in (("path", path), (f"${ENV_VAR}", os.environ.get(ENV_VAR) or None)):
        if named is not None:
            file = Path(named).expanduser()
            if not file.is_file():
                raise InceptionWeightsUnavailable(
                    f"InceptionV3 weights file {str(file)!r} (from {source}) does not exist or is not a file. "
                    f"Download {WEIGHTS_URL} to it, or point {source} at the downloaded file.")
            return file
    hub = hub_weights_path()
    return hub if hub.is_file() else None


def inception_available(path: str | Path | None = None) -> bool:
    """Whether a weights file is present locally (never downloads); raises like ``find_inception_weights``."""
    return find_inception_weights(path) is not None


def _unavailable_message(reason: str) -> str:
    return (f"the FID InceptionV3 weights ({WEIGHTS_FILE}) are not available: {reason}. "
            f"Download {WEIGHTS_URL} and put it at {hub_weights_path()} (torch.hub's cache; $TORCH_HOME moves it), "
            f"or anywhere and set ${ENV_VAR}=/path/to/{WEIGHTS_FILE}. "
            "Offline, use the domain evaluator instead: train it with `gankit evaluator train DATA`, "
            "then evaluate with `--features domain`.")


def _download() -> Path:
    """Downloads the official file into the torch.hub cache (checking its hash prefix) and returns its path."""
    try:
        torch.hub.load_state_dict_from_url(WEIGHTS_URL, file_name=WEIGHTS_FILE, map_location="cpu",
                                           progress=True, check_hash=True, weights_only=True)
    except (OSError, RuntimeError, ValueError) as e:  # URLError/HTTPError are OSErrors; a bad hash a RuntimeError
        raise InceptionWeightsUnavailable(_unavailable_message(f"the download failed ({type(e).__name__}: {e})")) from e
    file = hub_weights_path()
    if not file.is_file():
        raise InceptionWeightsUnavailable(_unavailable_message(f"the download did not create {file}"))
    return file


def _read_state_dict(file: Path) -> Mapping[str, Tensor]:
    """``torch.load(weights_only=True)`` of a plain state dict; InceptionWeightsError naming the file otherwise."""
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch.load raises many types for a bad file; all mean "unreadable"
        raise InceptionWeightsError(f"cannot read InceptionV3 weights file {str(file)!r}: {type(e).__name__}: {e}. "
                                    f"It may be truncated or not a PyTorch file; download it again from {WEIGHTS_URL}"
                                    ) from e
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise InceptionWeightsError(f"InceptionV3 weights file {str(file)!r} holds a {type(state).__name__}, "
                                    f"not a state dict of tensors; expected pytorch-fid's {WEIGHTS_FILE}")
    return state


def _check_keys(state: Mapping[str, Tensor], model: FIDInceptionV3, file: Path) -> dict[str, Tensor]:
    """``state`` with any missing ``num_batches_tracked`` filled in, after checking every key and shape."""
    expected = model.state_dict()
    state = dict(state)
    for key in expected:
        if key.endswith("num_batches_tracked") and key not in state:  # unused in eval; older files lack them
            state[key] = torch.tensor(0, dtype=torch.long)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
             for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = [f"{label} ({len(items)}): {', '.join(items[:5])}{', ...' if len(items) > 5 else ''}"
                 for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                                      ("wrong shapes", wrong)) if items]
        raise InceptionWeightsError(f"InceptionV3 weights file {str(file)!r} is not the FID InceptionV3's state dict: "
                                    f"{'; '.join(parts)}. Expected pytorch-fid's {WEIGHTS_FILE} ({WEIGHTS_URL})")
    return state


def load_inception(path: str | Path | None = None, *, device: str | torch.device = "cpu",
                   download: bool = True) -> FIDInceptionV3:
    """The FID InceptionV3 with weights from ``find_inception_weights(path)``, else downloaded (if allowed).

    ``weights_sha256`` is the sha256 of the file actually loaded; a file other than the official
    one loads with a warning, since its scores are not comparable with published ones.
    """
    file = find_inception_weights(path)
    if file is None:
        if not download:
            raise InceptionWeightsUnavailable(_unavailable_message("no local file was found and download=False"))
        file = _download()
    state = _read_state_dict(file)
    with torch.device("meta"):  # no random initialisation: every tensor comes from the file
        model = FIDInceptionV3()
    model.load_state_dict(_check_keys(state, model, file), strict=True, assign=True)
    model.requires_grad_(False)
    model.weights_sha256 = sha256_file(file)
    if model.weights_sha256 != WEIGHTS_SHA256:
        warnings.warn(f"InceptionV3 weights {str(file)!r} have sha256 {model.weights_sha256[:12]}..., not the official "
                      f"{WEIGHTS_SHA256[:12]}... of {WEIGHTS_FILE}: scores are not comparable with published ones",
                      UserWarning, stacklevel=2)
    return model.to(device)
