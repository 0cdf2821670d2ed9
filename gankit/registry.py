"""Name -> object registries with helpful errors for unknown names."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from gankit.errors import ConfigError, unknown

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection; ``get`` of an unknown name raises with the nearest names."""

    def __init__(self, kind: str, error: type[Exception] = ConfigError) -> None:
        self.kind = kind
        self.error = error
        self._items: dict[str, T] = {}
        self._docs: dict[str, str] = {}

    def register(self, name: str, doc: str | None = None) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            text = doc if doc is not None else (getattr(obj, "__doc__", None) or "")
            self._docs[name] = text.strip().splitlines()[0] if text.strip() else ""
            return obj
        return add

    def get(self, name: str) -> T:
        if name not in self._items:
            raise self.error(unknown(self.kind, name, self._items))
        return self._items[name]

    def doc(self, name: str) -> str:
        return self._docs[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def item_specs(registry: Registry, specs: Sequence, field: str) -> list[tuple[str, dict]]:
    """(name, arguments) of config entries, a name ("gp") or a mapping ({name: gp, weight: 5}); every name
    registered, none listed twice. Nothing is built."""
    out: list[tuple[str, dict]] = []
    for i, spec in enumerate(specs):
        args = dict(spec) if not isinstance(spec, str) else {"name": spec}
        if "name" not in args:
            raise ConfigError(f"{field}[{i}] needs a 'name' (one of {', '.join(registry.names())}), got {spec}")
        name = str(args.pop("name"))
        registry.get(name)
        if name in (n for n, _ in out):
            raise ConfigError(f"{field}: {name!r} is listed twice")
        out.append((name, args))
    return out


def call_item(field: str, index: int, name: str, fn: Callable, args: dict):  # noqa: ANN201
    """``fn(**args)`` for entry ``index`` of ``field``; wrong arguments become a ConfigError naming the entry."""
    try:
        return fn(**args)
    except TypeError as e:
        raise ConfigError(f"{field}[{index}] ({name}): {e}") from None


def build_items(registry: Registry, specs: Sequence, field: str) -> dict:
    """{name: object} from config entries (``item_specs``), each built with its arguments."""
    return {name: call_item(field, i, name, registry.get(name), args)
            for i, (name, args) in enumerate(item_specs(registry, specs, field))}
