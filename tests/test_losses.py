"""Adversarial losses, penalties and auxiliary terms against values computed by hand."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gankit.errors import ConfigError
from gankit.losses import LOSSES, PENALTIES, GradientPenalty, R1, R2, WeightClip, get_loss
from gankit.losses.penalties import LabelledCritic, gradient_penalty_at
from gankit.recipes.infogan import CodeLayout, MutualInformation
from gankit.losses.terms import TERMS, Classification, Context
from gankit.types import DOut
from gankit.distributed import batch_rand
from tests.conftest import seed_all

REAL = [2.0, -1.0]
FAKE = [0.5, -3.0]


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def scalar(v: float) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64)


# D(x) = sigmoid(logit). Each entry: (d(real, fake), g(fake)) written from the papers' formulas.
EXPECTED = {
    # D: -E log D(x) - E log(1 - D(G(z)));  G (minimax): E log(1 - D(G(z)))
    "minimax": (mean([-math.log(sigmoid(r)) for r in REAL]) + mean([-math.log(1 - sigmoid(f)) for f in FAKE]),
                mean([math.log(1 - sigmoid(f)) for f in FAKE])),
    # same D; G (non-saturating): -E log D(G(z))
    "nonsat": (mean([-math.log(sigmoid(r)) for r in REAL]) + mean([-math.log(1 - sigmoid(f)) for f in FAKE]),
               mean([-math.log(sigmoid(f)) for f in FAKE])),
    # LSGAN 0-1-1: 1/2 E (D(x) - 1)^2 + 1/2 E D(G(z))^2;  G: 1/2 E (D(G(z)) - 1)^2
    "lsgan": (0.5 * mean([(r - 1) ** 2 for r in REAL]) + 0.5 * mean([f**2 for f in FAKE]),
              0.5 * mean([(f - 1) ** 2 for f in FAKE])),
    # WGAN critic: E D(G(z)) - E D(x);  G: -E D(G(z))
    "wasserstein": (mean(FAKE) - mean(REAL), -mean(FAKE)),
    # hinge: E max(0, 1 - D(x)) + E max(0, 1 + D(G(z)));  G: -E D(G(z))
    "hinge": (mean([max(0.0, 1 - r) for r in REAL]) + mean([max(0.0, 1 + f) for f in FAKE]), -mean(FAKE)),
}


def test_registry_holds_exactly_the_five_losses_the_pairing_loss_and_the_f_divergences() -> None:
    from gankit.losses.adversarial import F_DIVERGENCES  # checked against the f-GAN paper in test_fgan.py

    assert LOSSES.names() == sorted([*EXPECTED, "relativistic", *(f.name for f in F_DIVERGENCES)])
    assert [n for n in LOSSES.names() if LOSSES.get(n).pairs] == ["relativistic"]


def test_relativistic_pairing_loss_by_hand() -> None:
    """RpGAN (R3GAN's loss) pairs row i of real with row i of fake: D: mean softplus(f_i - r_i), i.e.
    -log sigmoid(r_i - f_i); G: mean softplus(r_i - f_i). REAL - FAKE = (1.5, 2)."""
    loss = get_loss("relativistic")
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    d_by_hand = (math.log1p(math.exp(-1.5)) + math.log1p(math.exp(-2.0))) / 2
    g_by_hand = (math.log1p(math.exp(1.5)) + math.log1p(math.exp(2.0))) / 2
    assert_close(loss.d(real=real, fake=fake), scalar(d_by_hand), rtol=1e-12, atol=0)
    assert_close(loss.g(fake=fake, real=real), scalar(g_by_hand), rtol=1e-12, atol=0)
    # pairing: the same scores in another order give another loss (an unpaired loss would not change)
    assert not torch.isclose(loss.d(real=real, fake=fake.flip(0)), loss.d(real=real, fake=fake))
    with pytest.raises(TypeError):  # G's side needs the real scores
        loss.g(fake=fake)


# The same five losses at REAL = (2, -1), FAKE = (0.5, -3), worked out on paper to plain numbers (no formula
# shared with EXPECTED): a wrong sign or a missing 1/2 in both EXPECTED and gankit would still be caught here.
SP = math.log1p  # softplus(v) = log(1 + e^v) = SP(e^v)
PLAIN_NUMBERS = {
    # D: (softplus(-2) + softplus(1)) / 2 + (softplus(0.5) + softplus(-3)) / 2;  G: -(softplus(0.5) + softplus(-3)) / 2
    "minimax": ((SP(math.exp(-2)) + SP(math.e) + SP(math.exp(0.5)) + SP(math.exp(-3))) / 2,
                -(SP(math.exp(0.5)) + SP(math.exp(-3))) / 2),
    # G: (softplus(-0.5) + softplus(3)) / 2
    "nonsat": ((SP(math.exp(-2)) + SP(math.e) + SP(math.exp(0.5)) + SP(math.exp(-3))) / 2,
               (SP(math.exp(-0.5)) + SP(math.exp(3))) / 2),
    "lsgan": (3.5625, 4.0625),  # D: 0.5 (1 + 4)/2 + 0.5 (0.25 + 9)/2;  G: 0.5 (0.25 + 16)/2
    "wasserstein": (-1.75, 1.25),  # D: -1.25 - 0.5;  G: 1.25
    "hinge": (1.75, 1.25),  # D: (0 + 2)/2 + (1.5 + 0)/2;  G: 1.25
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_losses_equal_numbers_worked_out_by_hand(name: str) -> None:
    loss = get_loss(name)
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    d_expected, g_expected = PLAIN_NUMBERS[name]
    assert_close(loss.d(real=real, fake=fake), scalar(d_expected), rtol=1e-12, atol=0)
    assert_close(loss.g(fake=fake), scalar(g_expected), rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_loss_values(name: str, dtype: torch.dtype) -> None:
    loss = get_loss(name)
    real, fake = torch.tensor(REAL, dtype=dtype), torch.tensor(FAKE, dtype=dtype)
    d_expected, g_expected = EXPECTED[name]
    d, g = loss.d(real=real, fake=fake), loss.g(fake=fake)
    assert d.shape == () and g.shape == () and d.dtype == dtype and g.dtype == dtype
    assert_close(d, torch.tensor(d_expected, dtype=dtype))
    assert_close(g, torch.tensor(g_expected, dtype=dtype))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_losses_are_keyword_only(name: str) -> None:
    loss = get_loss(name)
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    with pytest.raises(TypeError):
        loss.d(real, fake)
    with pytest.raises(TypeError):
        loss.g(fake)


def test_bce_is_stable_for_large_logits() -> None:
    """softplus form: -log sigmoid(100) ~ exp(-100) and -log(1 - sigmoid(100)) ~ 100, no inf/nan."""
    big = torch.tensor([100.0])
    nonsat = get_loss("nonsat")
    assert_close(nonsat.d(real=big, fake=big), torch.tensor(100.0))  # softplus(-100) + softplus(100)
    assert_close(nonsat.g(fake=-big), torch.tensor(100.0))  # -log sigmoid(-100) = 100 + log1p(e^-100)
    assert_close(get_loss("minimax").g(fake=big), torch.tensor(-100.0))  # log(1 - sigmoid(100))


def test_loss_gradients_match_hand_derivatives() -> None:
    """d/df of nonsat G at f: -(1 - sigmoid(f)) / B; of hinge D wrt real r: -1/B where r < 1, else 0."""
    fake = torch.tensor(FAKE, requires_grad=True)
    get_loss("nonsat").g(fake=fake).backward()
    assert_close(fake.grad, torch.tensor([-(1 - sigmoid(f)) / 2 for f in FAKE]))
    real = torch.tensor(REAL, requires_grad=True)
    get_loss("hinge").d(real=real, fake=torch.tensor(FAKE)).backward()
    assert_close(real.grad, torch.tensor([0.0, -0.5]))


def test_unknown_loss_suggests_nearest() -> None:
    with pytest.raises(ConfigError, match="'hinge'"):
        get_loss("hinj")


# ---------------------------------------------------------------- penalties

W = torch.tensor([[[1.0, 2.0], [2.0, 4.0]]])  # (1, 2, 2), ||W|| = sqrt(1 + 4 + 4 + 16) = 5


def linear_critic(x: torch.Tensor) -> torch.Tensor:
    """critic(x) = <x, W> per sample: its input gradient is W everywhere."""
    return (x * W).flatten(1).sum(1)


def test_registered_penalties() -> None:
    assert PENALTIES.names() == ["clip", "drift", "gp", "r1", "r2"]
    assert [PENALTIES.get(n) for n in ("gp", "r1", "r2", "clip")] == [GradientPenalty, R1, R2, WeightClip]


def test_gradient_penalty_linear_critic_is_exact() -> None:
    seed_all(0)
    real, fake = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    for weight, target in [(10.0, 1.0), (2.5, 3.0)]:
        gp = GradientPenalty(weight=weight, target=target)
        for step in range(3):  # any interpolation gives the same gradient W
            out = gp.loss(critic=linear_critic, real=real, fake=fake, step=step)
            assert_close(out, torch.tensor(weight * (5.0 - target) ** 2))
    assert_close(GradientPenalty().loss(critic=linear_critic, real=real, fake=fake, step=0), torch.tensor(160.0))


def test_gradient_penalty_at_quadratic_critic() -> None:
    """critic(x) = 1/2 ||x||^2 has gradient x: penalty = mean((||x_i|| - target)^2)."""
    def critic(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.pow(2).flatten(1).sum(1)

    x = torch.tensor([[3.0, 4.0], [0.0, 0.5], [1.0, 1.0]])  # norms 5, 0.5, sqrt(2)
    norms = [5.0, 0.5, math.sqrt(2.0)]
    assert_close(gradient_penalty_at(critic, x), torch.tensor(mean([(n - 1) ** 2 for n in norms])))
    assert_close(gradient_penalty_at(critic, x, target=2.0), torch.tensor(mean([(n - 2) ** 2 for n in norms])))
    assert_close(gradient_penalty_at(critic, x), torch.tensor((16.0 + 0.25 + (math.sqrt(2) - 1) ** 2) / 3))


def test_gradient_penalty_interpolates_between_real_and_fake() -> None:
    """With the quadratic critic the penalty reveals x_hat: real = fake = v gives exactly (||v|| - 1)^2."""
    def critic(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.pow(2).flatten(1).sum(1)

    v = torch.tensor([[3.0, 4.0], [0.6, 0.8]])  # norms 5 and 1
    out = GradientPenalty(weight=1.0).loss(critic=critic, real=v, fake=v.clone(), step=0)
    assert_close(out, torch.tensor((16.0 + 0.0) / 2))
    # real = v, fake = 0: x_hat = alpha * v, so each norm is alpha_i * ||v_i||, alpha_i in [0, 1)
    seed_all(123)
    out = GradientPenalty(weight=1.0).loss(critic=critic, real=v, fake=torch.zeros_like(v), step=0)
    seed_all(123)
    alpha = batch_rand(2, 1)
    assert_close(out, ((alpha.squeeze(1) * torch.tensor([5.0, 1.0]) - 1) ** 2).mean())


def test_gradient_penalty_every() -> None:
    real, fake = torch.randn(2, 1, 2, 2), torch.randn(2, 1, 2, 2)
    gp = GradientPenalty(weight=10.0, every=2)
    for step in range(6):
        out = gp.loss(critic=linear_critic, real=real, fake=fake, step=step)
        if step % 2:
            assert out is None
        else:  # scaled by `every` so the average over steps is unchanged
            assert_close(out, torch.tensor(10.0 * 2 * (5.0 - 1.0) ** 2))


def test_r1_linear_critic() -> None:
    real = torch.randn(4, 1, 2, 2)
    fake = torch.randn(4, 1, 2, 2)
    assert_close(R1(weight=10.0).loss(critic=linear_critic, real=real, fake=fake, step=7), torch.tensor(0.5 * 10 * 25.0))
    lazy = R1(weight=2.0, every=4)
    assert lazy.loss(critic=linear_critic, real=real, fake=fake, step=3) is None
    assert_close(lazy.loss(critic=linear_critic, real=real, fake=fake, step=8), torch.tensor(0.5 * 2 * 4 * 25.0))


def test_r1_quadratic_critic_uses_real_only() -> None:
    """grad = x: R1 = weight/2 * mean ||x_real||^2, whatever the fakes are."""
    def critic(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.pow(2).sum(1)

    real = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    out = R1(weight=1.0).loss(critic=critic, real=real, fake=torch.full((2, 2), 100.0), step=0)
    assert_close(out, torch.tensor(0.5 * (25.0 + 1.0) / 2))


def test_r2_uses_the_generated_samples_and_their_critic() -> None:
    """R2 = weight/2 * mean ||grad D(G(z))||^2, through ``critic.for_fake`` (D with the generated samples' labels)."""
    def critic(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.pow(2).sum(1)

    def doubled(x: torch.Tensor) -> torch.Tensor:  # a critic with other labels: grad = 2x
        return x.pow(2).sum(1)

    fake = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    out = R2(weight=1.0).loss(critic=critic, real=torch.full((2, 2), 100.0), fake=fake, step=0)
    assert_close(out, torch.tensor(0.5 * (25.0 + 1.0) / 2))
    with_labels = R2(weight=1.0).loss(critic=LabelledCritic(critic, doubled), real=fake, fake=fake, step=0)
    assert_close(with_labels, torch.tensor(0.5 * 4 * (25.0 + 1.0) / 2))
    assert R2(weight=1.0, every=2).loss(critic=critic, real=fake, fake=fake, step=1) is None


def test_weight_clip_constrains_parameters() -> None:
    lin = nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.5, -0.005, 0.02], [-0.3, 0.01, 0.0]]))
        lin.bias.copy_(torch.tensor([-0.02, 0.003]))
    clip = WeightClip(clip=0.01)
    assert clip.loss(critic=linear_critic, real=torch.zeros(1), fake=torch.zeros(1), step=0) is None
    clip.constrain(lin)
    assert_close(lin.weight.detach(), torch.tensor([[0.01, -0.005, 0.01], [-0.01, 0.01, 0.0]]))
    assert_close(lin.bias.detach(), torch.tensor([-0.01, 0.003]))
    assert lin.weight.requires_grad  # still a trainable parameter


def test_gradient_penalty_backpropagates_into_critic_weights() -> None:
    """Linear critic w: penalty = weight (||w|| - 1)^2, so d/dw = 2 weight (||w|| - 1) w / ||w||."""
    lin = nn.Linear(4, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 2.0, 2.0, 4.0]]))  # norm 5
    real, fake = torch.randn(3, 4), torch.randn(3, 4)
    out = GradientPenalty(weight=10.0).loss(critic=lambda x: lin(x).squeeze(1), real=real, fake=fake, step=0)
    assert_close(out, torch.tensor(160.0))
    out.backward()
    assert_close(lin.weight.grad, 2 * 10.0 * 4.0 / 5.0 * torch.tensor([[1.0, 2.0, 2.0, 4.0]]))


def test_gradient_penalty_double_backward_matches_finite_differences() -> None:
    """A nonlinear critic: autograd's gradient of the penalty wrt a weight equals central differences."""
    seed_all(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    x = torch.randn(6, 3, dtype=torch.float64)

    def penalty() -> torch.Tensor:
        return gradient_penalty_at(lambda v: net(v).squeeze(1), x)

    penalty().backward()
    grad = net[0].weight.grad.clone()
    assert torch.isfinite(grad).all() and grad.abs().max() > 1e-3
    eps = 1e-6
    # finite differences need the graph (input gradients), so evaluate outside no_grad
    for idx in [(0, 0), (2, 1), (4, 2), (1, 2)]:
        w0 = net[0].weight[idx].item()
        with torch.no_grad():
            net[0].weight[idx] = w0 + eps
        plus = penalty().item()
        with torch.no_grad():
            net[0].weight[idx] = w0 - eps
        minus = penalty().item()
        with torch.no_grad():
            net[0].weight[idx] = w0
        assert_close(grad[idx], torch.tensor((plus - minus) / (2 * eps), dtype=torch.float64), rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------- auxiliary terms


def cross_entropy(logits: list[float], target: int) -> float:
    """-log softmax(logits)[target]."""
    return -logits[target] + math.log(sum(math.exp(v) for v in logits))


def dout(aux: list[list[float]]) -> DOut:
    return DOut(logit=torch.zeros(len(aux)), features=torch.zeros(len(aux), 1), aux=torch.tensor(aux))


def test_classification_term() -> None:
    real_aux = [[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]]
    fake_aux = [[1.0, -1.0, 0.0], [0.0, 3.0, 0.0]]
    y_real, y_fake = [0, 2], [1, 1]
    ctx = Context(z=torch.zeros(2, 4), y_real=torch.tensor(y_real), y_fake=torch.tensor(y_fake),
                  d_real=dout(real_aux), d_fake=dout(fake_aux))
    ce_real = mean([cross_entropy(a, t) for a, t in zip(real_aux, y_real)])
    ce_fake = mean([cross_entropy(a, t) for a, t in zip(fake_aux, y_fake)])
    term = Classification(weight=0.5)
    assert_close(term.d(ctx), torch.tensor(0.5 * (ce_real + ce_fake)))
    assert_close(term.g(ctx), torch.tensor(0.5 * ce_fake))
    # the numbers themselves: row 1 of fake, target 1 -> -3 + log(1 + e^3 + 1)
    assert cross_entropy(fake_aux[1], 1) == pytest.approx(-3 + math.log(2 + math.exp(3)))
    assert (term.aux_dim(7), term.needs_labels(), TERMS.get("classification")) == (7, True, Classification)


def test_mutual_information_term() -> None:
    layout = CodeLayout(noise_dim=2, cat_dims=(3,), n_cont=1)
    assert layout.total == 6 and layout.cat_slices() == [slice(2, 5)] and layout.cont_slice() == slice(5, 6)
    assert layout.names() == ["cat0", "cont0"]
    # z = [noise0, noise1 | one-hot cat (3) | cont]; q = [cat logits (3) | cont mean]
    z = torch.tensor([[0.3, -0.2, 0.0, 1.0, 0.0, 0.5],
                      [1.0, 2.0, 0.0, 0.0, 1.0, -0.8]])
    q = torch.tensor([[1.0, 2.0, 0.0, 0.2],
                      [0.0, -1.0, 1.5, -0.5]])
    ce = mean([cross_entropy([1.0, 2.0, 0.0], 1), cross_entropy([0.0, -1.0, 1.5], 2)])
    gauss = mean([0.5 * (0.2 - 0.5) ** 2, 0.5 * (-0.5 + 0.8) ** 2])  # unit-variance Gaussian NLL without constant
    term = MutualInformation(layout, weight=2.0, cont_weight=0.25)
    expected = torch.tensor(2.0 * (ce + 0.25 * gauss))
    assert_close(term.loss(z, q), expected)
    ctx = Context(z=z, y_real=None, y_fake=None, d_real=None, d_fake=DOut(torch.zeros(2), torch.zeros(2, 1), q))
    assert_close(term.d(ctx), expected)
    assert_close(term.g(ctx), expected)
    assert_close(MutualInformation(layout).loss(z, q), torch.tensor(ce + 0.1 * gauss))  # defaults 1.0 / 0.1


def test_mutual_information_two_categorical_codes() -> None:
    """Each categorical code is scored on its own slice of q."""
    layout = CodeLayout(noise_dim=1, cat_dims=(2, 3), n_cont=0)
    z = torch.tensor([[9.0, 0.0, 1.0, 1.0, 0.0, 0.0]])
    q = torch.tensor([[0.5, -0.5, 0.0, 1.0, 2.0]])
    expected = cross_entropy([0.5, -0.5], 1) + cross_entropy([0.0, 1.0, 2.0], 0)
    assert_close(MutualInformation(layout).loss(z, q), torch.tensor(expected))
