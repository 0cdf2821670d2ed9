"""A self-contained HTML report of a run: loss curves, samples over time, config."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from gankit.train.rundir import RunDir


def _png_data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def loss_plot(rows: list[dict]) -> bytes:
    """PNG of every logged loss/statistic against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for r in rows for k in r if "/" in k and not k.startswith("lr/")})
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for key in keys:
        pts = [(r["step"], r[key]) for r in rows if key in r]
        ax.plot(*zip(*pts), label=key, linewidth=1)
    ax.set_xlabel("step")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def write_report(run_path: str | Path) -> Path:
    """Write report.html into the run directory and return its path."""
    run = RunDir(run_path)
    rows = run.rows()
    samples = sorted(run.samples.glob("step_*.png"))
    shown = samples if len(samples) <= 6 else [samples[i * (len(samples) - 1) // 5] for i in range(6)]
    parts = [f"<h1>gankit run: {html.escape(run.path.name)}</h1>"]
    if rows:
        last = rows[-1]
        parts.append(f"<p>step {last['step']}, {last['time']:.0f} s</p>")
        parts.append(f'<h2>Losses</h2><img alt="losses" src="{_png_data_uri(loss_plot(rows))}">')
    if shown:
        parts.append("<h2>Samples from a fixed z over training</h2><div>")
        for path in shown:
            parts.append(f'<figure style="display:inline-block"><img alt="{path.stem}" src="{_png_data_uri(path.read_bytes())}">'
                         f"<figcaption>{path.stem}</figcaption></figure>")
        parts.append("</div>")
    if run.config.is_file():
        parts.append(f"<h2>Config</h2><pre>{html.escape(run.config.read_text())}</pre>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>gankit report</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}img{max-width:100%}</style></head><body>"
            + "\n".join(parts) + "</body></html>")
    run.write_text(run.report, page)
    return run.report
