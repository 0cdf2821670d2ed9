"""Detectors of the classic GAN failure symptoms, fed the rows the trainer logs.

The GAN surveys name three ways training fails while the losses still look like numbers,
and partial mode collapse is a milder form of the first. Each detector here checks one
condition on every logged row (``train.log_every``; ``class_imbalance``: every evaluation
row, ``eval.every``) and reads only generic signals: named row fields, never a recipe's or
a technique's name.

Signals (the trainer adds them to each metrics.jsonl row when ``symptoms.enabled``):

``sample/diversity``
    Mean pairwise L2 distance of G's samples from the fixed z (the live G being
    trained, in eval mode, at most ``symptoms.samples`` of them) divided by the mean
    pairwise distance of an evenly spaced subset of the real data. About 1 for a G that
    covers the data, near 0 for a collapsed one.
``sample/change``
    Mean L2 distance each fixed-z sample moved since the previous logged row, divided
    by the real data's mean pairwise distance.
``<phase>/grad_norm``
    L2 norm of the gradient of the parameters a phase trains, after its last backward
    at the log step (``G/grad_norm``, ``D/grad_norm`` for the GAN recipes).
``D/d_acc`` (recorded by the GAN recipes)
    Loss-agnostic discriminator accuracy: the fraction of (real, fake) pairs in a batch
    that D ranks correctly, D(x) > D(G(z)) (ties count one half; the AUC of D's scores).
    Unlike a sign threshold it means the same for minimax, least-squares, Wasserstein
    and hinge losses.

Detectors (thresholds are fields of ``SymptomConfig``; defaults in brackets). Each is a
condition on one logged row:

``mode_collapse``
    ``sample/diversity`` < ``collapse_diversity`` [0.25]: the fixed-z samples are less
    than a quarter as spread out as real data (most z map to the same few outputs).
    Healthy runs measure 0.8 to 1.2 (gan on ring8, dcgan on digits); a G collapsed onto
    one or two neighbouring modes of ring8, 0.03 to 0.3.
``d_overpowers`` (vanishing gradients)
    ``D/d_acc`` >= ``overpower_acc`` [0.99] and ``G/grad_norm`` < ``overpower_grad``
    [0.05] x the largest ``G/grad_norm`` logged so far: D separates real from fake
    perfectly *and* G no longer receives a gradient to learn from. D alone at 100% is not
    enough: a healthy DCGAN on digits has D at 0.98 to 0.9999 for its first 200 steps
    while G's gradient is at its largest.
``non_convergence``
    ``sample/change`` >= ``nonconv_change`` [0.5]: G's output for the same z jumps by
    half the data's spread or more between consecutive log rows (G and D chase each
    other instead of settling; on 2D mixtures, G hops from mode to mode). Healthy runs
    move 0.03 to 0.3 per log row after their first 200 steps. The losses are not part of
    the condition: averaged over a log interval they stay as flat in an oscillating run
    (G lr 1e-2 on ring8: G/adv 0.70 +- 0.005) as in a healthy one.
``class_imbalance`` (partial mode collapse)
    Judged on the evaluation rows (``eval.every``) whose metrics include ``classes``: the
    histogram of the classes the domain evaluator sees in the ``eval.n`` generated samples.
    ``eval/class_min_share`` x K < ``class_min_share`` [0.15] (the rarest class gets less
    than 15% of its fair share 1/K; K is the protocol's ``classes``) or
    ``eval/class_entropy`` < ``class_entropy`` [0.85] (the histogram's entropy over log K).
    ``mode_collapse`` misses this: a G that draws mostly a few digits still spreads its
    pixels. DCGAN on digits (eval.n 1000, every 100 steps): the preset measures a rarest
    share x K of 0.45 to 0.68 and an entropy of 0.97 to 0.99 from step 600 on (0.20 to
    0.37 and 0.85 to 0.96 before; 0.10 at step 100 with 32-wide nets); real held-out
    digits, 0.71 and 0.99. With a 2-d latent (``model.z_dim=2``) G draws a few digits
    only: a class missing (0 to 0.01), entropy 0.69 to 0.82, while ``sample/diversity``
    stays at 0.89. The dcgan preset on MNIST after 1,000 steps (eval.n 1000, every 250)
    draws 27% threes and 1.4% ones: 0.31, 0.16, 0.09, 0.08 and entropy 0.88 to 0.90,
    reported at step 1000 (began 750); real MNIST test digits, 0.82 and 0.998. A user's
    MNIST DCGAN with 0.2% ones among 31% sevens and 21% nines is at 0.02. Conditional
    recipes are judged alike: the evaluation asks for every class equally often
    (``class_acc`` says whether a sample is the class asked for, not whether every class
    is drawn).
    It begins when its condition held at ``class_patience`` [2] evaluations in a row and
    ends when it failed at as many (one evaluation already averages thousands of samples).
    Without the ``classes`` metric (no domain classifier: 2D points, Inception features
    alone) it stays silent.

A symptom *begins* when its condition held in ``patience`` [4] of the last ``window``
[6] rows: its ``began`` is the step of the first of those rows, ``detected`` the step it
was reported. It *ends* when the condition failed in ``patience`` of the last ``window``
rows (``ended``: the first of them) and may begin again later; each episode is listed.
Nothing is reported before ``warmup`` [300] steps: an untrained G is neither diverse
nor settled. A condition that keeps its votes from before the warm-up's end until then
is reported with its true ``began``. Rows that lack a detector's signals leave it
unchanged (a recipe that records no ``D/d_acc`` is never judged for ``d_overpowers``).

``sample/change`` is a move per log interval, so ``nonconv_change`` was measured at the
presets' intervals (25 and 50 steps); a much longer ``train.log_every`` lets healthy
samples move further between rows.

What the trainer does with it: a ``symptom/<name>`` 0/1 column in every row, a short
tag in the progress bar (``!collapse``, ``!d-wins``, ``!oscillate``, ``!classes``) while
a symptom lasts, one console line when it begins, and ``symptoms.json`` in the run directory: a
list of ``{name, began, detected, ended, evidence, description}``, rewritten when a
symptom begins or ends. The detectors' state is part of every checkpoint, so a resumed
run reports what an uninterrupted one would.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

Row = Mapping[str, Any]


@dataclass
class Episode:
    """One occurrence of a symptom: the steps it began, was reported and ended (None while it lasts)."""

    name: str
    began: int
    detected: int
    ended: int | None
    evidence: dict[str, float]
    description: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Event:
    """What ``Detector.update`` returns when a symptom begins or ends."""

    kind: str  # "began" or "ended"
    episode: Episode


class Detector:
    """One symptom: a condition on each logged row, debounced as ``patience`` of the last ``window`` rows."""

    name = ""
    tag = ""  # short tag for the progress bar
    description = ""

    def __init__(self, *, patience: int, window: int, warmup: int) -> None:
        self.patience, self.window, self.warmup = patience, window, warmup
        self.recent: list[tuple[int, bool]] = []  # (step, condition held) of the last ``window`` rows
        self.since: int | None = None  # first row of a change of state that has enough votes but is not reported yet
        self.active: Episode | None = None
        self.episodes: list[Episode] = []

    # --- what a symptom defines ------------------------------------------------------
    def check(self, row: Row) -> bool | None:
        """Whether the condition holds on this row; None when the row lacks the signals."""
        raise NotImplementedError

    def evidence(self, row: Row) -> dict[str, float]:
        """The numbers that made the call, kept in symptoms.json."""
        return {}

    # --- the debounce ------------------------------------------------------------------
    def update(self, row: Row, step: int) -> Event | None:
        held = self.check(row)
        if held is None:
            return None
        self.recent = (self.recent + [(step, bool(held))])[-self.window:]
        wanted = self.active is None  # inactive: rows where it holds count; active: rows where it fails
        votes = [s for s, h in self.recent if h == wanted]
        if len(votes) < self.patience:
            self.since = None
            return None
        self.since = votes[0] if self.since is None else self.since
        if self.active is None and step < self.warmup:
            return None  # during the warm-up nothing is reported; ``since`` keeps the true start
        since, self.since, self.recent = self.since, None, []  # the next change of state needs fresh rows
        if self.active is None:
            self.active = Episode(self.name, since, step, None, self.evidence(row), self.description)
            self.episodes.append(self.active)
            return Event("began", self.active)
        self.active.ended, ended = since, self.active
        self.active = None
        return Event("ended", ended)

    # --- checkpoint state (plain values: torch.load(weights_only=True) reads them) -----
    def state_dict(self) -> dict[str, Any]:
        return {"recent": [[s, h] for s, h in self.recent], "since": self.since,
                "episodes": [e.to_dict() for e in self.episodes], "active": self.active is not None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.recent = [(int(s), bool(h)) for s, h in state["recent"]]
        self.since = state["since"]
        self.episodes = [Episode(**e) for e in state["episodes"]]
        self.active = self.episodes[-1] if state["active"] else None


class SignalThreshold(Detector):
    """A symptom whose condition is one signal on the wrong side of a threshold."""

    key = ""  # the row field read
    below = True  # True: the symptom is the signal below the threshold; False: at or above it

    def __init__(self, *, threshold: float, **kw: int) -> None:
        super().__init__(**kw)
        self.threshold = threshold

    def check(self, row: Row) -> bool | None:
        if self.key not in row:
            return None
        return row[self.key] < self.threshold if self.below else row[self.key] >= self.threshold

    def evidence(self, row: Row) -> dict[str, float]:
        return {self.key: row[self.key], "threshold": self.threshold}


class ModeCollapse(SignalThreshold):
    """The fixed-z samples are far less spread out than real data."""

    name, tag, key, below = "mode_collapse", "!collapse", "sample/diversity", True
    description = ("mode collapse: G maps different z to nearly the same outputs "
                   "(its samples' mean pairwise distance is a small fraction of the real data's)")


class DOverpowers(Detector):
    """D separates real from fake perfectly and G's gradient has vanished."""

    name, tag = "d_overpowers", "!d-wins"
    acc_key, grad_key = "D/d_acc", "G/grad_norm"
    description = ("discriminator overpowers the generator: D ranks real above fake almost always and G's "
                   "gradient has vanished, so G stops learning (vanishing gradients)")

    def __init__(self, *, accuracy: float, grad_fraction: float, **kw: int) -> None:
        super().__init__(**kw)
        self.accuracy, self.grad_fraction = accuracy, grad_fraction
        self.peak_grad = 0.0  # the largest G gradient norm logged so far

    def check(self, row: Row) -> bool | None:
        if self.acc_key not in row or self.grad_key not in row:
            return None
        grad = row[self.grad_key]
        self.peak_grad = max(self.peak_grad, grad)
        return row[self.acc_key] >= self.accuracy and grad < self.grad_fraction * self.peak_grad

    def evidence(self, row: Row) -> dict[str, float]:
        return {self.acc_key: row[self.acc_key], self.grad_key: row[self.grad_key], "peak " + self.grad_key: self.peak_grad}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "peak_grad": self.peak_grad}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.peak_grad = float(state["peak_grad"])


class NonConvergence(SignalThreshold):
    """G's output for the same z keeps jumping far between log rows, long after the start."""

    name, tag, key, below = "non_convergence", "!oscillate", "sample/change", False
    description = ("non-convergence: G and D keep oscillating instead of settling (the samples from a fixed z "
                   "jump a large fraction of the data's spread between log rows)")


class ClassImbalance(Detector):
    """The classes a domain classifier sees in an evaluation's generated samples are far from balanced."""

    name, tag = "class_imbalance", "!classes"
    share_key, entropy_key = "eval/class_min_share", "eval/class_entropy"
    description = ("class imbalance (partial mode collapse): G draws some classes far less often than others "
                   "(the rarest class's share of its samples, or the entropy of their class histogram, is low)")

    def __init__(self, *, min_share: float, entropy: float, **kw: int) -> None:
        super().__init__(**kw)
        self.min_share, self.entropy = min_share, entropy  # fractions of the fair share 1/K and of log K

    def check(self, row: Row) -> bool | None:
        if self.entropy_key not in row and self.share_key not in row:
            return None
        k = classes(row)
        rare = self.share_key in row and k is not None and row[self.share_key] * k < self.min_share
        flat = self.entropy_key in row and row[self.entropy_key] < self.entropy
        return bool(rare or flat)

    def evidence(self, row: Row) -> dict[str, float]:
        out = {key: row[key] for key in (self.share_key, self.entropy_key) if key in row}
        k = classes(row)
        if k is not None and self.share_key in row:
            out.update({"classes": k, "rarest share x classes": row[self.share_key] * k})
        return {**out, "min_share threshold": self.min_share, "entropy threshold": self.entropy}


def classes(row: Row) -> int | None:
    """K, the number of classes of an evaluation row's class histogram (its protocol's ``classes``)."""
    k = row.get("protocol", {}).get("classes")
    return int(k) if k else None


def mean_pairwise_distance(x: Tensor) -> Tensor:
    """Mean L2 distance over all pairs of rows of x (B, ...) -> scalar."""
    return torch.pdist(x.flatten(1).float()).mean()


class SampleProbe:
    """``sample/diversity`` and ``sample/change`` of fixed-z samples, relative to the real data's spread."""

    def __init__(self, real: Tensor, n_real: int = 256) -> None:
        index = torch.linspace(0, len(real) - 1, min(n_real, len(real)), device=real.device).round().long()
        self.real_spread = max(float(mean_pairwise_distance(real[index].flatten(1).float())), 1e-12)  # once, at start
        self.previous: Tensor | None = None  # the last probe's samples (B, D)

    def __call__(self, samples: Tensor) -> dict[str, float]:
        x = samples.detach().flatten(1).float()  # (B, D)
        if len(x) < 2:
            return {}
        out = {"sample/diversity": float(mean_pairwise_distance(x)) / self.real_spread}
        if self.previous is not None and self.previous.shape == x.shape:
            out["sample/change"] = float((x - self.previous.to(x.device)).norm(dim=1).mean()) / self.real_spread
        self.previous = x.clone()
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"previous": None if self.previous is None else self.previous.cpu()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.previous = state["previous"]


class SymptomMonitor:
    """Every detector and the sample probe: one update per logged row, 0/1 columns, tags, symptoms.json content."""

    def __init__(self, detectors: list[Detector], probe: SampleProbe) -> None:
        self.detectors, self.probe = detectors, probe

    @classmethod
    def from_config(cls, cfg: Any, *, real: Tensor) -> "SymptomMonitor":  # noqa: ANN401  (config.SymptomConfig)
        """The detectors with ``cfg``'s thresholds; ``real``: the training data (N, ...)."""
        common = {"patience": cfg.patience, "window": cfg.window, "warmup": cfg.warmup}
        per_eval = {"patience": cfg.class_patience, "window": cfg.class_patience, "warmup": cfg.warmup}
        return cls([
            ModeCollapse(threshold=cfg.collapse_diversity, **common),
            DOverpowers(accuracy=cfg.overpower_acc, grad_fraction=cfg.overpower_grad, **common),
            NonConvergence(threshold=cfg.nonconv_change, **common),
            ClassImbalance(min_share=cfg.class_min_share, entropy=cfg.class_entropy, **per_eval),
        ], SampleProbe(real))

    def update(self, row: dict[str, Any], step: int, *, samples: Tensor | None = None) -> list[Event]:
        """Add the sample signals of ``samples`` (fixed-z samples) and the 0/1 columns to ``row``; judge it."""
        if samples is not None:
            row.update(self.probe(samples))
        events = self.judge(row, step)
        row.update(self.columns())
        return events

    def judge(self, row: Row, step: int) -> list[Event]:
        """Every detector on ``row`` as it is (an evaluation row: only the detectors of its signals change)."""
        events = [d.update(row, step) for d in self.detectors]
        return [e for e in events if e is not None]

    def columns(self) -> dict[str, int]:
        """``symptom/<name>``: 1 while the symptom lasts, else 0."""
        return {f"symptom/{d.name}": int(d.active is not None) for d in self.detectors}

    def tags(self) -> str:
        """Short tags of the symptoms that last, for the progress bar, e.g. '!collapse'."""
        return " ".join(d.tag for d in self.detectors if d.active is not None)

    def episodes(self) -> list[dict[str, Any]]:
        """Every episode so far, in the order they began: the content of symptoms.json."""
        found = [e.to_dict() for d in self.detectors for e in d.episodes]
        return sorted(found, key=lambda e: (e["began"], e["name"]))

    def state_dict(self) -> dict[str, Any]:
        return {"detectors": {d.name: d.state_dict() for d in self.detectors}, "probe": self.probe.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for d in self.detectors:
            if d.name in state["detectors"]:
                d.load_state_dict(state["detectors"][d.name])
        self.probe.load_state_dict(state["probe"])


def warning_line(event: Event) -> str:
    """One line for the console when a symptom begins."""
    e = event.episode
    numbers = ", ".join(f"{k} {_fmt(v)}" for k, v in e.evidence.items())
    return f"symptom at step {e.detected}: {e.name} since step {e.began} ({numbers}). {e.description}"


def _fmt(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, float) and math.isfinite(value) else str(value)


__all__ = ["Detector", "SignalThreshold", "ModeCollapse", "DOverpowers", "NonConvergence", "ClassImbalance", "SymptomMonitor",
           "SampleProbe", "Episode", "Event", "mean_pairwise_distance", "warning_line"]
