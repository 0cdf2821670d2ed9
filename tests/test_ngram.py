"""BLEU and self-BLEU (gankit.metrics.ngram) against nltk as Texygen calls it, and hand-computed values."""
from __future__ import annotations

import math
import random

import pytest

from gankit.metrics.ngram import References, bleu, self_bleu

ORDERS = (1, 2, 3, 4, 5, 6)


def nltk_bleu(references: list, hypothesis: list, order: int) -> float:
    """Texygen's call: nltk sentence_bleu, uniform weights (1/n,)*n, method1 smoothing."""
    bleu_score = pytest.importorskip("nltk.translate.bleu_score")
    smoothing = bleu_score.SmoothingFunction().method1
    return bleu_score.sentence_bleu(references, hypothesis, weights=(1 / order,) * order, smoothing_function=smoothing)


def random_corpus(rng: random.Random, vocab: list, size: int, max_len: int) -> list[list]:
    """Sentences of 0..max_len tokens: short ones are shorter than the higher orders, a small vocab repeats n-grams."""
    return [[rng.choice(vocab) for _ in range(rng.randrange(max_len + 1))] for _ in range(size)]


@pytest.mark.parametrize("vocab", [[0, 1], list(range(5)), ["the", "cat", "sat", "on", "a", "mat"], list(range(50))])
@pytest.mark.parametrize("seed", range(4))
def test_sentence_bleu_matches_nltk(vocab: list, seed: int) -> None:
    rng = random.Random(seed)
    references = random_corpus(rng, vocab, rng.randrange(1, 8), max_len=9)
    hypotheses = random_corpus(rng, vocab, 8, max_len=9) + [references[0], references[0][:1], []]
    index = References(references)
    for hypothesis in hypotheses:
        for order in ORDERS:
            expected = nltk_bleu(references, hypothesis, order)
            assert index.sentence_bleu(hypothesis, order) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    expected_means = {n: sum(nltk_bleu(references, h, n) for h in hypotheses) / len(hypotheses) for n in (2, 3, 4, 5)}
    assert bleu(hypotheses=hypotheses, references=references) == pytest.approx(expected_means, rel=1e-12, abs=1e-12)


def test_nltk_edge_cases() -> None:
    """No unigram match (nltk returns 0 before smoothing), a unigram but no bigram match (epsilon), a hypothesis
    shorter than n, an empty hypothesis, and a length tie (nltk takes the shorter reference)."""
    references = [["a", "b", "c"], ["a", "b", "c", "d", "e"], ["x", "y", "z", "w"]]
    cases = [["q", "r", "s"], ["c", "a", "e", "b"], ["a"], ["a", "b"], [], ["a", "b", "x", "y"], ["z", "z", "z", "z"]]
    for hypothesis in cases:
        for order in ORDERS:
            got = References(references).sentence_bleu(hypothesis, order)
            assert got == pytest.approx(nltk_bleu(references, hypothesis, order), rel=1e-12, abs=1e-12)
    assert References(references).sentence_bleu(["q", "r", "s"], 2) == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_self_bleu_matches_nltk_loop(seed: int) -> None:
    rng = random.Random(seed)
    vocab = [0, 1, 2] if seed % 2 else ["w%d" % i for i in range(8)]
    sentences = random_corpus(rng, vocab, 12, max_len=8)
    sentences += [sentences[0], list(sentences[1]), [vocab[0]] * 11]  # duplicates (tied maxima) and a unique length
    expected = {n: sum(nltk_bleu(sentences[:i] + sentences[i + 1:], s, n) for i, s in enumerate(sentences))
                / len(sentences) for n in (2, 3, 4, 5)}
    assert self_bleu(sentences) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_hand_computed_values() -> None:
    reference = "the cat is on the mat".split()
    # identical to a reference: every precision 1, equal lengths so no brevity penalty
    assert bleu(hypotheses=[reference], references=[reference, ["other"]]) == {2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}
    # unigrams: the x2, cat, on, mat match, sat does not -> 5/6; bigrams: the-cat, on-the, the-mat of 5 -> 3/5;
    # lengths 6 = 6 -> no penalty; BLEU-2 = sqrt(5/6 * 3/5) = sqrt(1/2)
    assert References([reference]).sentence_bleu("the cat sat on the mat".split(), 2) == pytest.approx(math.sqrt(0.5))
    # a b c against a b d e: p1 = 2/3, p2 = 1/2, no trigram match -> method1 gives 0.1/1; penalty exp(1 - 4/3)
    expected = math.exp(1 - 4 / 3) * (2 / 3 * 1 / 2 * 0.1) ** (1 / 3)
    assert References([["a", "b", "d", "e"]]).sentence_bleu(["a", "b", "c"], 3) == pytest.approx(expected)
    # shorter than n: no trigram at all, nltk's denominator is max(1, 0) = 1 -> p3 = 0.1
    assert References([[7, 8]]).sentence_bleu([7, 8], 3) == pytest.approx(0.1 ** (1 / 3))


def test_self_bleu_identical_is_one_and_diverse_is_low() -> None:
    assert self_bleu([[3, 1, 4, 1, 5, 9, 2, 6]] * 5) == {2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}
    rng = random.Random(0)
    diverse = [[rng.randrange(10_000) for _ in range(20)] for _ in range(200)]
    repetitive = [[rng.randrange(4) for _ in range(20)] for _ in range(200)]
    scores, repeated = self_bleu(diverse), self_bleu(repetitive)
    assert all(scores[n] < 0.1 for n in scores)
    assert all(repeated[n] > 0.5 for n in repeated)


def test_references_reused_across_hypothesis_sets() -> None:
    rng = random.Random(1)
    references = random_corpus(rng, list(range(6)), 30, max_len=12)
    index = References(references)
    for _ in range(3):
        hypotheses = random_corpus(rng, list(range(6)), 10, max_len=12)
        assert bleu(hypotheses=hypotheses, references=index, orders=(2, 4)) == \
            bleu(hypotheses=hypotheses, references=references, orders=(2, 4))


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError, match="hypotheses is empty"):
        bleu(hypotheses=[], references=[[1, 2]])
    with pytest.raises(ValueError, match="references is empty"):
        bleu(hypotheses=[[1, 2]], references=[])
    with pytest.raises(ValueError, match="integer >= 1"):
        bleu(hypotheses=[[1, 2]], references=[[1, 2]], orders=(0, 2))
    with pytest.raises(ValueError, match="orders is empty"):
        self_bleu([[1], [2]], orders=())
    with pytest.raises(ValueError, match="at least 2"):
        self_bleu([[1, 2]])
    with pytest.raises(ValueError, match="leave_out"):
        References([[1, 2]]).sentence_bleus([1, 2], leave_out=0)
