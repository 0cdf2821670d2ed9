"""Implicit-feedback data sets for item recommendation: (user, item) rows of a users x items matrix.

- ``synthetic-feedback``: a built-in matrix of 500 users x 400 items from a rank-8 model with skewed item
  popularity (fixed seed, not ``seed``): user u likes item i with weight exp(s_ui), s_ui = TASTE * <p_u, q_i> /
  sqrt(8) - POPULARITY * log(1 + popularity rank of i), p, q ~ N(0, I); each user has 10..50 positives drawn
  without replacement by these weights (Gumbel top-k): 14,970 positives, 11,976 train / 2,994 test. Ranking each
  user's unseen items by the true s_ui gives test p@5 0.499, by popularity (training counts) 0.159.
- ``movielens-100k``: MovieLens 100K (``ml-100k/u.data``: user, item, rating, timestamp, tab-separated); as in
  IRGAN's item-recommendation experiments (Wang et al. 2017; their code keeps ratings ``r > 3.99``), ratings 4 and
  5 are the positives. Looked up as the folder ``ml-100k`` in data.root, $GANKIT_DATA, ~/.cache/gankit/data, else
  downloaded from GroupLens into ~/.cache/gankit/data.
- A file given by path (``.data``, ``.tsv``, ``.csv``): one interaction per line, ``user item [rating
  [...]]`` separated by tabs or spaces (commas in .csv); a first line without a number is a header. With a rating
  column, ratings >= 4 are the positives; without one every row is.

Ids are remapped to 0..users-1 and 0..items-1 in the order of their first appearance in the file, over every row
(rated but never liked items stay in the catalogue), so train and test share one numbering. Each user's
positives are split by a fixed shuffle (not ``seed``): round(20%) go to "test", the rest to "train" (users with
fewer than 3 positives keep them all in train); "all" is both.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from gankit.data.dataset import Dataset
from gankit.data.npz import cache_folder, search_folders
from gankit.errors import DataError

SUFFIXES = (".data", ".tsv", ".csv")  # files load_path reads as interactions (.txt is text: gankit/data/text.py)
POSITIVE_RATING = 4.0  # ratings >= this are positives (IRGAN on MovieLens: 4 and 5 stars)
TEST_SHARE = 0.2  # of each user's positives
SPLIT_SEED = 20170  # fixed, independent of ``seed``: the split never moves

SYNTHETIC_USERS, SYNTHETIC_ITEMS, SYNTHETIC_RANK = 500, 400, 8
SYNTHETIC_TASTE, SYNTHETIC_POPULARITY = 2.5, 1.2  # weight of the low-rank taste and of the popularity skew
SYNTHETIC_POSITIVES = (10, 50)  # positives per user, uniform in this range
SYNTHETIC_SEED = 2017

MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"


def split_rows(users: np.ndarray, items: np.ndarray, *, split: str) -> np.ndarray:
    """The (N, 2) rows of ``split``: each user's positives shuffled by a fixed seed, round(20%) of them test."""
    rng = np.random.default_rng(SPLIT_SEED)
    order = np.lexsort((items, users))  # by user, then item: the split does not depend on the file's row order
    users, items = users[order], items[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    is_test = np.zeros(len(users), dtype=bool)
    for start, end in zip(starts, np.r_[starts[1:], len(users)]):
        count = end - start
        n_test = math.floor(TEST_SHARE * count + 0.5) if count >= 3 else 0
        is_test[start + rng.permutation(count)[:n_test]] = True
    keep = {"train": ~is_test, "test": is_test, "all": np.ones_like(is_test)}[split]
    return np.stack([users[keep], items[keep]], axis=1)


def interactions(name: str, users: np.ndarray, items: np.ndarray, table: tuple[int, int], *, split: str) -> Dataset:
    """The Dataset of ``split`` from every positive (user, item) pair (distinct pairs)."""
    pairs = np.unique(np.stack([users, items], axis=1), axis=0)
    rows = split_rows(pairs[:, 0], pairs[:, 1], split=split)
    return Dataset(name=name, x=torch.from_numpy(rows.astype(np.int64)), y=None, num_classes=0,
                   kind="interactions", table=table)


def synthetic_feedback(*, split: str, root: str | None = None, limit: int | None = None, seed: int = 0) -> Dataset:
    """500 users x 400 items of implicit feedback from a rank-8 model with skewed popularity (built in, fixed)."""
    rng = np.random.default_rng(SYNTHETIC_SEED)
    taste_u = rng.standard_normal((SYNTHETIC_USERS, SYNTHETIC_RANK))
    taste_i = rng.standard_normal((SYNTHETIC_ITEMS, SYNTHETIC_RANK))
    popularity = -SYNTHETIC_POPULARITY * np.log1p(rng.permutation(SYNTHETIC_ITEMS))  # Zipf-like, random item order
    affinity = SYNTHETIC_TASTE * taste_u @ taste_i.T / np.sqrt(SYNTHETIC_RANK) + popularity  # (U, I)
    low, high = SYNTHETIC_POSITIVES
    counts = rng.integers(low, high + 1, size=SYNTHETIC_USERS)
    ranked = np.argsort(-(affinity + rng.gumbel(size=affinity.shape)), axis=1)  # Gumbel top-k: draws by exp(s)
    users = np.repeat(np.arange(SYNTHETIC_USERS), counts)
    items = np.concatenate([ranked[u, :count] for u, count in enumerate(counts)])
    return interactions("synthetic-feedback", users, items, (SYNTHETIC_USERS, SYNTHETIC_ITEMS), split=split)


def _fields(line: str, comma: bool) -> list[str]:
    return [f.strip() for f in line.split(",")] if comma else line.split()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_interactions(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """(users, items) of the positive rows of an interaction file, ids remapped, and the table (users, items)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise DataError(f"cannot read interaction file {path}: {err}") from None
    comma = path.suffix.lower() == ".csv"
    user_ids: dict[int, int] = {}  # the file's id -> 0, 1, ... in order of first appearance
    item_ids: dict[int, int] = {}
    users, items = [], []
    for number, line in enumerate(lines, start=1):
        fields = _fields(line, comma)
        if not fields or not line.strip():
            continue
        if number == 1 and not any(_is_number(f) for f in fields):
            continue  # a header such as userId,movieId,rating,timestamp
        if len(fields) < 2:
            raise DataError(f"{path}, line {number}: expected 'user item [rating ...]', got {line.strip()!r}")
        for what, text in (("user", fields[0]), ("item", fields[1])):
            if not text.lstrip("-").isdigit():
                raise DataError(f"{path}, line {number}: {what} id {text!r} is not an integer "
                                "(expected 'user item [rating ...]' per line)")
        rating = _rating(fields, path, number)
        user = user_ids.setdefault(int(fields[0]), len(user_ids))  # every row numbers its ids: rated items stay
        item = item_ids.setdefault(int(fields[1]), len(item_ids))
        if rating is None or rating >= POSITIVE_RATING:
            users.append(user)
            items.append(item)
    _check_table(path, len(user_ids), len(item_ids), len(users))
    return np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64), (len(user_ids), len(item_ids))


def _rating(fields: list[str], path: Path, number: int) -> float | None:
    """The rating column (the third), or None when the line has none."""
    if len(fields) < 3:
        return None
    try:
        return float(fields[2])
    except ValueError:
        raise DataError(f"{path}, line {number}: rating {fields[2]!r} is not a number") from None


def _check_table(path: Path, users: int, items: int, positives: int) -> None:
    if users == 0:
        raise DataError(f"interaction file {path} is empty: expected lines 'user item [rating ...]'")
    if items < 2:
        raise DataError(f"interaction file {path} has a single item: ranking items needs at least 2")
    if positives == 0:
        raise DataError(f"interaction file {path} has no positive rows: every rating is below {POSITIVE_RATING:g}")


def read_interactions(path: Path, *, name: str, split: str) -> Dataset:
    """An interaction file (see the module's doc) as a Dataset of kind "interactions"."""
    users, items, table = parse_interactions(path)
    return interactions(name, users, items, table, split=split)


def movielens_100k(*, split: str, root: str | None = None, limit: int | None = None, seed: int = 0) -> Dataset:
    """MovieLens 100K, ratings >= 4 as positives (IRGAN); ml-100k/ in data.root / $GANKIT_DATA, else download."""
    for folder in search_folders(root):
        if (folder / "ml-100k" / "u.data").is_file():
            return read_interactions(folder / "ml-100k" / "u.data", name="movielens-100k", split=split)
    return read_interactions(_download_movielens(root), name="movielens-100k", split=split)


def _download_movielens(root: str | None) -> Path:
    """GroupLens' ml-100k.zip, unpacked into ~/.cache/gankit/data/ml-100k; its u.data."""
    target = cache_folder()
    try:
        from torchvision.datasets.utils import download_and_extract_archive

        download_and_extract_archive(MOVIELENS_URL, download_root=str(target))
    except Exception as err:  # noqa: BLE001 - offline, DNS, HTTP: one fix
        searched = ", ".join(str(folder / "ml-100k") for folder in search_folders(root))
        raise DataError(f"data set 'movielens-100k' not found: no u.data in {searched}, and the download of "
                        f"{MOVIELENS_URL} failed ({type(err).__name__}). To fix: unzip ml-100k.zip into a folder and "
                        "set GANKIT_DATA=<folder> or data.root=<folder>, pass a u.data file with --data, "
                        "or go online.") from None
    return target / "ml-100k" / "u.data"


__all__ = ["SUFFIXES", "POSITIVE_RATING", "synthetic_feedback", "movielens_100k", "read_interactions",
           "parse_interactions", "split_rows"]
