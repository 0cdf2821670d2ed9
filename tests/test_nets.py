"""Architectures: shapes at every supported size, conditioning, spectral norm, attention, config errors."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gankit.errors import ConfigError
from gankit.nets import ARCHS, ModelConfig, NetSpec, build_nets
from gankit.nets.common import conditioned_latent, resolution_plan
from gankit.nn import LabelInput, SelfAttention, maybe_sn
from gankit.types import DOut

Z = 8
TINY = dict(g_width=8, d_width=8, z_dim=Z)


def tiny(arch: str, **kw) -> ModelConfig:
    return ModelConfig(arch=arch, **{**TINY, **kw})


def test_registered_architectures() -> None:
    assert ARCHS.names() == ["biggan", "crnn", "dcgan", "mlp", "progan", "r3gan", "resnet", "stylegan", "stylegan2",
                             "volume"]


@pytest.mark.parametrize(("size", "plan"), [(8, (4, 1)), (16, (4, 2)), (28, (7, 2)), (32, (4, 3)), (12, (6, 1)),
                                            (64, (4, 4)), (56, (7, 3))])
def test_resolution_plan(size: int, plan: tuple[int, int]) -> None:
    assert resolution_plan(size, "dcgan") == plan


# D's feature width F: dcgan flattens d_width * 2^(n-1) channels at base x base; resnet sums over
# positions (F = d_width); mlp's last hidden layer (F = d_width).
DCGAN_FEATURES = {8: 8 * 4 * 4, 16: 16 * 4 * 4, 28: 16 * 7 * 7, 32: 32 * 4 * 4}
SHAPES = [(1, 8, 8), (3, 16, 16), (1, 28, 28), (3, 32, 32)]


def features_of(arch: str, shape: tuple[int, ...]) -> int:
    return DCGAN_FEATURES[shape[1]] if arch == "dcgan" else 8


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "resnet"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[1]}px")
def test_image_shapes(arch: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    aux_dim = 5 if shape[0] == 3 else 0  # an auxiliary head on the colour sizes only
    G, D = build_nets(NetSpec(shape, z_dim=Z, aux_dim=aux_dim), tiny(arch))
    x = G(torch.randn(3, Z))
    assert x.shape == (3, *shape)
    assert x.abs().max() <= 1.0 and x.std() > 0  # tanh output, not constant
    out = D(x)
    assert isinstance(out, DOut)
    assert out.logit.shape == (3,)
    assert out.features.shape == (3, features_of(arch, shape))
    if aux_dim:
        assert out.aux is not None and out.aux.shape == (3, aux_dim)
    else:
        assert out.aux is None


@pytest.mark.parametrize("aux_dim", [0, 3])
def test_mlp_points(aux_dim: int) -> None:
    torch.manual_seed(0)
    G, D = build_nets(NetSpec((2,), z_dim=2, aux_dim=aux_dim), tiny("mlp", z_dim=2, d_norm=None))
    x = G(torch.randn(5, 2))
    assert x.shape == (5, 2)
    assert not any(isinstance(m, nn.Tanh) for m in G.modules())  # points are not squashed into [-1, 1]
    out = D(x)
    assert out.logit.shape == (5,) and out.features.shape == (5, 8)
    assert (out.aux.shape if out.aux is not None else None) == ((5, 3) if aux_dim else None)


def test_mlp_generator_layer_count() -> None:
    G, D = build_nets(NetSpec((2,), z_dim=2), tiny("mlp", g_layers=4, d_layers=2, g_width=16))
    g_linears = [m for m in G.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in g_linears] == [(2, 16), (16, 16), (16, 16), (16, 16), (16, 2)]
    d_linears = [m for m in D.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in d_linears] == [(2, 8), (8, 8), (8, 1)]


def test_conditioned_latent_is_z_then_one_hot() -> None:
    z = torch.tensor([[0.5, -1.0], [2.0, 3.0]])
    out = conditioned_latent(z, torch.tensor([2, 0]), 3)
    assert_close(out, torch.tensor([[0.5, -1.0, 0.0, 0.0, 1.0], [2.0, 3.0, 1.0, 0.0, 0.0]]))
    assert conditioned_latent(z, None, 0) is z
    with pytest.raises(ValueError, match="conditional"):
        conditioned_latent(z, None, 3)


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "resnet"])
def test_conditional_generator_depends_on_label(arch: str) -> None:
    torch.manual_seed(0)
    G, _ = build_nets(NetSpec((1, 16, 16), z_dim=Z, g_classes=4), tiny(arch))
    G.eval()
    z = torch.randn(1, Z).expand(4, Z)  # the same noise for every label
    y = torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        out = G(z, y)
        again = G(z, y)
    assert_close(out, again)  # deterministic in eval mode
    for a in range(4):
        for b in range(a + 1, 4):
            assert (out[a] - out[b]).abs().max() > 1e-4, (a, b)
    with pytest.raises(ValueError, match="conditional"):
        G(z)


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "resnet"])
def test_label_concat_changes_logit(arch: str) -> None:
    torch.manual_seed(0)
    _, D = build_nets(NetSpec((1, 16, 16), z_dim=Z, d_classes=3), tiny(arch, label_input="concat", d_norm=None))
    first = next(m for m in D.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    in_dim = first.in_features if isinstance(first, nn.Linear) else first.in_channels
    assert in_dim == (256 + 3 if arch == "mlp" else 1 + 3)  # input plus one-hot channels
    x = torch.randn(1, 1, 16, 16).expand(3, -1, -1, -1)
    with torch.no_grad():
        logit = D(x, torch.tensor([0, 1, 2])).logit
    assert (logit[0] - logit[1]).abs() > 1e-5 and (logit[1] - logit[2]).abs() > 1e-5
    with pytest.raises(ValueError, match="conditional"):
        D(x)


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "resnet"])
@pytest.mark.parametrize("sn", [False, True])
def test_label_projection_adds_embedding_dot_features(arch: str, sn: bool) -> None:
    """Miyato & Koyama 2018: logit(x, y) = psi(phi(x)) + <E[y], phi(x)>, so changing y adds <E[b] - E[a], phi(x)>."""
    torch.manual_seed(0)
    _, D = build_nets(NetSpec((1, 16, 16), z_dim=Z, d_classes=3),
                      tiny(arch, label_input="projection", d_norm=None, d_spectral_norm=sn))
    D.eval()
    x = torch.randn(1, 1, 16, 16).expand(3, -1, -1, -1)
    with torch.no_grad():
        out = D(x, torch.tensor([0, 1, 2]))
        E = D.label_input.embed.weight  # (K, F), the effective (normalised) weight under SN
        base = D.head.linear(out.features).squeeze(1)
    assert_close(out.features[0], out.features[2])  # the label does not enter the trunk
    assert_close(out.logit, base + (E * out.features).sum(1))
    assert_close(out.logit[1] - out.logit[0], ((E[1] - E[0]) * out.features[0]).sum())
    assert (out.logit[1] - out.logit[0]).abs() > 1e-4


def test_label_input_errors() -> None:
    with pytest.raises(ConfigError, match="'concat'"):
        LabelInput("concatt", 3, 8)
    with pytest.raises(ConfigError, match="needs a labelled data set"):
        build_nets(NetSpec((1, 16, 16), z_dim=Z, d_classes=0), tiny("dcgan", label_input="projection"))


# ---------------------------------------------------------------- spectral norm


def largest_singular_values(D: nn.Module) -> dict[str, float]:
    """sigma_max of each Linear/Conv/Embedding's effective weight, reshaped (out, -1) as torch's SN does."""
    out = {}
    with torch.no_grad():
        for name, m in D.named_modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding)):
                w = m.weight
                out[name] = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2).item()
    return out


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "resnet"])
def test_spectral_norm_gives_unit_singular_values(arch: str) -> None:
    torch.manual_seed(0)
    spec = NetSpec((1, 16, 16), z_dim=Z, d_classes=3, aux_dim=4)
    attention = None if arch == "mlp" else 8
    cfg = tiny(arch, d_norm=None, d_spectral_norm=True, label_input="projection", attention=attention)
    _, D = build_nets(spec, cfg)
    D.train()
    x, y = torch.randn(4, 1, 16, 16), torch.tensor([0, 1, 2, 0])
    for _ in range(3):  # each training forward runs one power iteration
        D(x, y)
    D.eval()
    sigmas = largest_singular_values(D)
    normalised = {name for name, m in D.named_modules() if hasattr(m, "parametrizations")}
    # every weight layer except the auxiliary head is normalised (the head is a plain classifier)
    assert normalised == set(sigmas) - {"head.aux"}
    if attention:
        assert {n.rsplit(".", 1)[1] for n in normalised if ".query" in n or ".key" in n or ".value" in n} == {
            "query", "key", "value"}
    for name in normalised:
        assert abs(sigmas[name] - 1.0) < 0.05, (name, sigmas[name])


def test_without_spectral_norm_weights_are_left_alone() -> None:
    torch.manual_seed(0)
    _, D = build_nets(NetSpec((1, 16, 16), z_dim=Z, d_classes=3),
                      tiny("dcgan", d_norm=None, label_input="projection"))
    assert not any(hasattr(m, "parametrizations") for m in D.modules())
    assert sorted(largest_singular_values(D)) == ["head.linear", "label_input.embed", "trunk.0", "trunk.3"]


# (layer, an input for it): the three kinds of layer gankit normalises, each as torch reshapes it (out, -1)
SN_LAYERS = {
    "linear": (lambda: nn.Linear(16, 8), lambda: torch.randn(4, 16)),
    "conv": (lambda: nn.Conv2d(3, 8, 4), lambda: torch.randn(1, 3, 4, 4)),
    "embedding": (lambda: nn.Embedding(10, 16), lambda: torch.tensor([0, 3, 9])),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", sorted(SN_LAYERS))
def test_spectral_norm_divides_the_weight_by_its_largest_singular_value(kind: str, seed: int) -> None:
    torch.manual_seed(seed)
    make_layer, make_input = SN_LAYERS[kind]
    layer = make_layer()
    with torch.no_grad():
        layer.weight.mul_(3.0)  # a raw weight whose largest singular value is far from 1
    raw = layer.weight.detach().clone()
    sigma_raw = torch.linalg.svdvals(raw.reshape(raw.shape[0], -1))[0]
    assert float(sigma_raw) > 1.5
    assert maybe_sn(layer, False) is layer and torch.equal(layer.weight, raw)  # off: the layer untouched
    layer = maybe_sn(layer, True)
    layer.train()
    x = make_input()
    for _ in range(300):  # each training forward runs one power iteration (a small gap sigma_1/sigma_2: many)
        layer(x)
    layer.eval()
    with torch.no_grad():
        w = layer.weight
        assert_close(torch.linalg.svdvals(w.reshape(w.shape[0], -1))[0], torch.tensor(1.0), rtol=0, atol=1e-3)
        assert_close(w, raw / sigma_raw, rtol=1e-3, atol=1e-6)


def test_spectral_norm_on_known_singular_values() -> None:
    """W = U diag(4, 2, 1, 0.5) V^T: the normalised weight has singular values (1, 0.5, 0.25, 0.125)."""
    torch.manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(4, 4))
    v, _ = torch.linalg.qr(torch.randn(6, 4))  # (6, 4), orthonormal columns
    singular = torch.tensor([4.0, 2.0, 1.0, 0.5])
    layer = nn.Linear(6, 4)
    with torch.no_grad():
        layer.weight.copy_(u @ torch.diag(singular) @ v.T)
    layer = maybe_sn(layer, True)
    layer.train()
    for _ in range(10):
        layer(torch.randn(2, 6))
    layer.eval()
    with torch.no_grad():
        assert_close(torch.linalg.svdvals(layer.weight), singular / 4, rtol=0, atol=1e-5)


def test_generator_spectral_norm_transposed_conv() -> None:
    """ConvTranspose2d weights are (in, out, k, k); torch normalises them along dim 1 (out first)."""
    torch.manual_seed(0)
    G, _ = build_nets(NetSpec((1, 16, 16), z_dim=Z), tiny("dcgan", g_spectral_norm=True))
    G.train()
    for _ in range(3):
        G(torch.randn(4, Z))
    G.eval()
    convts = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(convts) == 2 and all(hasattr(m, "parametrizations") for m in convts)
    with torch.no_grad():
        for m in convts:
            w = m.weight.transpose(0, 1)  # (out, in, k, k)
            sigma = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2).item()
            assert abs(sigma - 1.0) < 0.05


# ---------------------------------------------------------------- self-attention


def reference_attention(sa: SelfAttention, x: torch.Tensor) -> torch.Tensor:
    """out_i = sum_j softmax_j(q_i . k_j) v_j over positions, written with einsum."""
    b, c, h, w = x.shape
    q = sa.query(x).reshape(b, -1, h * w)
    k = sa.key(x).reshape(b, -1, h * w)
    v = sa.value(x).reshape(b, c, h * w)
    scores = torch.einsum("bci,bcj->bij", q, k)
    weights = scores.softmax(dim=2)
    return torch.einsum("bij,bcj->bci", weights, v).reshape(b, c, h, w)


def test_self_attention_identity_at_init_then_attends() -> None:
    torch.manual_seed(0)
    sa = SelfAttention(16)
    assert sa.query.out_channels == 2 and sa.key.out_channels == 2 and sa.value.out_channels == 16
    x = torch.randn(2, 16, 4, 5)
    out = sa(x)
    assert out.shape == x.shape
    assert torch.equal(out, x)  # gamma = 0
    with torch.no_grad():
        sa.gamma.fill_(1.0)
        out = sa(x)
        expected = x + reference_attention(sa, x)
    assert_close(out, expected)
    assert (out - x).abs().max() > 1e-3
    with torch.no_grad():
        sa.gamma.fill_(0.5)
        assert_close(sa(x), x + 0.5 * reference_attention(sa, x))


def test_self_attention_rows_are_convex_combinations() -> None:
    """When all value vectors are equal, attention returns that vector whatever the weights."""
    torch.manual_seed(0)
    sa = SelfAttention(8)
    with torch.no_grad():
        sa.gamma.fill_(1.0)
        sa.value.weight.zero_()
        sa.value.bias.copy_(torch.arange(8.0))
        x = torch.randn(1, 8, 3, 3)
        out = sa(x)
    assert_close(out - x, torch.arange(8.0).view(1, 8, 1, 1).expand(1, 8, 3, 3))


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_attention_block_in_both_networks(arch: str) -> None:
    G, D = build_nets(NetSpec((1, 16, 16), z_dim=Z), tiny(arch, attention=8))
    assert sum(isinstance(m, SelfAttention) for m in G.modules()) == 1
    assert sum(isinstance(m, SelfAttention) for m in D.modules()) == 1
    assert G(torch.randn(2, Z)).shape == (2, 1, 16, 16)


# ---------------------------------------------------------------- config errors


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_bad_image_size(arch: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_nets(NetSpec((1, 30, 30), z_dim=Z), tiny(arch))
    msg = str(err.value)
    assert "30" in msg and "Nearest valid sizes: 28, 32" in msg and f"model.arch={arch!r}" in msg
    with pytest.raises(ConfigError, match="Nearest valid sizes: 96, 112"):
        build_nets(NetSpec((1, 100, 100), z_dim=Z), tiny(arch))  # 100 = 25 * 4: base 25 is too big


def test_non_square_images() -> None:
    with pytest.raises(ConfigError, match="square"):
        build_nets(NetSpec((1, 16, 8), z_dim=Z), tiny("dcgan"))
    with pytest.raises(ConfigError, match="model.arch=mlp"):
        build_nets(NetSpec((2,), z_dim=Z), tiny("resnet"))


@pytest.mark.parametrize(("arch", "attention"), [("dcgan", 5), ("dcgan", 16), ("dcgan", 4), ("resnet", 16),
                                                  ("resnet", 4), ("mlp", 8)])
def test_attention_not_a_feature_map_size(arch: str, attention: int) -> None:
    """16 px: dcgan/resnet G and D both pass only through 8x8 (G's last block is 16, D's bottom 4)."""
    with pytest.raises(ConfigError, match=f"model.attention={attention} is not a feature-map size"):
        build_nets(NetSpec((1, 16, 16), z_dim=Z), tiny(arch, attention=attention))


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "resnet"])
@pytest.mark.parametrize("field", ["g_norm", "d_norm"])
@pytest.mark.parametrize("size", [8, 16])
def test_bad_norm_name(arch: str, field: str, size: int) -> None:
    with pytest.raises(ConfigError) as err:
        build_nets(NetSpec((1, size, size), z_dim=Z), tiny(arch, **{field: "bacth"}))
    msg = str(err.value)
    assert f"model.{field}" in msg and "'bacth'" in msg and "Did you mean 'batch'?" in msg


def test_bad_norm_name_with_single_layer_mlp_discriminator() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'layer'"):
        build_nets(NetSpec((2,), z_dim=2), tiny("mlp", d_layers=1, d_norm="layr"))


@pytest.mark.parametrize("norm", ["batch", "instance", "layer", None])
def test_every_norm_builds(norm: str | None) -> None:
    torch.manual_seed(0)
    G, D = build_nets(NetSpec((1, 8, 8), z_dim=Z), tiny("resnet", g_norm=norm, d_norm=norm))
    x = G(torch.randn(2, Z))
    assert x.shape == (2, 1, 8, 8) and D(x).logit.shape == (2,)


def test_unknown_architecture() -> None:
    with pytest.raises(ConfigError, match="'resnet'"):
        build_nets(NetSpec((1, 16, 16), z_dim=Z), tiny("resnett"))
