"""Layers that look across the batch: the survey's answers to a generator that repeats itself.

Each lets D (or G) use statistics of several samples at once, so a collapsed batch
looks different from a diverse one.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def pack(x: Tensor, m: int) -> Tensor:
    """Lin et al. 2018 (PacGAN): m consecutive samples become one, concatenated along channels.

    (B, C, H, W) -> (B/m, m*C, H, W); points (B, D) -> (B/m, m*D).
    """
    if x.shape[0] % m:
        raise ValueError(f"packing {m} samples needs a batch size divisible by {m}, got {x.shape[0]}")
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016: features (B, F) -> closeness to the rest of the batch (B, kernels).

    M = f T reshaped (B, kernels, kernel_dim); o(x_i)_b = sum_j exp(-||M_i,b - M_j,b||_1) over j != i.
    """

    def __init__(self, in_features: int, kernels: int = 100, kernel_dim: int = 5) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.05)

    def forward(self, features: Tensor) -> Tensor:
        m = (features @ self.T).view(-1, self.kernels, self.kernel_dim)  # (B, kernels, kernel_dim)
        l1 = (m[:, None] - m[None]).abs().sum(-1)  # (B, B, kernels): every pair of samples
        return torch.exp(-l1).sum(1) - 1  # (B, kernels); minus exp(0) = 1 of each sample with itself


def minibatch_stddev(features: Tensor, group_size: int = 4) -> Tensor:
    """Karras et al. 2018 (ProGAN): the mean standard deviation of each feature over a group of samples.

    (B, ...) -> (B, 1): one number per sample, shared by the samples of its group. The group is the
    largest size <= group_size dividing B, so any batch works.
    """
    b = features.shape[0]
    g = min(group_size, b)
    while b % g:
        g -= 1
    grouped = features.reshape(g, b // g, -1).float()  # (G, B/G, F): sample i is in group i % (B/G)
    std = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=1)  # (B/G,)
    return std.repeat(g)[:, None].to(features.dtype)  # (B, 1)


class VirtualBatchNorm(nn.Module):
    """Salimans et al. 2016: normalise each example with a fixed reference batch's statistics plus its own.

    ``reference`` mode records the reference batch's mean and mean square (through which gradients flow);
    in ``apply`` mode every example is normalised with weights N/(N+1) for the reference, 1/(N+1) for itself,
    so an output never depends on the other samples of its batch.
    """

    def __init__(self, bn: nn.BatchNorm1d | nn.BatchNorm2d) -> None:
        super().__init__()
        self.eps = bn.eps
        self.weight = nn.Parameter(bn.weight.detach().clone())
        self.bias = nn.Parameter(bn.bias.detach().clone())
        self.reference = False
        self.ref: tuple[Tensor, Tensor, int] | None = None  # mean, mean square, reference size

    def forward(self, x: Tensor) -> Tensor:
        dims = [0] + list(range(2, x.dim()))  # all but channels
        shape = [1, -1] + [1] * (x.dim() - 2)
        if self.reference:
            self.ref = (x.mean(dims, keepdim=True), (x * x).mean(dims, keepdim=True), x.shape[0])
            mean, mean_sq = self.ref[0], self.ref[1]
        else:
            if self.ref is None:
                raise RuntimeError("VirtualBatchNorm: run the reference batch first (VirtualBatchNormG does)")
            ref_mean, ref_sq, n = self.ref
            own = list(range(2, x.dim()))  # an example's own statistics: over its positions only
            x_mean = x.mean(own, keepdim=True) if own else x
            x_sq = (x * x).mean(own, keepdim=True) if own else x * x
            mean = (n * ref_mean + x_mean) / (n + 1)
            mean_sq = (n * ref_sq + x_sq) / (n + 1)
        var = (mean_sq - mean * mean).clamp_min(0)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight.view(shape) + self.bias.view(shape)


class VirtualBatchNormG(nn.Module):
    """A generator whose batch-norm layers are virtual: each call first runs the fixed reference latents."""

    def __init__(self, G: nn.Module, ref_z: Tensor, ref_y: Tensor | None) -> None:
        super().__init__()
        self.net = G
        self.layers = replace_batchnorm(G)
        if not self.layers:
            raise ValueError("virtual batch norm replaces batch-norm layers, and this generator has none")
        self.register_buffer("ref_z", ref_z)
        self.register_buffer("ref_y", ref_y)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        for layer in self.layers:
            layer.reference = True
        try:
            self.net(self.ref_z, self.ref_y)
        finally:
            for layer in self.layers:
                layer.reference = False
        try:
            return self.net(z, y)
        finally:
            for layer in self.layers:
                layer.ref = None  # statistics belong to this call's graph only


def replace_batchnorm(net: nn.Module) -> list[VirtualBatchNorm]:
    """Swap every BatchNorm1d/2d inside ``net`` for a VirtualBatchNorm with the same affine weights."""
    swapped = []
    for module in list(net.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
                vbn = VirtualBatchNorm(child)
                setattr(module, child_name, vbn)
                swapped.append(vbn)
    return swapped


__all__ = ["pack", "MinibatchDiscrimination", "minibatch_stddev", "VirtualBatchNorm", "VirtualBatchNormG", "replace_batchnorm"]
