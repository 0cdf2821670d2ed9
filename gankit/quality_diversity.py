"""The quality-diversity curve of Caccia et al. 2020 ("Language GANs Falling Short"): BLEU against the reference
split (quality) and self-BLEU (lack of diversity) of each text run's samples as the sampling temperature varies,
every run on the same axes. A GAN beats MLE only if its curve lies beyond MLE's (higher BLEU at the same self-BLEU):
one point at temperature 1 cannot show it, since a lower temperature buys quality with diversity for any model.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gankit.data.text import Vocabulary
from gankit.errors import ConfigError
from gankit.metrics.ngram import TEXYGEN_ORDERS, References, bleu, self_bleu

TEMPERATURES = (0.6, 0.8, 1.0, 1.2)


def references(run, split: str) -> References:  # noqa: ANN001  (Run)
    """The words of every sentence of ``split`` of the run's data set."""
    from gankit.data.datasets import load_configured

    data = load_configured(run.config.data, split=split)
    vocab = Vocabulary(data.tokens)
    return References([vocab.words(row) for row in data.x.tolist()])


def check_runs(runs: Sequence) -> None:  # noqa: ANN001  (Run)
    """Every run writes text, and all of one data set (the same references and vocabulary)."""
    if not runs:
        raise ConfigError("quality-diversity needs at least one run")
    for run in runs:
        if run.data.kind != "text":
            raise ConfigError(f"{run.path}: preset {run.config.preset!r} makes {run.data.kind} samples; the "
                              "quality-diversity curve is for text runs (mle, seqgan, relgan, maskgan)")
        if run.data.name != runs[0].data.name or run.data.tokens != runs[0].data.tokens:
            raise ConfigError(f"{run.path} was trained on {run.data.name!r} with another vocabulary than "
                              f"{runs[0].path}; compare runs of the same data")


def curve(runs: Sequence, temperatures: Sequence[float] = TEMPERATURES, *, n: int = 500, seed: int = 0,  # noqa: ANN001
          split: str = "test") -> list[dict[str, Any]]:
    """One row per run and temperature: BLEU-2..5 and self-BLEU-2..5 of n samples drawn with ``seed``."""
    check_runs(runs)
    if n < 2:
        raise ConfigError(f"--n {n}: self-BLEU needs at least 2 samples")
    refs, rows = references(runs[0], split), []
    vocab = Vocabulary(runs[0].data.tokens)  # check_runs: every run has this vocabulary
    for run in runs:
        for temperature in temperatures:
            hypotheses = [vocab.words(row) for row in run.sample(n, seed=seed, temperature=temperature).tolist()]
            row: dict[str, Any] = {"run": str(run.path), "preset": run.config.preset, "temperature": temperature}
            row.update({f"bleu{k}": v for k, v in bleu(hypotheses=hypotheses, references=refs).items()})
            row.update({f"self_bleu{k}": v for k, v in self_bleu(hypotheses).items()})
            rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    keys = [f"bleu{k}" for k in TEXYGEN_ORDERS] + [f"self_bleu{k}" for k in TEXYGEN_ORDERS]
    lines = ["| run | preset | temperature | " + " | ".join(keys) + " |", "|---" * (3 + len(keys)) + "|"]
    for row in rows:
        lines.append(f"| {Path(row['run']).name} | {row['preset']} | {row['temperature']:g} | "
                     + " | ".join(f"{row[k]:.3f}" for k in keys) + " |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path, order: int = 5) -> Path:
    """BLEU-order (x: quality) against self-BLEU-order (y: lower is more diverse), one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    for run in dict.fromkeys(row["run"] for row in rows):
        mine = [row for row in rows if row["run"] == run]
        ax.plot([r[f"bleu{order}"] for r in mine], [r[f"self_bleu{order}"] for r in mine], "o-",
                label=f"{mine[0]['preset']} ({Path(run).name})")
        for r in mine:
            ax.annotate(f"{r['temperature']:g}", (r[f"bleu{order}"], r[f"self_bleu{order}"]), fontsize=7)
    ax.set_xlabel(f"BLEU-{order} vs reference split (quality, higher is better)")
    ax.set_ylabel(f"self-BLEU-{order} (lower is more diverse)")
    ax.set_title("quality-diversity over the sampling temperature")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path
