"""Small typed values passed between data, networks, recipes and the trainer."""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class Batch:
    """A batch of real data: images (B, C, H, W) in [-1, 1] or points (B, D); labels (B,) or None.

    a: source-domain images (B, C', H, W): paired with x (pix2pix: a[i] is the input whose target is
       x[i]) or, for unpaired data, an independent batch from domain A; None for single-domain data.
    index: the row of each x in the whole training data set (B,), the same numbering on every rank under
       torchrun (GLO looks up each image's learnt code by it); None for a batch not drawn from a data set.
    """

    x: Tensor
    y: Tensor | None = None
    a: Tensor | None = None
    index: Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass
class DOut:
    """What every discriminator returns.

    logit:    (B,)   the adversarial score (a logit or a critic value)
    features: (B, F) the penultimate features (feature matching, projection, metrics)
    aux:      (B, A) an auxiliary head sharing the trunk (AC-GAN classes, InfoGAN's Q), or None
    """

    logit: Tensor
    features: Tensor
    aux: Tensor | None = None


@dataclass
class DataInfo:
    """What a recipe needs to know about its data to build networks (saved with every checkpoint)."""

    name: str
    sample_shape: tuple[int, ...]
    num_classes: int
    kind: str  # "image", "points", "text", "sequence" or "interactions" (gankit.data.dataset.KINDS)
    class_names: list[str] | None = None
    source_shape: tuple[int, ...] | None = None  # shape of one source image a (C', H, W); None without one
    pairing: str | None = None  # None | "paired" | "unpaired"
    size: int | None = None  # training samples (GLO learns one code each); None where unknown
    tokens: list[str] | None = None  # text: the vocabulary (token id -> word), so a loaded run decodes as it trained
    table: tuple[int, int] | None = None  # interactions: (users, items) of the feedback matrix

    def to_dict(self) -> dict:
        source = None if self.source_shape is None else list(self.source_shape)
        return {"name": self.name, "sample_shape": list(self.sample_shape), "num_classes": self.num_classes,
                "kind": self.kind, "class_names": self.class_names, "source_shape": source,
                "pairing": self.pairing, "size": self.size, "tokens": self.tokens,
                "table": None if self.table is None else list(self.table)}

    @classmethod
    def from_dict(cls, d: dict) -> "DataInfo":
        """Read a saved dict; checkpoints written before source_shape/pairing/size existed load with None."""
        source, table = d.get("source_shape"), d.get("table")
        return cls(d["name"], tuple(d["sample_shape"]), int(d["num_classes"]), d["kind"], d.get("class_names"),
                   None if source is None else tuple(source), d.get("pairing"), d.get("size"), d.get("tokens"),
                   None if table is None else tuple(table))

    @classmethod
    def of(cls, data) -> "DataInfo":  # noqa: ANN001  (gankit.data.Dataset)
        """What the networks are built for, from a loaded data set."""
        return cls(data.name, data.sample_shape, data.num_classes, data.kind, data.class_names,
                   source_shape=data.source_shape, pairing=data.pairing, size=len(data), tokens=data.tokens,
                   table=data.table)
