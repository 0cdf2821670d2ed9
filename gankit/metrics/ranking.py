"""Top-k ranking quality of item recommenders, as in IRGAN's item-recommendation evaluation (Wang et al. 2017).

For every user with at least one row in the test split, all items are ranked by the recipe's scores, leaving
out the items the user has a training row with; precision@k is the share of test items among the first k, and
NDCG@k is sum_j rel_j / log2(j + 1) over the first k positions divided by its best value, min(k, test items)
hits on top. Scores are averaged over these users. Beside each, the same score of the popularity baseline:
items ranked by their number of training rows (ties: the lower item id first, as for the recipe's ties).

The metrics (precision_at_k.py, ndcg_at_k.py) read the recipe through the Ranker protocol below, which the item
recommendation recipes (gankit/recipes/recommend.py) follow.
"""
from __future__ import annotations

import functools
from typing import Any, ClassVar, Protocol

import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Setting

KS = (5, 10)  # the cut-offs scored; static, so the score keys are
USER_CHUNK = 1024  # users ranked at once: memory (chunk x items) does not grow with the number of users


class Ranker(Protocol):
    """A recipe that ranks items: ``scores(users)`` gives its score of every item for each user, (B,) -> (B, items)."""

    def scores(self, users: Tensor) -> Tensor: ...


def discounts(k: int) -> Tensor:
    """1 / log2(j + 1) for positions j = 1..k, float64 (k,)."""
    return 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))


def top_hits(scores: Tensor, *, exclude: Tensor, relevant: Tensor, k: int) -> Tensor:
    """Whether each of the first k items is relevant, (U, k) bool, ranking each row of ``scores`` (U, I) from the
    highest with the ``exclude``d items (U, I) left out; ties go to the lower item index. Positions past the last
    item (k > I) and excluded items a short list is filled with count as misses."""
    scores = scores.double().masked_fill(exclude, float("-inf"))
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]  # (U, min(k, I))
    hits = relevant.gather(1, order) & ~exclude.gather(1, order)
    return torch.nn.functional.pad(hits, (0, k - hits.shape[1]))  # (U, k)


def precision_at(hits: Tensor, k: int) -> Tensor:
    """(U,) float64 share of relevant items among the first k, from ``top_hits`` (U, >= k)."""
    return hits[:, :k].double().sum(1) / k


def ndcg_at(hits: Tensor, relevant_count: Tensor, k: int) -> Tensor:
    """(U,) float64 NDCG@k from ``top_hits`` (U, >= k) and each user's number of relevant items (U,) (>= 1)."""
    weight = discounts(k)
    dcg = (hits[:, :k].double() * weight).sum(1)
    ideal = weight.cumsum(0)[relevant_count.clamp(1, k) - 1]  # all min(count, k) relevant items first
    return dcg / ideal


@functools.lru_cache(maxsize=8)
def _split(name: str, root: str | None, split: str) -> tuple[Tensor, tuple[int, int]]:
    """The (N, 2) rows and the table of a split of an interaction data set, loaded once per process."""
    from gankit.data import load_dataset

    data = load_dataset(name, split=split, root=root)
    return data.x, data.table


def feedback(setting: Setting) -> tuple[Tensor, Tensor, Tensor]:
    """The evaluation's users (U,) with a test row, their training rows (U, I) and test rows (U, I) as masks."""
    d = setting.data_cfg
    train, table = _split(d.name, d.root, "train")
    test, test_table = _split(d.name, d.root, setting.cfg.split)
    if table != test_table or table != setting.data.table:
        raise ConfigError(f"data set {d.name!r}: the train and {setting.cfg.split} splits ({table}, {test_table}) "
                          f"and the run's data {setting.data.table} must share one (users, items) table")
    users = torch.unique(test[:, 0])  # (U,) sorted
    position = torch.full((table[0],), -1, dtype=torch.long)
    position[users] = torch.arange(len(users))
    known = torch.zeros(len(users), table[1], dtype=torch.bool)
    rows = train[position[train[:, 0]] >= 0]
    known[position[rows[:, 0]], rows[:, 1]] = True
    relevant = torch.zeros(len(users), table[1], dtype=torch.bool)
    relevant[position[test[:, 0]], test[:, 1]] = True
    return users, known, relevant & ~known


class RankingMetric(Metric):
    """Base of precision_at_k and ndcg_at_k: ranks every test user's items by the recipe and by popularity."""

    measure: ClassVar[str] = ""  # the score key's stem: "p" or "ndcg"

    def check(self, setting: Setting) -> None:
        if setting.data.kind != "interactions":
            raise ConfigError(f"{self.name} ranks items for users: it needs interaction data (synthetic-feedback, "
                              f"movielens-100k, a .data/.tsv/.csv file), and {setting.data.name!r} is "
                              f"{setting.data.kind} data (images: fid, kid, pr ...)")
        if not callable(getattr(setting.recipe, "scores", None)):
            raise ConfigError(f"{self.name} ranks items by a recipe's scores(users), and recipe "
                              f"{type(setting.recipe).__name__} has none: use it with irgan or bpr runs")
        if setting.cfg.split == "train":
            raise ConfigError(f"eval.split=train: {self.name} leaves each user's training items out of the ranking "
                              "and counts the reference split's items as hits; set eval.split=test")

    def per_user(self, hits: Tensor, relevant_count: Tensor, k: int) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, inputs: Inputs) -> dict[str, float]:
        users, known, relevant = feedback(inputs.setting)
        recipe = inputs.setting.recipe
        popularity = known.new_zeros(known.shape[1], dtype=torch.long)  # recomputed from the full training split
        train, _ = _split(inputs.setting.data_cfg.name, inputs.setting.data_cfg.root, "train")
        popularity.index_add_(0, train[:, 1], torch.ones(len(train), dtype=torch.long))
        sums = {key: torch.zeros((), dtype=torch.float64) for key in self.keys}
        for start in range(0, len(users), USER_CHUNK):
            part = slice(start, start + USER_CHUNK)
            count = relevant[part].sum(1)
            for suffix, scores in (("", recipe.scores(users[part]).cpu()),
                                   ("_popularity", popularity.expand(len(count), -1))):
                hits = top_hits(scores, exclude=known[part], relevant=relevant[part], k=max(KS))
                for k in KS:
                    sums[f"{self.measure}@{k}{suffix}"] += self.per_user(hits, count, k).sum()
        return {key: float(total) / max(len(users), 1) for key, total in sums.items()}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        users, known, _ = feedback(inputs.setting)
        return {"ranking": {"k": list(KS), "users": len(users), "items": known.shape[1],
                            "excluded": "each user's training items", "popularity": "items by training rows"}}


def keys(measure: str) -> dict[str, bool]:
    """The score keys of a ranking metric, higher is better: <measure>@k and <measure>@k_popularity for each k."""
    return {f"{measure}@{k}{suffix}": True for suffix in ("", "_popularity") for k in KS}


__all__ = ["Ranker", "RankingMetric", "top_hits", "precision_at", "ndcg_at", "discounts", "feedback", "keys", "KS"]
