"""Image-to-image networks: shapes at several sizes, the PatchGAN's geometry, skips, conditioning, config errors."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.testing import assert_close

from gankit.errors import ConfigError
from gankit.nets.translation import (PatchDiscriminator, ResidualBlock, ResnetGenerator, SRDiscriminator, SRResNet,
                                     StarGANDiscriminator, UNetGenerator, patch_output_size, patch_receptive_field)
from gankit.types import DOut


def images(*shape: int, seed: int = 0) -> Tensor:
    """Images in [-1, 1]."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def count(net: nn.Module, kind: type[nn.Module]) -> int:
    return sum(isinstance(m, kind) for m in net.modules())


# --- U-Net ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [8, 16, 32, 64])
@pytest.mark.parametrize(("c_in", "c_out"), [(1, 1), (3, 3), (1, 3)])
def test_unet_output_shape_equals_input_shape(size: int, c_in: int, c_out: int) -> None:
    torch.manual_seed(0)
    G = UNetGenerator(c_in, c_out, size, width=4)
    out = G(images(2, c_in, size, size))
    assert out.shape == (2, c_out, size, size)
    assert out.abs().max() <= 1.0 and out.std() > 0  # tanh output, not constant


@pytest.mark.parametrize(("size", "near"), [(48, "32, 64"), (4, "8, 16"), (100, "128, 64"), (0, "8, 16")])
def test_unet_rejects_sizes_that_are_not_powers_of_two(size: int, near: str) -> None:
    with pytest.raises(ConfigError, match=f"data.image_size={size} .*power of two >= 8. Nearest valid sizes: {near}"):
        UNetGenerator(3, 3, size, width=4)


@pytest.mark.parametrize(("size", "depth"), [(8, 3), (32, 5), (256, 8)])
def test_unet_depth_is_log2_of_the_size(size: int, depth: int) -> None:
    G = UNetGenerator(3, 3, size, width=2)
    assert len(G.down) == len(G.up) == depth
    # each inner up conv reads its input and the encoder map beside it: twice the channels but the innermost
    ins = [up[0].in_channels for up in G.up]
    chs = [2 * min(2**i, 8) for i in range(depth)]  # encoder channels at width 2
    assert ins == [chs[-1]] + [2 * c for c in reversed(chs[1:-1])] + [2 * chs[0]]


def test_unet_norms_skip_the_outermost_and_innermost_down_layers() -> None:
    G = UNetGenerator(3, 3, 32, width=4, norm="instance")
    assert [count(d, nn.InstanceNorm2d) for d in G.down] == [0, 1, 1, 1, 0]
    assert [count(u, nn.InstanceNorm2d) for u in G.up] == [1, 1, 1, 1, 0]
    assert G.down[0][0].bias is not None and G.down[1][0].bias is None  # a bias before an affine norm is redundant


@pytest.mark.parametrize(("size", "where"), [(256, [True] * 3 + [False] * 5), (32, [True] + [False] * 4),
                                             (16, [False] * 4)])
def test_unet_dropout_on_the_three_innermost_8w_decoder_layers(size: int, where: list[bool]) -> None:
    G = UNetGenerator(3, 3, size, width=2)
    assert [count(up, nn.Dropout) == 1 for up in G.up] == where
    assert all(m.p == 0.5 for m in G.modules() if isinstance(m, nn.Dropout))
    assert count(UNetGenerator(3, 3, size, width=2, dropout=None), nn.Dropout) == 0


def test_unet_rejects_bad_dropout() -> None:
    with pytest.raises(ConfigError, match=r"recipe_args.dropout=1.5: .*\[0, 1\)"):
        UNetGenerator(3, 3, 16, dropout=1.5)


def test_unet_skips_carry_the_image_past_the_bottleneck() -> None:
    torch.manual_seed(0)
    G = UNetGenerator(1, 1, 32, width=4, norm=None, dropout=None).eval()
    with torch.no_grad():
        G.down[-1][0].weight.zero_()  # the 1x1 bottleneck now carries nothing about the input
        G.down[-1][0].bias.zero_()
        x = images(1, 1, 32, 32)
        x_moved = x.clone()
        x_moved[0, 0, 5, 5] += 0.5  # one pixel
        diff = (G(x_moved) - G(x)).abs()[0, 0]
    assert diff[4:7, 4:7].sum() > 0  # only the skips can bring the change to the output
    assert diff[5, 5] > 0


# --- PatchGAN ------------------------------------------------------------------------------------------------
def test_patch_receptive_field() -> None:
    # back from the output: 4 -> 7 after the two stride-1 convs, then r -> 2(r - 1) + 4 per stride-2 conv
    assert [patch_receptive_field(n) for n in (1, 2, 3, 4)] == [16, 34, 70, 142]


# each stride-2 conv floors size/2, the two stride-1 convs take 1 each: out = floor(size / 2^n) - 2
SIDES = [(256, 3, 30), (128, 3, 14), (100, 3, 10), (70, 3, 6), (64, 2, 14), (24, 3, 1), (16, 1, 6), (286, 4, 15)]


@pytest.mark.parametrize(("size", "n_layers", "side"), SIDES)
def test_patch_output_size_matches_the_module(size: int, n_layers: int, side: int) -> None:
    assert patch_output_size(size, n_layers) == side
    D = PatchDiscriminator(3, width=2, n_layers=n_layers)
    with torch.no_grad():
        out = D(images(1, 3, size, size))
    assert isinstance(out, DOut)
    assert out.logit.shape == (1, side, side)
    assert out.features.shape == (1, 2 * min(2**n_layers, 8))
    assert out.aux is None


def test_patch_discriminator_shapes_on_a_batch_of_rectangles() -> None:
    torch.manual_seed(0)
    out = PatchDiscriminator(6, width=4, n_layers=3)(images(2, 6, 64, 128))
    assert out.logit.shape == (2, 6, 14)
    assert out.features.shape == (2, 32)


@pytest.mark.parametrize(("cell", "window"), [((7, 7), (33, 103)), ((0, 0), (0, 47))])
def test_patch_receptive_field_empirically(cell: tuple[int, int], window: tuple[int, int]) -> None:
    """Positive weights and leaky ReLUs: the gradient of a cell is non-zero exactly on the patch it sees.

    Centre cell 7 of the 14-wide map starts at ((7 - 2) * 2 - 1) * 2 - 1) * 2 - 1 = 33 and spans 70 pixels; cell 0
    would start at -23, so its window is clipped to [0, -23 + 70).
    """
    D = PatchDiscriminator(1, width=2, n_layers=3, norm=None)
    with torch.no_grad():
        for name, p in D.named_parameters():
            p.fill_(0.1 if name.endswith("weight") else 0.0)
    x = images(1, 1, 128, 128).requires_grad_()
    D(x).logit[0, cell[0], cell[1]].backward()
    seen = x.grad[0, 0] != 0
    expected = torch.zeros(128, 128, dtype=torch.bool)
    expected[window[0]:window[1], window[0]:window[1]] = True
    assert torch.equal(seen, expected)
    if cell == (7, 7):
        assert window[1] - window[0] == patch_receptive_field(3)


def test_patch_inputs_too_small_for_n_layers() -> None:
    with pytest.raises(ConfigError, match=r"data.image_size=23 .*recipe_args.n_layers=3 \(it needs at least 24 px\); "
                                          r"use recipe_args.n_layers=2 or smaller"):
        patch_output_size(23, 3)
    with pytest.raises(ConfigError, match="data.image_size=5 .*no n_layers fits"):
        patch_output_size(5, 1)
    with pytest.raises(ConfigError, match="data.image_size=10 .*recipe_args.n_layers=1 or smaller"):
        PatchDiscriminator(3, width=2, n_layers=3)(images(1, 3, 16, 10))  # the shorter side decides
    with pytest.raises(ConfigError, match="recipe_args.n_layers=0: .*at least 1"):
        PatchDiscriminator(3, n_layers=0)


def test_patch_spectral_norm_on_every_conv() -> None:
    D = PatchDiscriminator(3, width=2, n_layers=3, spectral=True)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5 and all(parametrize.is_parametrized(c, "weight") for c in convs)


# --- CycleGAN / StarGAN ------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_blocks", [6, 9])
def test_resnet_generator_keeps_the_shape(n_blocks: int) -> None:
    torch.manual_seed(0)
    G = ResnetGenerator(3, 1, width=4, n_blocks=n_blocks)
    assert len(G.blocks) == n_blocks and count(G, ResidualBlock) == n_blocks
    out = G(images(2, 3, 32, 32))
    assert out.shape == (2, 1, 32, 32)
    assert out.abs().max() <= 1.0 and out.std() > 0
    assert G(images(1, 3, 32, 48)).shape == (1, 1, 32, 48)


@pytest.mark.parametrize("norm", ["instance", "batch", None])
@pytest.mark.parametrize("train", [True, False])
def test_resnet_generator_conditioned_on_the_target_domain(norm: str | None, train: bool) -> None:
    torch.manual_seed(0)
    G = ResnetGenerator(3, 3, width=4, n_blocks=2, norm=norm, num_classes=4).train(train)
    first = G.encoder[0][0]
    assert first.weight.shape == (4, 3 + 4, 7, 7)  # the one-hot maps are extra input channels
    # zero padding: with reflection the label maps stay constant and instance norm would erase them exactly
    assert first.padding_mode == "zeros"
    assert ResnetGenerator(3, 3, width=4, n_blocks=0).encoder[0][0].padding_mode == "reflect"
    x, other = images(2, 3, 16, 16), images(2, 3, 16, 16, seed=1)
    to_0, to_3 = G(x, torch.tensor([0, 0])), G(x, torch.tensor([3, 3]))
    assert to_0.shape == (2, 3, 16, 16)
    label_effect = (to_0 - to_3).abs().mean()
    image_effect = (to_0 - G(other, torch.tensor([0, 0]))).abs().mean()
    assert label_effect > 0.25 * image_effect  # at initialisation, the label matters about as much as the image
    if norm != "batch":  # batch norm mixes the images of a batch
        assert_close(G(x, torch.tensor([0, 3]))[0], to_0[0])  # each image follows its own label
    with pytest.raises(ValueError, match=r"num_classes=4\) is conditional .*pass the target-domain labels y"):
        G(x)


def test_resnet_generator_rejects_sizes_not_multiple_of_4() -> None:
    G = ResnetGenerator(3, 3, width=4, n_blocks=1)
    with pytest.raises(ConfigError,
                       match="data.image_size=30 .*multiples of 4 and at least 8. Nearest valid sizes: 28, 32"):
        G(images(1, 3, 30, 30))
    with pytest.raises(ConfigError, match="data.image_size=4 .*Nearest valid sizes: 8, 12"):
        G(images(1, 3, 4, 4))


# (size, n_layers asked) -> (layers used, logit side, feature width at width 4)
STARGAN = [(32, 6, 4, 2, 32), (128, 6, 6, 2, 128), (8, 6, 2, 2, 8), (128, 3, 3, 16, 16)]


@pytest.mark.parametrize(("size", "asked", "used", "side", "features"), STARGAN)
def test_stargan_discriminator_shapes(size: int, asked: int, used: int, side: int, features: int) -> None:
    torch.manual_seed(0)
    D = StarGANDiscriminator(3, size, 5, width=4, n_layers=asked)
    assert D.n_layers == used and len(D.trunk) == used
    out = D(images(2, 3, size, size))
    assert out.logit.shape == (2, side, side)
    assert out.aux is not None and out.aux.shape == (2, 5)
    assert out.features.shape == (2, features)
    assert count(D, nn.LeakyReLU) == used and all(m.negative_slope == 0.01 for m in D.modules()
                                                   if isinstance(m, nn.LeakyReLU))


def test_stargan_discriminator_config_errors() -> None:
    with pytest.raises(ConfigError, match="data.image_size=100 .*Nearest valid sizes: 128, 64"):
        StarGANDiscriminator(3, 100, 5)
    with pytest.raises(ConfigError, match="num_domains=0"):
        StarGANDiscriminator(3, 32, 0)
    with pytest.raises(ValueError, match=r"expects images of shape \(B, 3, 32, 32\); got \(1, 3, 64, 64\)"):
        StarGANDiscriminator(3, 32, 2, width=4)(images(1, 3, 64, 64))


# --- SRGAN ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("scale", "shuffles"), [(2, 1), (4, 2), (8, 3)])
def test_srresnet_upscales(scale: int, shuffles: int) -> None:
    torch.manual_seed(0)
    G = SRResNet(3, scale=scale, width=8, n_blocks=2)
    assert count(G, nn.PixelShuffle) == shuffles and count(G, ResidualBlock) == 2
    out = G(images(2, 3, 6, 10))
    assert out.shape == (2, 3, 6 * scale, 10 * scale)
    assert out.abs().max() <= 1.0 and out.std() > 0


@pytest.mark.parametrize(("scale", "valid"), [(3, "2, 4, 8"), (16, "8, 4, 2"), (1, "2, 4, 8")])
def test_srresnet_rejects_bad_scale(scale: int, valid: str) -> None:
    with pytest.raises(ConfigError, match=f"recipe_args.scale={scale} .*valid: {valid}"):
        SRResNet(scale=scale)


@pytest.mark.parametrize("size", [16, 96])
def test_sr_discriminator_shapes(size: int) -> None:
    torch.manual_seed(0)
    out = SRDiscriminator(3, width=4)(images(2, 3, size, size))
    assert out.logit.shape == (2,)
    assert out.features.shape == (2, 64)
    assert out.aux is None


def test_sr_discriminator_small_crops_and_spectral_norm() -> None:
    with pytest.raises(ConfigError, match="data.image_size=8 .*at least 16 px"):
        SRDiscriminator(3, width=4)(images(2, 3, 8, 8))
    D = SRDiscriminator(3, width=4, spectral=True)
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 10 and all(parametrize.is_parametrized(m, "weight") for m in layers)


# --- every network ---------------------------------------------------------------------------------------------
NETS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], Tensor | None]] = {
    "unet": (lambda: UNetGenerator(3, 3, 16, width=4), (2, 3, 16, 16), None),
    "patch": (lambda: PatchDiscriminator(3, width=4, n_layers=2, spectral=True), (2, 3, 32, 32), None),
    "resnet": (lambda: ResnetGenerator(3, 3, width=4, n_blocks=2), (2, 3, 16, 16), None),
    "stargan_g": (lambda: ResnetGenerator(3, 3, width=4, n_blocks=2, num_classes=3), (2, 3, 16, 16),
                  torch.tensor([0, 2])),
    "stargan_d": (lambda: StarGANDiscriminator(3, 32, 3, width=4), (2, 3, 32, 32), None),
    "srresnet": (lambda: SRResNet(3, scale=2, width=4, n_blocks=2), (2, 3, 8, 8), None),
    "sr_d": (lambda: SRDiscriminator(3, width=4, spectral=True), (2, 3, 16, 16), None),
}


def scalar(out: Tensor | DOut) -> Tensor:
    if isinstance(out, DOut):
        return out.logit.mean() + out.features.mean() + (out.aux.mean() if out.aux is not None else 0)
    return out.mean()


@pytest.mark.parametrize("name", list(NETS))
def test_finite_gradients_reach_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    build, shape, y = NETS[name]
    net = build()
    x = images(*shape).requires_grad_()
    scalar(net(x, y)).backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", list(NETS))
def test_same_seed_same_network(name: str) -> None:
    build, shape, y = NETS[name]
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        net = build().eval()
        with torch.no_grad():
            out = net(images(*shape), y)
        outs.append(out.logit if isinstance(out, DOut) else out)
    assert_close(outs[0], outs[1], rtol=0, atol=0)


NORM_TYPES = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d, "layer": nn.GroupNorm}
# norm layers: U-Net 16 px (2 down + 3 up), PatchGAN n_layers=3 (3), ResNet G with 2 blocks (3 + 2 * 2 + 2)
NORM_COUNTS = {"unet": 5, "patch": 3, "resnet": 9}


def build_with_norm(name: str, norm: str | None) -> nn.Module:
    if name == "unet":
        return UNetGenerator(3, 3, 16, width=4, norm=norm)
    if name == "patch":
        return PatchDiscriminator(3, width=4, n_layers=3, norm=norm)
    return ResnetGenerator(3, 3, width=4, n_blocks=2, norm=norm)


@pytest.mark.parametrize("norm", ["batch", "instance", "layer", None])
@pytest.mark.parametrize("name", list(NORM_COUNTS))
def test_norm_choices(name: str, norm: str | None) -> None:
    torch.manual_seed(0)
    net = build_with_norm(name, norm)
    norms = [m for m in net.modules() if isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm))]
    assert len(norms) == (NORM_COUNTS[name] if norm else 0)
    assert all(type(m) is NORM_TYPES[norm] for m in norms) if norm else True
    out = net(images(2, 3, 32 if name == "patch" else 16, 32 if name == "patch" else 16))
    assert torch.isfinite(out.logit if isinstance(out, DOut) else out).all()


def test_unknown_norm_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="model.g_norm: unknown normalisation 'instnce'. Did you mean 'instance'"):
        UNetGenerator(3, 3, 16, norm="instnce")
    with pytest.raises(ConfigError, match="model.d_norm: unknown normalisation 'btach'"):
        PatchDiscriminator(3, norm="btach")
