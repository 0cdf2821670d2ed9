"""MaskGAN: contiguous masking, the actor's fill, the per-token D loss, the critic's returns and advantages, the
fill_in metric, and a learning check on COCO captions."""
from __future__ import annotations

import json
import math
import warnings
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit.config import resolve
from gankit.data.text import TextOptions
from gankit.errors import ConfigError
from gankit.losses.sequence import critic_advantages, masked_mse, masked_token_bce
from gankit.metrics.base import Setting
from gankit.metrics.fill_in import FillIn
from gankit.nets.maskgan import MaskActor, contiguous_mask
from gankit.recipes.maskgan import MaskGAN, MaskGANArgs
from gankit.types import DataInfo
from tests.conftest import shared_file

EOS, PAD = 1, 0
# four sentences of 12 tokens: 10, 4 and 1 word(s) then <eos> and <pad>, and one without <eos>
TOKENS = torch.tensor([[5, 6, 7, 8, 9, 10, 5, 6, 7, 8, EOS, PAD],
                       [5, 6, 7, 8, EOS, PAD, PAD, PAD, PAD, PAD, PAD, PAD],
                       [9, EOS, PAD, PAD, PAD, PAD, PAD, PAD, PAD, PAD, PAD, PAD],
                       [5, 6, 7, 8, 9, 10, 5, 6, 7, 8, 9, 10]])
WORDS = torch.tensor([10, 4, 1, 12])  # tokens before <eos>


def test_contiguous_mask_is_one_block_before_eos() -> None:
    for u in (torch.zeros(4), torch.full((4,), 0.999), torch.tensor([0.3, 0.5, 0.7, 0.2])):
        masked = contiguous_mask(TOKENS, rate=0.5, eos=EOS, u=u)
        assert masked.sum(1).tolist() == [5, 2, 1, 6]  # round(rate * words), half up, at least one
        first = masked.float().argmax(1)
        for row in range(4):
            block = torch.arange(int(first[row]), int(first[row]) + int(masked[row].sum()))
            assert torch.equal(masked[row].nonzero()[:, 0], block)  # contiguous
            assert int(block[-1]) < WORDS[row]  # only tokens before <eos>
        if not u.any():
            assert first.tolist() == [0, 0, 0, 0]
        if bool((u > 0.99).all()):
            assert (first + masked.sum(1)).tolist() == WORDS.tolist()  # the last possible place
    assert contiguous_mask(TOKENS, rate=1.0, eos=EOS, u=torch.rand(4)).sum(1).tolist() == [10, 4, 1, 12]
    assert contiguous_mask(TOKENS, rate=0.1, eos=None, u=torch.zeros(4)).sum(1).tolist() == [1, 1, 1, 1]  # 1.2 -> 1


def tiny_recipe(**args) -> MaskGAN:  # noqa: ANN003
    tokens = ["<pad>", "<eos>", "<unk>", *[f"w{i}" for i in range(8)]]
    data = DataInfo("t", (12,), 0, "text", tokens=tokens)
    overrides = ["device=cpu", "model.g_width=8", "model.d_width=8", "model.embed_dim=4", "train.steps=10",
                 *[f"recipe_args.{k}={v}" for k, v in args.items()]]
    return gankit.api.build_recipe(resolve("maskgan", "digits", overrides), data, torch.device("cpu"))


def test_masks_are_deterministic_with_a_seed() -> None:
    recipe = tiny_recipe()
    one = recipe.masks(TOKENS, torch.Generator().manual_seed(3))
    assert torch.equal(one, recipe.masks(TOKENS, torch.Generator().manual_seed(3)))
    starts = {tuple(recipe.masks(TOKENS, torch.Generator().manual_seed(s)).float().argmax(1).tolist())
              for s in range(8)}
    assert len(starts) > 1  # the place moves with the seed


def test_a_share_of_sentences_is_blanked_whole() -> None:
    recipe = tiny_recipe(full_share=0.25)
    tokens = TOKENS.repeat(250, 1)  # 1000 sentences
    masked = recipe.masks(tokens, torch.Generator().manual_seed(0))
    whole = masked.all(1)
    assert 0.2 < float(whole.float().mean()) < 0.3  # about full_share of them, <eos> and padding too
    sizes = torch.tensor([5, 2, 1, 6]).repeat(250)  # the other sentences: their one block
    assert torch.equal(masked[~whole].sum(1), sizes[~whole])
    assert torch.equal(recipe.blocks(tokens, torch.Generator().manual_seed(0)).sum(1), sizes)  # blocks alone


def test_actor_copies_what_is_not_masked_and_fills_only_blanks() -> None:
    torch.manual_seed(0)
    G = MaskActor(11, 12, embed_dim=8, hidden=8, eos=EOS, pad=PAD)
    masked = contiguous_mask(TOKENS, rate=0.5, eos=EOS, u=torch.tensor([0.3, 0.5, 0.7, 0.2]))
    noise = torch.rand(4, 12)
    with torch.no_grad():
        filled = G.fill(TOKENS, masked, noise)
    assert torch.equal(filled, G.fill(TOKENS, masked, noise))  # the noise fixes the fill
    assert torch.equal(filled[~masked], TOKENS[~masked])
    # teacher forcing agrees with sampling: each blank's log-probability is that of the step-by-step logits
    encoded, state = G.encode(TOKENS, masked)
    token, expected = G.start(4), torch.zeros(4, 12)
    with torch.no_grad():
        for t in range(12):
            hidden, state = G.decoder(torch.cat([G.embed(token), encoded[:, t]], -1)[:, None], state)
            expected[:, t] = F.log_softmax(G.out(hidden[:, 0]), -1).gather(1, filled[:, t:t + 1])[:, 0]
            token = filled[:, t]
        chosen = masked.float() * G.mask(filled)
        torch.testing.assert_close(G.log_probs(filled, masked), expected * chosen, rtol=1e-5, atol=1e-5)


def test_actor_pads_after_eos() -> None:
    torch.manual_seed(0)
    G = MaskActor(11, 12, embed_dim=8, hidden=8, eos=EOS, pad=PAD)
    with torch.no_grad():
        x = G(torch.rand(64, 12))  # unconditional: a sentence of blanks
        after = (x == EOS).long().cumsum(1) - (x == EOS).long()
        assert bool((x[after > 0] == PAD).all()) and bool((x == EOS).any())
        G.out.bias[EOS] = 50.0  # G now always writes <eos>: the later blanks are <pad>, the rest still copied
        masked = torch.zeros_like(TOKENS, dtype=torch.bool)
        masked[0, 2:6] = True
        filled = G.fill(TOKENS, masked, torch.rand(4, 12))
    assert filled[0].tolist() == [5, 6, EOS, PAD, PAD, PAD, 5, 6, 7, 8, EOS, PAD]
    assert torch.equal(filled[1:], TOKENS[1:])


def test_masked_token_bce_by_hand() -> None:
    real = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    fake = torch.tensor([[-1.0, 3.0], [0.5, 0.0]])
    mask = torch.tensor([[True, False], [True, True]])  # three blanks
    softplus = lambda x: math.log1p(math.exp(x))  # noqa: E731
    real_part = (softplus(-0.0) + softplus(-1.0) + softplus(1.0)) / 3  # -log sigmoid(x) of the real blanks
    fake_part = (softplus(-1.0) + softplus(0.5) + softplus(0.0)) / 3  # -log(1 - sigmoid(x)) of the filled ones
    torch.testing.assert_close(masked_token_bce(real=real, fake=fake, mask=mask),
                               torch.tensor((real_part + fake_part) / 2))


def test_returns_and_advantages_by_hand() -> None:
    rewards = torch.tensor([[-1.0, -2.0, -3.0, -0.5]])
    values = torch.tensor([[0.1, -1.0, -2.0, 0.3]])
    mask = torch.tensor([[0.0, 1.0, 1.0, 0.0]])  # rewards count on the blanks only
    # R_3 = 0, R_2 = -3, R_1 = -2 + 0.5 * -3 = -3.5, R_0 = 0 + 0.5 * -3.5 = -1.75
    returns, advantages = critic_advantages(rewards=rewards, values=values, mask=mask, gamma=0.5)
    torch.testing.assert_close(returns, torch.tensor([[-1.75, -3.5, -3.0, 0.0]]))
    torch.testing.assert_close(advantages, torch.tensor([[0.0, -2.5, -1.0, 0.0]]))  # (R - V) on the blanks
    _, clipped = critic_advantages(rewards=rewards, values=values, mask=mask, gamma=0.5, clip=2.0)
    torch.testing.assert_close(clipped, torch.tensor([[0.0, -2.0, -1.0, 0.0]]))
    _, plain = critic_advantages(rewards=rewards, values=None, mask=mask, gamma=0.5)
    torch.testing.assert_close(plain, torch.tensor([[0.0, -3.5, -3.0, 0.0]]))
    # the critic's loss: squared error to the returns on the blanks, ((-1 + 3.5)^2 + (-2 + 3)^2) / 2
    torch.testing.assert_close(masked_mse(prediction=values, target=returns, mask=mask), torch.tensor(3.625))


def test_g_step_is_reinforce_with_the_critic_baseline() -> None:
    from gankit import distributed
    from gankit.types import Batch

    recipe = tiny_recipe(gamma=0.5)
    x = TOKENS.clamp(max=10)
    state = distributed.SHARED.state()
    loss = recipe.g_step(Batch(x=x), step=10)["pg"]
    distributed.SHARED.set_state(state)  # the same blanks and fills again, by hand
    masked, filled, chosen = recipe.filled(x)
    with torch.no_grad():
        rewards = F.logsigmoid(recipe.D(filled, masked).logit)
        values = recipe.critic(filled, masked)
    _, advantages = critic_advantages(rewards=rewards, values=values, mask=chosen, gamma=0.5, clip=5.0)
    expected = -(recipe.G.log_probs(filled, masked) * advantages * chosen).sum() / chosen.sum()
    torch.testing.assert_close(loss, expected)
    assert set(recipe.groups()) == {"G_mle", "G", "D", "critic"}
    assert "critic" not in tiny_recipe(critic="false").groups()


@pytest.mark.parametrize(("change", "match"), [
    ({"mask_rate": 0.0}, "recipe_args.mask_rate=0.0"),
    ({"gamma": 1.5}, "recipe_args.gamma=1.5"),
    ({"advantage_clip": -1.0}, "recipe_args.advantage_clip=-1.0"),
])
def test_bad_arguments_are_refused(change: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        MaskGANArgs(**change)


def test_other_losses_and_unknown_arguments_are_refused() -> None:
    tokens = ["<pad>", "<eos>", "<unk>", "a", "b"]
    data = DataInfo("t", (6,), 0, "text", tokens=tokens)
    with pytest.raises(ConfigError, match="loss='hinge'.*only loss=nonsat"):
        gankit.api.build_recipe(resolve("maskgan", "digits", ["loss=hinge"]), data, torch.device("cpu"))
    with pytest.raises(ConfigError, match="mask_rate"):
        gankit.api.build_recipe(resolve("maskgan", "digits", ["recipe_args.mask_rat=0.3"]), data, torch.device("cpu"))


def test_fill_in_metric_refuses_recipes_that_do_not_fill() -> None:
    setting = Setting(SimpleNamespace(seed=0), None, SimpleNamespace(kind="text", name="t"), SimpleNamespace())
    with pytest.raises(ConfigError, match="metric 'fill_in' .*maskgan"):
        FillIn().check(setting)


# --- learning: brief training on COCO captions against the untrained start --------------------------------------
COMMON = ["data.name=coco-captions", "data.vocab_size=1000", "data.max_length=12", "model.g_width=64",
          "model.embed_dim=32", "model.d_width=32", "train.batch_size=64", "train.progress=false", "device=cpu",
          "train.log_every=10", "train.checkpoint_every=1000", "train.sample_every=1000", "eval.every=0",
          "recipe_args.d_pretrain_share=0.1"]


@pytest.fixture(scope="module")
def coco_maskgan(tmp_path_factory):  # noqa: ANN001, ANN201
    """MaskGAN briefly on COCO captions (fill-in MLE, D and critic pre-training, then adversarial) and its untrained
    start (the same seed), each with its fill-in scores on the first 2000 test sentences."""
    root = str(shared_file("coco_captions_train.txt").parent)
    out = tmp_path_factory.mktemp("maskgan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # captions longer than 12 tokens are cut
        trained = gankit.train("maskgan", out=out / "trained", overrides=[*COMMON, "train.steps=160", f"data.root={root}"])
        test = gankit.data.load_dataset("coco-captions", split="test", root=root,
                                        text=TextOptions(vocab_size=1000, max_length=12))
    untrained = gankit.api.build_recipe(trained.config, trained.data, torch.device("cpu"))  # the run's start
    scores = {name: recipe.fill_scores(test.x[:2000], seed=0) for name, recipe in
              (("trained", trained.recipe), ("untrained", untrained))}
    return trained, scores


def test_maskgan_learns_to_fill_in_coco(coco_maskgan) -> None:  # noqa: ANN001
    trained, scores = coco_maskgan
    after, before = scores["trained"], scores["untrained"]
    assert before["fill_nll"] > math.log(1000) - 0.5  # untrained: about uniform over the vocabulary
    assert after["fill_nll"] < before["fill_nll"] - 1.5, scores  # nats per blank token (measured: 4.70 vs 6.90)
    assert after["fill_acc"] > before["fill_acc"] + 0.025, scores  # sampled fills (measured: 0.043 vs 0.001)
    rows = [json.loads(line) for line in (trained.path / "metrics.jsonl").read_text().splitlines()]
    d_acc = [r["D/d_acc"] for r in rows if "D/d_acc" in r]
    late = sum(d_acc[-3:]) / 3  # D tells real blanks from G's fills (measured: 0.54 at first, 0.63 at the end)
    assert len(d_acc) >= 5 and late > 0.57 and late > d_acc[0], d_acc


def test_fill_text_keeps_the_words_and_fills_the_blanks(coco_maskgan) -> None:  # noqa: ANN001
    trained = coco_maskgan[0]
    out = trained.recipe.fill_text(["a man riding a ___ down a street .", "a ___ ___ on a bench"], seed=1)
    first = out[0].split()
    assert len(first) == 9 and first[:4] == ["a", "man", "riding", "a"] and first[5:] == ["down", "a", "street", "."]
    assert first[4] != "___" and out == trained.recipe.fill_text(["a man riding a ___ down a street .",
                                                                    "a ___ ___ on a bench"], seed=1)
    with pytest.raises(ConfigError, match="sentence 0 has 13 tokens"):
        trained.recipe.fill_text([" ".join(["a"] * 13)])
