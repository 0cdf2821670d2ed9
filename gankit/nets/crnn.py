"""Mogren 2016 (C-RNN-GAN): recurrent G and bidirectional recurrent D for continuous sequences (T, F).

G's noise: z (B, Z) is cut into T slices of ceil(Z / T) entries (zero-padded at the end when Z is not a multiple
of T), and step t reads slice t, as the paper's G reads fresh noise at every step; choose z_dim = T * k so every
step gets k entries of noise. G is therefore deterministic given z (no noise of its own). Its output layer is
linear: samples are not tanh-bounded, so sequences of any scale can be learnt (see gankit/data/sequences.py).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nets import ARCHS, ModelConfig, NetSpec
from gankit.nets.common import DHead, conditioned_latent, refuse_settings
from gankit.nn import LabelInput
from gankit.types import DOut

NO_LAYERS = "model.arch='crnn' has LSTM layers without normalisation, spectral norm or attention"


def sequence_shape(sample_shape: tuple[int, ...], layers: int, field: str) -> tuple[int, int]:
    """(T, F) of a sequence spec, with clear errors for images and points and for fewer than one LSTM layer."""
    if len(sample_shape) != 2:
        kind = {3: "images (C, H, W)", 1: "vectors (D,), e.g. 2D points"}.get(len(sample_shape), "not sequences")
        raise ConfigError(f"model.arch='crnn' builds recurrent networks for continuous sequences (T, F), but the data "
                          f"has sample shape {sample_shape}: {kind}. Use model.arch=dcgan for images or mlp for "
                          "points, or sequence data (--data sines, or an .npz of float (N, T, F) arrays)")
    if not isinstance(layers, int) or layers < 1:
        raise ConfigError(f"{field}={layers!r}: the crnn networks need at least 1 LSTM layer (the paper: 2)")
    return sample_shape[0], sample_shape[1]


class CRNNGenerator(nn.Module):
    """z slices -> LSTM (g_layers x g_width) fed its own previous output -> linear x_t per step. (B, Z) -> (B, T, F)."""

    takes_sequences = True  # build_nets: this architecture's samples are (T, F) sequences

    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        self.length, self.features = sequence_shape(spec.sample_shape, cfg.g_layers, "model.g_layers")
        refuse_settings(cfg, ("g_norm", "g_spectral_norm", "attention"), NO_LAYERS)
        self.z_dim, self.num_classes = spec.z_dim, spec.g_classes
        self.step_dim = math.ceil(spec.z_dim / self.length)  # noise entries read at each step
        fan_in = self.step_dim + spec.g_classes + self.features
        # LSTM cells, not nn.LSTM: G runs one step at a time, and a call of a cell costs half of a one-step nn.LSTM
        self.cells = nn.ModuleList(nn.LSTMCell(fan_in if i == 0 else cfg.g_width, cfg.g_width)
                                   for i in range(cfg.g_layers))
        self.out = nn.Linear(cfg.g_width, self.features)

    def step_inputs(self, z: Tensor, y: Tensor | None) -> Tensor:
        """(B, Z) -> (B, T, S [+ K]): slice t of z (zero-padded to T * S) and the labels' one-hot at every step."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"crnn G takes z of shape (B, {self.z_dim}), got {tuple(z.shape)}")
        noise = F.pad(z, (0, self.step_dim * self.length - self.z_dim)).view(-1, self.length, self.step_dim)
        labels = conditioned_latent(z[:, :0], y, self.num_classes)  # (B, K): the one-hot alone (K = 0: empty)
        return torch.cat([noise, labels[:, None].expand(-1, self.length, -1)], dim=2)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        inputs = self.step_inputs(z, y)  # (B, T, S + K)
        previous = torch.zeros_like(inputs[:, 0, :1]).expand(-1, self.features)  # the first step: a zero "previous output"
        states: list[tuple[Tensor, Tensor] | None] = [None] * len(self.cells)
        outputs = []
        for t in range(self.length):  # step by step: each step reads the output of the one before
            h = torch.cat([inputs[:, t], previous], dim=1)  # (B, S + K + F)
            for i, cell in enumerate(self.cells):
                states[i] = cell(h, states[i])
                h = states[i][0]  # (B, g_width)
            previous = self.out(h)  # (B, F)
            outputs.append(previous)
        return torch.stack(outputs, dim=1)  # (B, T, F)


class CRNNDiscriminator(nn.Module):
    """Bidirectional LSTM (d_layers x d_width per direction) -> a linear decision per step, averaged over time.

    features: the top layer's hidden states (both directions) averaged over time, (B, 2 d_width), which feature
    matching reads. The decision is linear, so the mean of the per-step logits is exactly the logit of the mean
    features: one head serves the logit, label projection and an auxiliary head alike.
    """

    def __init__(self, spec: NetSpec, cfg: ModelConfig) -> None:
        super().__init__()
        length, features = sequence_shape(spec.sample_shape, cfg.d_layers, "model.d_layers")
        refuse_settings(cfg, ("d_norm", "d_spectral_norm", "attention"), NO_LAYERS)
        self.label_input = LabelInput(cfg.label_input, spec.d_classes, 2 * cfg.d_width)
        self.lstm = nn.LSTM(features + self.label_input.extra_channels, cfg.d_width, num_layers=cfg.d_layers,
                            batch_first=True, bidirectional=True)
        self.head = DHead(2 * cfg.d_width, self.label_input, spec.aux_dim, False)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        if self.label_input.mode == "concat":  # the one-hot beside the features at every step
            onehot = self.label_input.concat(x[:, 0, :0], y)  # (B, K)
            x = torch.cat([x, onehot[:, None].expand(-1, x.shape[1], -1)], dim=2)  # (B, T, F + K)
        h, _ = self.lstm(x)  # (B, T, 2 d_width)
        return self.head(h.mean(dim=1), y)


ARCHS.register("crnn", doc="C-RNN-GAN recurrent G and bidirectional recurrent D for sequences (Mogren 2016)")(
    (CRNNGenerator, CRNNDiscriminator))
