"""Text data, the text networks and recipes (mle, seqgan, relgan), their metrics and the CLI for sentences."""
from __future__ import annotations

import math
import warnings

import pytest
import torch

import gankit
from gankit.cli import main
from gankit.data import load_dataset
from gankit.data.text import TextOptions, Vocabulary, load_text, tokenize
from gankit.errors import DataError
from gankit.nets.text import TextDiscriminator, TextGenerator, filters, pick, SEQGAN_FILTERS
from tests.conftest import shared_file

QUICK = ["train.progress=false", "device=cpu", "train.log_every=50", "train.checkpoint_every=1000",
         "train.sample_every=1000", "eval.every=0"]


def write(path, lines: list[str]):  # noqa: ANN001, ANN201
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_vocabulary_orders_words_by_count_and_caps_it() -> None:
    sentences = [tokenize(line) for line in ["the cat sat .", "the dog sat .", "a cat ran !"]]
    vocab = Vocabulary.build(sentences, TextOptions(), "t")
    assert vocab.tokens[:3] == ["<pad>", "<eos>", "<unk>"]
    assert vocab.tokens[3:7] == ["the", "cat", "sat", "."]  # counts 2, 2, 2, 2 in order of first appearance
    capped = Vocabulary.build(sentences, TextOptions(vocab_size=6), "t")
    assert capped.tokens == ["<pad>", "<eos>", "<unk>", "the", "cat", "sat"]
    x = capped.encode(sentences, 4)  # (3, 4 + 1): ids, <eos>, <pad>
    assert x[2].tolist() == [capped.unk, capped.index["cat"], capped.unk, capped.unk, capped.eos]
    assert capped.decode(x[:1]) == ["the cat sat <unk>"]
    assert Vocabulary.build(sentences, TextOptions(min_count=2), "t").tokens == [
        "<pad>", "<eos>", "<unk>", "the", "cat", "sat", "."]


def test_tokenize_splits_punctuation_from_words() -> None:
    assert tokenize("a garage, with cars.") == ["a", "garage", ",", "with", "cars", "."]


def test_held_out_split_and_test_file(tmp_path) -> None:  # noqa: ANN001
    lines = [f"sentence number {i} here" for i in range(40)]
    single = write(tmp_path / "one.txt", lines)
    train = load_dataset(str(single), split="train")
    test = load_dataset(str(single), split="test")
    assert (len(train), len(test)) == (36, 4)  # a fixed tenth held out
    assert train.tokens == test.tokens  # one vocabulary, from the training split
    folder = tmp_path / "corpus"
    folder.mkdir()
    write(folder / "train.txt", lines[:30])
    write(folder / "test.txt", ["sentence number 99 unseen"])
    test = load_dataset(str(folder), split="test")
    vocab = Vocabulary(test.tokens)
    assert vocab.words(test.x[0].tolist()) == ["sentence", "number", "<unk>", "<unk>"]


def test_long_lines_are_cut_with_a_warning_naming_the_count(tmp_path) -> None:  # noqa: ANN001
    path = write(tmp_path / "t.txt", ["a b c d e f", "a b", "a b c d", "b a"])
    with pytest.warns(UserWarning, match="2 of 4 all sentences are longer than data.max_length=3"):
        data = load_text(path, None, name="t", split="all", options=TextOptions(max_length=3))
    assert data.x.shape == (4, 4) and data.x[0, -1] == Vocabulary(data.tokens).eos


@pytest.mark.parametrize(("content", "match"), [
    (b"", "holds no sentences"),
    (b"\n  \n", "holds no sentences"),
    (b"good line\n\xff\xfe bad bytes\n", "is not UTF-8 text .*line 2"),
    (b"same same same\n", "vocabulary would hold 1 word"),
])
def test_bad_text_files_are_refused(tmp_path, content: bytes, match: str) -> None:  # noqa: ANN001
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        load_dataset(str(path))


def test_a_vocabulary_too_small_is_refused() -> None:
    with pytest.raises(DataError, match="data.vocab_size=4"):
        TextOptions(vocab_size=4)


@pytest.mark.parametrize(("preset", "data", "match"), [
    ("dcgan", "TEXT", "trains on image, points or .* data, but data set .* is text data; use a recipe for text "
                      "data \\(.*mle.*seqgan"),
    ("seqgan", "digits", "trains on text data, but data set 'digits' is image data"),
    ("mle", "EMPTY", "holds no sentences"),
])
def test_cli_refuses_wrong_kinds_and_bad_files_writing_nothing(tmp_path, capsys, preset: str, data: str,  # noqa: ANN001
                                                               match: str) -> None:
    text = write(tmp_path / "t.txt", ["a small corpus of words", "with two lines"])
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    data = {"TEXT": str(text), "EMPTY": str(empty)}.get(data, data)
    out = tmp_path / "run"
    assert main(["train", preset, "--data", data, "--out", str(out), "train.steps=1", "device=cpu"]) == 2
    assert not out.exists()
    assert __import__("re").search(match, capsys.readouterr().err)


def test_generator_sampling_is_the_inverse_cdf_and_pads_after_eos() -> None:
    torch.manual_seed(0)
    logits = torch.tensor([[0.0, math.log(3.0)], [2.0, -1.0]])  # probabilities (1/4, 3/4) and (0.95, 0.05)
    assert pick(logits, torch.tensor([0.2, 0.2])).tolist() == [0, 0]
    assert pick(logits, torch.tensor([0.3, 0.96])).tolist() == [1, 1]
    G = TextGenerator(7, 12, embed_dim=8, hidden=8, eos=1, pad=0)
    z = torch.rand(64, 12)
    x = G(z)
    assert torch.equal(x, G(z)) and x.shape == (64, 12)  # a latent fixes the sentence
    after = (x == 1).long().cumsum(1) - (x == 1).long()  # an <eos> earlier in the row
    assert bool((x[after > 0] == 0).all()) and bool((x == 1).any())
    mask = G.mask(x)
    assert torch.equal(mask, (after == 0).float())
    # teacher forcing agrees with sampling: the chosen tokens' log-probabilities are those of the step-by-step logits
    state, token, total = None, G.start(64), torch.zeros(64)
    with torch.no_grad():
        for t in range(12):
            logits, state = G.step(token, state)
            total += torch.log_softmax(logits, -1).gather(1, x[:, t:t + 1])[:, 0] * mask[:, t]
            token = x[:, t]
        torch.testing.assert_close(G.log_probs(x).sum(1), total, rtol=1e-5, atol=1e-5)


def test_discriminator_reads_ids_and_one_hot_rows_alike() -> None:
    torch.manual_seed(0)
    D = TextDiscriminator(11, filters(SEQGAN_FILTERS, 6, 10), embed_dim=4).eval()
    x = torch.randint(0, 11, (5, 6))
    torch.testing.assert_close(D(x).logit, D(torch.nn.functional.one_hot(x, 11).float()).logit)
    assert [conv.kernel_size[0] for conv in D.convs] == [1, 2, 3, 4, 5, 6]  # widths up to the length
    multi = TextDiscriminator(11, filters(SEQGAN_FILTERS, 6, 10), embed_dim=4, representations=3)
    assert multi(x).logit.shape == (5, 3)


def test_oracle_is_fixed_and_its_data_far_likelier_than_uniform() -> None:
    from gankit.data.oracle import VOCAB, oracle_net, oracle_nll

    data = load_dataset("oracle", split="test")
    assert data.x.shape == (10_000, 20) and len(data.tokens) == VOCAB
    real = oracle_nll(data.x[:500])
    assert 5.0 < real < 7.0 < math.log(VOCAB)  # SeqGAN's oracle data: about 5.7 nats a token; uniform 8.5
    shuffled = data.x[:500].flatten()[torch.randperm(500 * 20, generator=torch.Generator().manual_seed(0))]
    assert oracle_nll(shuffled.view(500, 20)) > real + 2.0  # the same tokens out of order are far less likely
    assert float(next(oracle_net().parameters()).flatten()[0]) == float(next(oracle_net().parameters()).flatten()[0])


@pytest.fixture(scope="module")
def coco_runs(tmp_path_factory):  # noqa: ANN001, ANN201
    """MLE on COCO captions briefly, and its untrained start (the same seed)."""
    root = shared_file("coco_captions_train.txt").parent
    out = tmp_path_factory.mktemp("coco")
    common = ["data.name=coco-captions", f"data.root={root}", "data.vocab_size=2000", "data.max_length=16", "model.g_width=64",
              "model.embed_dim=32", "train.batch_size=64", "eval.n=300", *QUICK]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # captions longer than 16 tokens are cut
        trained = gankit.train("mle", out=out / "mle", overrides=[*common, "train.steps=300"])
        untrained = gankit.train("mle", out=out / "untrained", overrides=[*common, "train.steps=1", "optim.lr=1e-12"])
    return trained, untrained


def test_mle_learns_coco_captions(coco_runs) -> None:  # noqa: ANN001
    trained, untrained = coco_runs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        after = trained.evaluate(["nll_test", "bleu", "self_bleu"])
        before = untrained.evaluate(["nll_test", "bleu"])
    assert after["eval/nll_test"] < before["eval/nll_test"] - 2.5  # nats per token: log(2000) = 7.6 untrained
    assert after["eval/bleu2"] > before["eval/bleu2"] + 0.2
    assert 0.0 < after["eval/self_bleu4"] < 1.0
    assert "Texygen" in after["protocol"]["bleu"]


def test_sample_prints_and_writes_sentences(coco_runs, tmp_path, capsys) -> None:  # noqa: ANN001
    trained, _ = coco_runs
    assert main(["sample", str(trained.path), "--n", "5", "--seed", "1", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 5 and printed == trained.sentences(5, seed=1)
    out = tmp_path / "s.txt"
    assert main(["sample", str(trained.path), "--n", "20", "--temperature", "0.5", "--out", str(out), "--seed", "2",
                 "--device", "cpu"]) == 0
    cold = out.read_text().splitlines()
    assert len(cold) == 20 and "wrote 20 sentences" in capsys.readouterr().out
    assert cold == trained.sentences(20, seed=2, temperature=0.5)
    # a lower temperature: likelier, so more repeated sentences and words than at 1.5
    hot = trained.sentences(20, seed=2, temperature=1.5)
    assert len(set(" ".join(cold).split())) < len(set(" ".join(hot).split()))
    assert main(["sample", str(trained.path), "--temperature", "0", "--device", "cpu"]) == 2
    assert "must be > 0" in capsys.readouterr().err
    # the vocabulary travels with the run: the loaded run decodes its own samples
    assert gankit.load(trained.path, device="cpu").data.tokens == trained.data.tokens


def test_quality_diversity_curve(coco_runs, tmp_path, capsys) -> None:  # noqa: ANN001
    trained, untrained = coco_runs
    from gankit import quality_diversity as qd

    rows = qd.curve([trained], [0.5, 1.0, 1.5], n=60, seed=0)
    self5 = [r["self_bleu5"] for r in rows]
    assert self5[0] > self5[1] > self5[2]  # colder: less diverse
    out = tmp_path / "qd.png"
    assert main(["quality-diversity", str(trained.path), str(untrained.path), "--temperatures", "0.7,1",
                 "--n", "30", "--out", str(out), "--device", "cpu"]) == 0
    assert out.stat().st_size > 1000 and capsys.readouterr().out.count("| mle |") == 4


def test_report_shows_sentences_over_training(coco_runs) -> None:  # noqa: ANN001
    trained, _ = coco_runs
    page = (trained.path / "report.html").read_text()
    kept = sorted((trained.path / "samples").glob("step_*.txt"))
    assert [p.name for p in kept] == ["step_0000300.txt"]  # train.sample_every is past the end: the last step's
    first = kept[-1].read_text().splitlines()[0]
    assert "Sentences from a fixed latent over training" in page and __import__("html").escape(first) in page


@pytest.mark.parametrize(("preset", "extra"), [
    ("seqgan", ["recipe_args.mle_share=0.75", "recipe_args.d_pretrain_share=0.0625", "recipe_args.rollouts=2",
                "recipe_args.d_steps=2"]),
    ("relgan", ["recipe_args.mle_share=0.75", "recipe_args.representations=2", "recipe_args.d_steps=2"]),
])
def test_text_gans_learn_the_oracle(tmp_path, preset: str, extra: list[str]) -> None:  # noqa: ANN001
    """120 steps of maximum likelihood, then 40 adversarial ones (seqgan: 10 of them D's pre-training): the oracle
    finds the samples far likelier than the untrained G's (the same seed), and the adversarial phase ran."""
    from gankit.bench import learning_scores

    run = gankit.train(preset, out=tmp_path / preset, overrides=[
        "train.steps=160", "train.batch_size=32", "model.d_width=10", "eval.n=500", *extra, *QUICK])
    trained, untrained = learning_scores(run)
    assert trained["nll_oracle"] < untrained["nll_oracle"] - 1.0, (trained, untrained)
    assert trained["nll_test"] < untrained["nll_test"] - 0.5, (trained, untrained)
    rows = [__import__("json").loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    adversarial = [r for r in rows if "G/adv" in r or "G/pg" in r]
    assert [r["step"] for r in adversarial] == [150, 160] and math.isfinite(adversarial[-1]["D/adv"])


def test_text_recipes_refuse_image_tricks_by_name(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(gankit.errors.ConfigError, match="recipe 'seqgan' does not accept trick 'instance_noise'"):
        gankit.train("seqgan", out=tmp_path / "r", overrides=["tricks=[instance_noise]", *QUICK, "train.steps=1"])
    assert not (tmp_path / "r").exists()
