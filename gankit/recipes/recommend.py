"""The item-recommendation family: recipes whose G is a policy over items, p(i | u), trained on (user, item) rows.

Shared by ``irgan`` and ``bpr`` (gankit/recipes/irgan.py, bpr.py):

- G is an ``ItemPolicy`` (gankit/nets/factorisation.py): a matrix-factorisation scorer s(u, i) whose softmax is
  the distribution of items it recommends to user u.
- A latent is a user to recommend for and the noise that draws the item: ``Latent(z=uniform noise (n,), y=users
  (n,))``, and G(z, y) returns (user, item) rows (n, 2) by inverse-CDF sampling with that noise, so the same
  latent always gives the same items. The users play the part of class labels (``label_classes`` is the number
  of users): ``Run.sample(n, labels=u)`` draws n items for user u, the trainer's fixed rows are users 0, 1, ...
- ``scores(users)`` (the "Ranker" protocol of gankit/metrics/ranking.py): the sampling G's score of every item,
  (B, items), which precision_at_k and ndcg_at_k rank.
- ``describe`` writes samples/step_N.txt: for each user of the fixed latent, G's top-5 items and its draws.
- Negatives for the ranking losses (``negatives``): items drawn uniformly among those the user has no training
  row with (``use_data`` keeps that (users, items) mask; it is rebuilt from the data, not checkpointed).
"""
from __future__ import annotations

import torch
from torch import Tensor

from gankit import distributed
from gankit.errors import ConfigError
from gankit.nets.common import inverse_cdf
from gankit.nets.factorisation import ItemPolicy
from gankit.objective import Accepts
from gankit.recipes.base import Latent, Recipe, single_process

TOP_ITEMS = 5  # items per user in the text samples


class Recommender(Recipe):
    """Base of the recipes that learn a policy over items from implicit feedback."""

    data_kinds = ("interactions",)
    accepts = Accepts(tricks=frozenset(), penalties=frozenset(), terms=frozenset(),
                      why="item recommenders score (user, item) rows with embeddings: the image tricks, penalties "
                          "and auxiliary terms do not apply")
    G: ItemPolicy

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("known", None, persistent=False)  # (users, items) bool: the training rows

    @staticmethod
    def table(cfg, data) -> tuple[int, int]:  # noqa: ANN001  (Config, DataInfo)
        """(users, items) of the data, with clear errors for what a recommender cannot train on."""
        if data.table is None or data.kind != "interactions":
            raise ConfigError(f"recipe {cfg.recipe!r} learns from (user, item) interactions; data set {data.name!r} "
                              "has none: use synthetic-feedback, movielens-100k or a .data/.tsv/.csv file of rows "
                              "'user item [rating]'")
        single_process(cfg.recipe)
        return data.table

    def use_data(self, data) -> None:  # noqa: ANN001  (gankit.data.Dataset)
        """Keep the (users, items) mask of the training rows: the negatives are drawn outside it."""
        users, items = self.G.num_users, self.G.num_items
        if data.table != (users, items):
            raise ConfigError(f"recipe built for {users} users x {items} items, but data set {data.name!r} has "
                              f"{data.table}; build it from the same data")
        known = torch.zeros(users, items, dtype=torch.bool, device=data.x.device)
        known[data.x[:, 0], data.x[:, 1]] = True
        self.known = known

    def negatives(self, users: Tensor) -> Tensor:
        """(B,) items drawn uniformly among those each user has no training row with (any item without use_data)."""
        if self.known is None:
            return distributed.randint(self.G.num_items, len(users), device=users.device)
        unseen = (~self.known[users]).float()  # (B, I); a user who has seen everything draws from every item
        unseen[unseen.sum(1) == 0] = 1.0
        return inverse_cdf(unseen, distributed.rand(len(users), device=users.device))

    # --- sampling -----------------------------------------------------------------------------------
    def label_classes(self) -> int:
        return self.G.num_users  # the "labels" of a sample are the users it recommends to

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        device = self.G.bias.device
        users = distributed.randint(self.G.num_users, n, device=device, generator=generator) if labels is None \
            else labels.to(device)
        return Latent(distributed.rand(n, device=device, generator=generator), users)

    @torch.no_grad()
    def scores(self, users: Tensor) -> Tensor:
        """The Ranker protocol (gankit/metrics/ranking.py): the sampling G's score of every item, (B, items)."""
        return self.sampler().all_scores(users.to(self.G.bias.device))

    def describe(self, output: Tensor) -> list[str]:
        """For each user among G's (user, item) rows (n, 2): its top-5 items by G's scores, then its draws."""
        users = list(dict.fromkeys(output[:, 0].tolist()))
        top = self.scores(torch.tensor(users)).topk(min(TOP_ITEMS, self.G.num_items), dim=1).indices.tolist()
        lines = []
        for user, best in zip(users, top):
            drawn = output[output[:, 0] == user, 1].tolist()
            lines.append(f"user {user}: top-{len(best)} items {', '.join(map(str, best))}; "
                         f"drawn {', '.join(map(str, drawn))}")
        return lines

    def export_form(self):  # noqa: ANN201
        from gankit.recipes.export_form import NotExportable

        raise NotExportable("a recommender's samples are (user, item) index pairs drawn from its scores by an "
                            "inverse-CDF search (searchsorted, which ONNX lacks), scored by ranking metrics "
                            "against the run's interaction table: export its scores from the run instead")

    def walk(self, rows: int, steps: int, *, code: str | None = None, generator: torch.Generator | None = None) -> Latent:
        raise ConfigError(f"{type(self).__name__} has no continuous latent to interpolate: its latent is a user and "
                          "the noise that draws an item (sample with labels=<user> instead)")


__all__ = ["Recommender", "TOP_ITEMS"]
