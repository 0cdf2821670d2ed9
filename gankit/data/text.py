"""Text data sets: sentences (one a line) -> token ids with a vocabulary built from the training split.

Rules worth knowing:
- Tokens are words and punctuation marks (``tokenize``: the regular expression ``\\w+|[^\\w\\s]``, which splits
  COCO's "garage." into "garage", "." as Texygen's nltk.word_tokenize does on these corpora); case is kept.
- The vocabulary: ``<pad>`` (0), ``<eos>`` (1), ``<unk>`` (2), then the training split's words by frequency (ties
  in order of first appearance), at most ``vocab_size`` entries in all, each seen at least ``min_count`` times.
  It is built from the training split whichever split is loaded, so train and test ids agree; a run saves it
  (``DataInfo.tokens``), so a loaded run decodes exactly what it was trained on.
- x is (N, max_length + 1) int64: each sentence's ids, ``<eos>``, then ``<pad>``. ``max_length`` (tokens, without
  ``<eos>``) defaults to the longest training sentence; longer lines are cut, with one warning naming the count.
- A ``.txt`` file is a single split: "train" keeps all but a held-out tenth (a fixed shuffle), "test" that tenth.
  A folder holds ``train.txt`` and ``test.txt`` (or just ``train.txt``: then the held-out rule applies).
- ``coco-captions`` and ``emnlp-news``: the Texygen benchmark files (Zhu et al. 2018) looked up in data.root,
  $GANKIT_DATA, ~/.cache/gankit/data, else downloaded from Texygen's repository. Offline copies are in
  ``../shared/data``; EMNLP's training file is not, so offline ``emnlp-news`` is its test file, split by the
  held-out rule.
"""
from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.data.dataset import Dataset, check_split
from gankit.data.npz import cache_folder, find_file, search_folders
from gankit.errors import DataError

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
SPECIALS = (PAD, EOS, UNK)
HELD_OUT_SEED = 0  # fixed, independent of ``seed``: a single file's test tenth never moves
HELD_OUT_SHARE = 0.1
TOKEN = re.compile(r"\w+|[^\w\s]")
TEXYGEN = "https://raw.githubusercontent.com/geek-ai/Texygen/3104e22ac75f3cc2070da2bf5e2da6d2bef149ad/data/"


def tokenize(line: str) -> list[str]:
    """Words and punctuation marks of one line."""
    return TOKEN.findall(line)


@dataclass(frozen=True)
class TextOptions:
    """The ``data.*`` keys of text data sets."""

    vocab_size: int | None = None  # at most this many tokens, specials included (null: every word kept)
    min_count: int = 1  # a word seen fewer times in the training split becomes <unk>
    max_length: int | None = None  # tokens per sentence before <eos> (null: the longest training sentence)

    def __post_init__(self) -> None:
        if self.vocab_size is not None and (not isinstance(self.vocab_size, int) or self.vocab_size < len(SPECIALS) + 2):
            raise DataError(f"data.vocab_size={self.vocab_size!r}: a vocabulary needs the {len(SPECIALS)} special "
                            f"tokens {', '.join(SPECIALS)} and at least 2 words; use {len(SPECIALS) + 2} or more, "
                            "or null for every word")
        if not isinstance(self.min_count, int) or self.min_count < 1:
            raise DataError(f"data.min_count={self.min_count!r}: must be an int >= 1")
        if self.max_length is not None and (not isinstance(self.max_length, int) or self.max_length < 1):
            raise DataError(f"data.max_length={self.max_length!r}: must be an int >= 1, or null for the longest "
                            "training sentence")


class Vocabulary:
    """Token id <-> word. Special tokens are found by name, so the oracle's vocabulary (no specials) fits too."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}
        self.pad, self.eos, self.unk = (self.index.get(token) for token in SPECIALS)

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(cls, sentences: Sequence[Sequence[str]], options: TextOptions, where: str) -> "Vocabulary":
        """The specials, then words by frequency (ties: first seen first), capped by vocab_size and min_count."""
        counts = Counter(word for sentence in sentences for word in sentence)
        words = [w for w, c in sorted(counts.items(), key=lambda wc: -wc[1]) if c >= options.min_count and w not in SPECIALS]
        if options.vocab_size is not None:
            words = words[:options.vocab_size - len(SPECIALS)]
        if len(words) < 2:
            raise DataError(f"{where}: the vocabulary would hold {len(words)} word(s) (data.min_count="
                            f"{options.min_count}, data.vocab_size={options.vocab_size}); a text GAN needs at least 2. "
                            "Lower data.min_count or use more text")
        return cls([*SPECIALS, *words])

    def encode(self, sentences: Sequence[Sequence[str]], length: int) -> torch.Tensor:
        """(N, length + 1) int64: ids, <eos>, then <pad>; unknown words -> <unk>; sentences already cut to length."""
        x = np.full((len(sentences), length + 1), self.pad if self.pad is not None else 0, dtype=np.int64)
        for row, sentence in enumerate(sentences):
            ids = [self.index.get(word, self.unk) for word in sentence]
            x[row, :len(ids)] = ids
            x[row, len(ids)] = self.eos
        return torch.from_numpy(x)

    def words(self, ids: Sequence[int]) -> list[str]:
        """The words of one row of ids, up to (not including) the first <eos> or <pad>."""
        out = []
        for i in ids:
            if i == self.eos or i == self.pad:
                break
            out.append(self.tokens[i])
        return out

    def decode(self, x: torch.Tensor) -> list[str]:
        """(N, T) ids -> N sentences, words joined by spaces."""
        return [" ".join(self.words(row)) for row in x.tolist()]


def read_lines(path: Path) -> list[list[str]]:
    """The tokenised non-empty lines of a UTF-8 text file (DataError: missing, not UTF-8, or empty)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[:err.start].count(b"\n") + 1
        raise DataError(f"{path} is not UTF-8 text (byte {err.start}, line {line}: {err.reason}); save it as UTF-8, "
                        "one sentence a line") from None
    except OSError as err:
        raise DataError(f"cannot read text file {path}: {err.strerror}") from None
    sentences = [tokenize(line) for line in text.splitlines()]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise DataError(f"{path} holds no sentences (it is empty or blank); a text data set has one sentence a line")
    return sentences


def held_out(sentences: list[list[str]], split: str) -> list[list[str]]:
    """One file as two splits: a fixed tenth is "test", the rest "train" (in file order)."""
    if split == "all":
        return sentences
    n_test = max(1, round(HELD_OUT_SHARE * len(sentences))) if len(sentences) > 1 else 0
    test = set(np.random.default_rng(HELD_OUT_SEED).permutation(len(sentences))[:n_test].tolist())
    keep = [i for i in range(len(sentences)) if (i in test) == (split == "test")]
    return [sentences[i] for i in keep]


def text_files(path: Path) -> tuple[Path, Path | None]:
    """(train file, test file or None) of a .txt file or a folder with train.txt [and test.txt]."""
    if path.is_file():
        return path, None
    train, test = path / "train.txt", path / "test.txt"
    if not train.is_file():
        raise DataError(f"text folder {path} has no train.txt; put one sentence a line in train.txt (and test.txt "
                        "for a test split), or pass a .txt file")
    return train, test if test.is_file() else None


def split_sentences(train_file: Path, test_file: Path | None, split: str) -> tuple[list[list[str]], list[list[str]]]:
    """(training sentences, the split's sentences)."""
    train = read_lines(train_file)
    if test_file is None:
        return held_out(train, "train"), held_out(train, split)
    if split == "train":
        return train, train
    test = read_lines(test_file)
    return train, test if split == "test" else train + test


def load_text(train_file: Path, test_file: Path | None, *, name: str, split: str,
              options: TextOptions) -> Dataset:
    """A text Dataset of ``split`` with the vocabulary and length of the training split."""
    check_split(split)
    train, sentences = split_sentences(train_file, test_file, split)
    vocab = Vocabulary.build(train, options, str(train_file))
    length = options.max_length or max(len(s) for s in train)
    long = sum(len(s) > length for s in sentences)
    if long:
        warnings.warn(f"{name}: {long} of {len(sentences)} {split} sentences are longer than data.max_length="
                      f"{length} tokens and were cut to it", stacklevel=2)
    x = vocab.encode([s[:length] for s in sentences], length)
    return Dataset(name=name, x=x, y=None, num_classes=0, kind="text", tokens=vocab.tokens)


def texygen_files(files: tuple[str, str | None], root: str | None) -> tuple[Path, Path | None]:
    """The Texygen files (train name, test name or None) from the data folders, else downloaded into the cache."""
    folders = search_folders(root)
    found = [find_file(f, folders) if f else None for f in files]
    if found[0] is not None:
        return found[0], found[1]
    return _download_texygen(files, folders)


TEXYGEN_NAMES = {"coco_captions_train.txt": "image_coco.txt", "coco_captions_test.txt": "testdata/test_coco.txt",
                 "emnlp_news_train.txt": "emnlp_news.txt", "emnlp_news_test.txt": "testdata/test_emnlp.txt"}


def _download_texygen(files: tuple[str, str | None], folders: list[Path]) -> tuple[Path, Path | None]:
    """Texygen's own copies, saved under the gankit file names in ~/.cache/gankit/data."""
    import urllib.request

    out: list[Path | None] = []
    for name in files:
        if name is None:
            out.append(None)
            continue
        target = cache_folder() / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with urllib.request.urlopen(TEXYGEN + TEXYGEN_NAMES[name], timeout=30) as response:
                data = response.read()
        except Exception as err:  # noqa: BLE001 - offline, DNS, HTTP: one fix
            searched = ", ".join(str(f) for f in folders)
            raise DataError(f"text file {name} not found in {searched}, and its download from Texygen failed "
                            f"({type(err).__name__}). To fix: put {name} (one sentence a line) in a folder and set "
                            "GANKIT_DATA=<folder> or data.root=<folder>, or go online") from None
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        out.append(target)
    return out[0], out[1]


__all__ = ["Vocabulary", "TextOptions", "tokenize", "load_text", "read_lines", "text_files", "texygen_files",
           "PAD", "EOS", "UNK"]
