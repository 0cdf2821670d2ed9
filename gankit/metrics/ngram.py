"""BLEU-n and self-BLEU of generated token sequences, exactly as the Texygen benchmark computes them (Zhu et al. 2018).

Texygen (used by SeqGAN, LeakGAN, RelGAN) scores each hypothesis with nltk's ``sentence_bleu`` against *all*
reference sentences, weights ``(1/n,) * n`` and ``SmoothingFunction().method1``, and averages over hypotheses;
self-BLEU scores each generated sentence against all the *other* generated ones. nltk loops over every reference
for every hypothesis; here a reference set is indexed once (per n-gram its largest count in any one reference,
the reference holding it and the runner-up count; the distinct reference lengths), which gives the same numbers
and makes leaving one sentence out O(1) per n-gram.
"""
from __future__ import annotations

import math
import numbers
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

Sentence = Sequence[int | str]
NGram = tuple[int | str, ...]
TEXYGEN_ORDERS = (2, 3, 4, 5)
EPSILON = 0.1  # nltk SmoothingFunction().method1: added to the numerator of a precision with no match


def _ngram_counts(sentence: tuple, order: int) -> Counter[NGram]:
    """The n-grams of one order in a sentence, counted; none when the sentence is shorter (nltk.util.ngrams)."""
    return Counter(zip(*(sentence[start:] for start in range(order))))


def _closest_length(lengths: Sequence[int], hyp_len: int, absent: int | None = None) -> int:
    """nltk's closest_ref_length on sorted distinct lengths: the nearest, ties to the shorter, `absent` skipped."""
    at = bisect_left(lengths, hyp_len)
    # the nearest length is the largest below or the smallest at/above; one skipped length moves either by one
    near = [length for length in lengths[max(0, at - 2):at + 2] if length != absent]
    return min(near, key=lambda length: (abs(length - hyp_len), length))


def _sentence_bleu(matches: Sequence[int], hyp_len: int, ref_len: int, order: int) -> float:
    """nltk 3.x sentence_bleu, weights (1/n,)*n, method1, from clipped matches of orders 1..n (Papineni et al. 2002)."""
    if matches[0] == 0:  # nltk returns 0 when no unigram matches, before any smoothing
        return 0.0
    # nltk's denominator is max(1, number of hypothesis n-grams): 1 for a hypothesis shorter than the order
    precisions = [(matched or EPSILON) / max(1, hyp_len - n + 1) for n, matched in enumerate(matches[:order], 1)]
    weight = 1 / order
    log_mean = math.fsum(weight * math.log(precision) for precision in precisions)
    penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)  # brevity penalty
    return penalty * math.exp(log_mean)


def _check_orders(orders: Sequence[int]) -> tuple[int, ...]:
    """The BLEU orders as a tuple, each an integer >= 1."""
    orders = tuple(orders)
    if not orders:
        raise ValueError(f"orders is empty: give the BLEU orders to compute, e.g. {TEXYGEN_ORDERS}")
    for order in orders:
        if isinstance(order, bool) or not isinstance(order, numbers.Integral) or order < 1:
            raise ValueError(f"orders holds {order!r}: each BLEU order must be an integer >= 1, "
                             f"e.g. {TEXYGEN_ORDERS}")
    return tuple(int(order) for order in orders)


class References:
    """A reference set indexed once for BLEU, reused across hypothesis sets and orders (Papineni et al. 2002)."""

    def __init__(self, sentences: Sequence[Sentence]) -> None:
        self.sentences = [tuple(sentence) for sentence in sentences]
        if not self.sentences:
            raise ValueError("references is empty: BLEU needs at least one reference sentence")
        self.length_counts = Counter(len(sentence) for sentence in self.sentences)
        self.lengths = sorted(self.length_counts)
        self._tables: dict[int, dict[NGram, tuple[int, int, int]]] = {}

    def __len__(self) -> int:
        return len(self.sentences)

    def _table(self, order: int) -> dict[NGram, tuple[int, int, int]]:
        """Per n-gram of one order: (largest count in one reference, that reference's index, the others' largest)."""
        if order not in self._tables:
            table: dict[NGram, tuple[int, int, int]] = {}
            for index, sentence in enumerate(self.sentences):
                for gram, count in _ngram_counts(sentence, order).items():
                    best = table.get(gram)
                    if best is None:
                        table[gram] = (count, index, 0)
                    elif count > best[0]:
                        table[gram] = (count, index, best[0])
                    elif count > best[2]:  # a tie with the best lands here, so the runner-up equals the best
                        table[gram] = (best[0], best[1], count)
            self._tables[order] = table
        return self._tables[order]

    def _matches(self, hypothesis: tuple, order: int, leave_out: int | None) -> int:
        """nltk's clipped n-gram matches: each n-gram counts at most as often as in the one reference richest in it."""
        table = self._table(order)
        matched = 0
        for gram, count in _ngram_counts(hypothesis, order).items():
            best = table.get(gram)
            if best is not None:
                matched += min(count, best[2] if best[1] == leave_out else best[0])
        return matched

    def _closest(self, hyp_len: int, leave_out: int | None) -> int:
        """The closest reference length, without the reference `leave_out` when given."""
        if leave_out is None:
            return _closest_length(self.lengths, hyp_len)
        if not 0 <= leave_out < len(self) or len(self) < 2:
            raise ValueError(f"leave_out={leave_out} leaves no reference or is not an index of the "
                             f"{len(self)} references")
        left_len = len(self.sentences[leave_out])
        return _closest_length(self.lengths, hyp_len, left_len if self.length_counts[left_len] == 1 else None)

    def sentence_bleus(self, hypothesis: Sentence, orders: Sequence[int] = TEXYGEN_ORDERS, *,
                       leave_out: int | None = None) -> dict[int, float]:
        """Texygen's BLEU-n of one sentence per order, against all references but `leave_out` (Zhu et al. 2018)."""
        orders = _check_orders(orders)
        hypothesis = tuple(hypothesis)
        ref_len = self._closest(len(hypothesis), leave_out)
        matches = [self._matches(hypothesis, order, leave_out) for order in range(1, max(orders) + 1)]
        return {order: _sentence_bleu(matches, len(hypothesis), ref_len, order) for order in orders}

    def sentence_bleu(self, hypothesis: Sentence, n: int) -> float:
        """nltk's sentence_bleu(references, hypothesis, (1/n,)*n, method1) (Papineni et al. 2002)."""
        return self.sentence_bleus(hypothesis, (n,))[n]


def _mean_scores(scores: Sequence[dict[int, float]], orders: tuple[int, ...]) -> dict[int, float]:
    """The mean of per-sentence scores for each order, summed in order as Texygen does."""
    return {order: sum(score[order] for score in scores) / len(scores) for order in orders}


def bleu(*, hypotheses: Sequence[Sentence], references: Sequence[Sentence] | References,
         orders: Sequence[int] = TEXYGEN_ORDERS) -> dict[int, float]:
    """Mean sentence BLEU-n against all references: Texygen's protocol (Papineni et al. 2002; Zhu et al. 2018)."""
    orders = _check_orders(orders)
    if len(hypotheses) == 0:
        raise ValueError("hypotheses is empty: BLEU needs at least one generated sentence")
    index = references if isinstance(references, References) else References(references)
    return _mean_scores([index.sentence_bleus(hypothesis, orders) for hypothesis in hypotheses], orders)


def self_bleu(sentences: Sequence[Sentence], orders: Sequence[int] = TEXYGEN_ORDERS) -> dict[int, float]:
    """Mean BLEU-n of each sentence against all the others: lower is more diverse (Zhu et al. 2018)."""
    orders = _check_orders(orders)
    if len(sentences) < 2:
        raise ValueError(f"sentences holds {len(sentences)} sentence(s): self-BLEU needs at least 2")
    corpus = References(sentences)
    scores = [corpus.sentence_bleus(sentence, orders, leave_out=index)
              for index, sentence in enumerate(corpus.sentences)]
    return _mean_scores(scores, orders)
