"""The FID InceptionV3: state-dict layout of pytorch-fid's file, weight lookup, loading errors, FID pooling.

No real weights are needed: a randomly initialised network saved to tmp_path stands in for
pt_inception-2015-12-05-6726825d.pth. Forwards at 299x299 are slow on a CPU, so batches
are 1-2 images.
"""
from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torchvision.models.inception import InceptionA

from gankit.errors import GankitError
from gankit.metrics.extractor import sha256_file
from gankit.metrics.inception import (WEIGHTS_FILE, WEIGHTS_URL, FIDInceptionA, FIDInceptionE, FIDInceptionV3,
                                      InceptionWeightsError, InceptionWeightsUnavailable, find_inception_weights,
                                      inception_available, load_inception)

# random stand-in weights are not the official file; load_inception says so with this warning
pytestmark = pytest.mark.filterwarnings("ignore:InceptionV3 weights .* have sha256:UserWarning")

# keys and shapes of pytorch-fid's pt_inception-2015-12-05-6726825d.pth: torchvision's
# inception_v3(num_classes=1008, aux_logits=False) (pytorch-fid src/pytorch_fid/inception.py,
# fid_inception_v3() loads the file into it with strict load_state_dict)
KNOWN_KEYS = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.running_var": (32,),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7b.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}
N_KEYS = 566  # 94 conv+bn blocks x 6 entries (bn.num_batches_tracked included) + fc weight and bias


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[FIDInceptionV3, Path]:
    """A randomly initialised network with non-trivial BN statistics, and its state dict on disk."""
    torch.manual_seed(0)
    net = FIDInceptionV3()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # defaults (mean 0, var 1) would hide loading mistakes
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("weights") / WEIGHTS_FILE
    torch.save(net.state_dict(), path)
    return net, path


@pytest.fixture()
def clean_env(monkeypatch, tmp_path) -> Path:
    """No $GANKIT_INCEPTION, and an empty torch.hub cache under tmp_path; returns TORCH_HOME."""
    monkeypatch.delenv("GANKIT_INCEPTION", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home"


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1  # grey, [-1, 1]


def test_state_dict_matches_pytorch_fid_layout():
    import torchvision
    shapes = {k: tuple(v.shape) for k, v in FIDInceptionV3().state_dict().items()}
    for key, shape in KNOWN_KEYS.items():
        assert shapes[key] == shape, key
    assert len(shapes) == N_KEYS
    reference = torchvision.models.inception_v3(num_classes=1008, aux_logits=False, init_weights=False, weights=None)
    assert shapes == {k: tuple(v.shape) for k, v in reference.state_dict().items()}


@pytest.mark.parametrize("route", ["path", "env", "hub"])
def test_load_routes_give_the_saved_network(route, saved, images, clean_env, monkeypatch):
    net, path = saved
    if route == "env":
        monkeypatch.setenv("GANKIT_INCEPTION", str(path))
    elif route == "hub":
        hub_file = clean_env / "hub" / "checkpoints" / WEIGHTS_FILE
        hub_file.parent.mkdir(parents=True)
        hub_file.write_bytes(path.read_bytes())
        assert find_inception_weights() == hub_file
    with pytest.warns(UserWarning, match="not comparable with published"):  # random weights are not the official file
        loaded = load_inception(path if route == "path" else None, download=False)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    assert loaded.protocol()["weights_sha256"] == sha256_file(path)
    if route == "path":  # one forward is enough: the state dicts are compared for every route
        torch.testing.assert_close(loaded(images[:1]), net(images[:1]), rtol=0, atol=0)
    loaded_state = loaded.state_dict()
    for key, value in net.state_dict().items():
        assert torch.equal(loaded_state[key], value), key


def test_output_shapes_grey_and_rgb(saved):
    net, _ = saved
    for shape in [(2, 1, 28, 28), (1, 3, 32, 32)]:
        features, logits = net(torch.rand(shape) * 2 - 1)
        assert features.shape == (shape[0], 2048) and logits.shape == (shape[0], 1008)
        assert features.dtype == logits.dtype == torch.float32
        # logits are pool3 @ fc.weight.T without the bias (torch-fidelity's logits_unbiased)
        torch.testing.assert_close(logits, features @ net.fc.weight.T)
    extracted, _ = net.extract(torch.rand(3, 1, 28, 28) * 2 - 1, batch_size=2)
    assert extracted.shape == (3, 2048)


def test_grey_is_repeated_to_rgb_and_resize_is_bilinear(saved, images):
    net, _ = saved
    rgb = F.interpolate(images.expand(-1, 3, -1, -1), size=(299, 299), mode="bilinear", align_corners=False)
    torch.testing.assert_close(net(images[:1])[0], net(rgb[:1])[0])
    assert "bilinear" in net.resize and "align_corners=False" in net.resize


def test_train_keeps_eval_mode(saved):
    net, _ = saved
    net.train()
    assert not net.training and not any(m.training for m in net.modules())


def test_uint8_images_rejected(saved):
    with pytest.raises(GankitError, match="uint8"):
        saved[0](torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


def test_missing_weights_without_download(clean_env):
    assert find_inception_weights() is None and not inception_available()
    with pytest.raises(InceptionWeightsUnavailable) as info:
        load_inception(download=False)
    message = str(info.value)
    assert WEIGHTS_URL in message and "domain" in message and "GANKIT_INCEPTION" in message
    assert str(clean_env / "hub" / "checkpoints") in message


def test_failed_download_says_where_to_put_the_file(clean_env, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(InceptionWeightsUnavailable) as info:
        load_inception()
    message = str(info.value)
    assert WEIGHTS_URL in message and "--features domain" in message and "no network" in message
    assert isinstance(info.value, GankitError)


def test_named_file_that_does_not_exist(clean_env, monkeypatch, tmp_path):
    with pytest.raises(InceptionWeightsUnavailable, match="nowhere.pth"):
        find_inception_weights(tmp_path / "nowhere.pth")
    monkeypatch.setenv("GANKIT_INCEPTION", str(tmp_path / "nowhere.pth"))
    with pytest.raises(InceptionWeightsUnavailable, match="GANKIT_INCEPTION"):
        inception_available()


@pytest.mark.parametrize("content", [b"not a checkpoint at all", "truncated"])
def test_unreadable_file_names_the_file(content, saved, tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(saved[1].read_bytes()[:100_000] if content == "truncated" else content)
    with pytest.raises(InceptionWeightsError, match="bad.pth"):
        load_inception(bad)


def test_wrong_state_dict_names_the_problem(saved, tmp_path):
    state = torch.load(saved[1], weights_only=True)
    del state["Mixed_7c.branch_pool.conv.weight"]
    state["fc.weight"] = state["fc.weight"][:1000]  # torchvision's ImageNet head, not the TF graph's
    bad = tmp_path / "wrong.pth"
    torch.save(state, bad)
    with pytest.raises(InceptionWeightsError, match="wrong.pth") as info:
        load_inception(bad)
    assert "Mixed_7c.branch_pool.conv.weight" in str(info.value) and "fc.weight (1000, 2048)" in str(info.value)
    torch.save({"state_dict": {}}, bad)
    with pytest.raises(InceptionWeightsError, match="not a state dict"):
        load_inception(bad)


def test_fid_pooling_leaves_padding_out_of_the_average():
    """TF's average pool divides border sums by the in-image count; torchvision's stock block by 9."""
    torch.manual_seed(0)
    fid_block, stock = FIDInceptionA(4, pool_features=2), InceptionA(4, pool_features=2)
    fid_block.branch_pool.conv.weight.data.abs_()  # positive responses: the ReLU cannot hide the difference
    stock.load_state_dict(fid_block.state_dict())
    x = torch.ones(1, 4, 5, 5)  # constant input: the TF pool returns it unchanged, the stock one darkens the borders
    pooled = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    torch.testing.assert_close(pooled, x)
    fid_out, stock_out = fid_block.eval()(x), stock.eval()(x)
    pool_channels = slice(-2, None)  # the pool branch's outputs are concatenated last
    torch.testing.assert_close(fid_out[:, :-2], stock_out[:, :-2])  # the other branches are the same
    torch.testing.assert_close(fid_out[:, pool_channels, 2, 2], stock_out[:, pool_channels, 2, 2])  # interior
    assert not torch.allclose(fid_out[:, pool_channels, 0, 0], stock_out[:, pool_channels, 0, 0])  # corner
    corner = F.relu(fid_block.branch_pool.bn(fid_block.branch_pool.conv(x)))[:, :, 0, 0]
    torch.testing.assert_close(fid_out[:, pool_channels, 0, 0], corner)


def test_second_e_block_max_pools():
    torch.manual_seed(0)
    block = FIDInceptionE(8, pool="max").eval()
    x = torch.randn(1, 8, 4, 4)
    expected = block.branch_pool(F.max_pool2d(x, 3, stride=1, padding=1))
    torch.testing.assert_close(block(x)[:, -192:], expected)
    with pytest.raises(ValueError, match="'avg' or 'max'"):
        FIDInceptionE(8, pool="mean")
