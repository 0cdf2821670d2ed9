"""Errors that carry a message a user can act on (what, where, how to fix)."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class GankitError(Exception):
    """Base class: anything raised on purpose for bad input. The CLI prints it and exits 2."""


class ConfigError(GankitError):
    """A config key or value is wrong."""


class DataError(GankitError):
    """A data set cannot be found or read."""


class CheckpointError(GankitError):
    """A checkpoint is missing, corrupt or unsafe."""


class NonFiniteLossError(GankitError):
    """A loss became NaN or Inf; training stopped."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (a library's may run to a traceback-like page), or its type's name
    when the message is empty: what a one-line error message quotes."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def nearest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The valid names closest to ``name``, best first (difflib ratio)."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(name, choices, n=n, cutoff=0.4)
    return close


def unknown(kind: str, name: str, choices: Iterable[str]) -> str:
    """Message for an unknown name: the nearest valid names first, then all of them."""
    choices = sorted(set(choices))
    close = nearest(name, choices)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Valid: {', '.join(choices)}."
