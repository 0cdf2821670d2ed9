"""Self-contained HTML reports: one run (``write_report``) or several side by side (``write_compare``).

Everything is inlined (PNG plots and sample grids as data URIs, CSS in the page), so a
report opens from disk in any browser with no server and can be mailed as one file.
"""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from gankit.train.rundir import RunDir, write_text_atomic

STYLE = ("body{font-family:system-ui,sans-serif;max-width:1150px;margin:auto;padding:0 1em;color:#222}"
         "img{max-width:100%}table{border-collapse:collapse;margin:.5em 0}"
         "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em}"
         "th{background:#f3f3f3}.warn{color:#a40}.ok{color:#070}figure{display:inline-block;margin:.3em}"
         "pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:.85em}")


def png_data_uri(data: bytes) -> str:
    """PNG bytes as a data URI an <img> shows (the reports and the explorer embed their pictures this way)."""
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return _esc(value)


def _plot(series: dict[str, list[tuple[float, float]]], *, title: str, ylabel: str = "", logy: bool = False) -> bytes:
    """PNG of named (step, value) series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    for name, pts in series.items():
        if pts:
            ax.plot(*zip(*pts), label=name, linewidth=1, marker="o" if len(pts) < 30 else None, markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if logy:
        ax.set_yscale("symlog", linthresh=1e-3)
    if series:
        ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def training_rows(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("kind") != "eval"]


def eval_rows(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("kind") == "eval"]


def series(rows: list[dict], keys: list[str]) -> dict[str, list[tuple[float, float]]]:
    return {k: [(r["step"], r[k]) for r in rows if isinstance(r.get(k), (int, float))] for k in keys}


DIAGNOSTICS = ("sample/", "grad_norm", "d_acc")  # the symptom detectors' signals, plotted apart from the losses


def loss_plot(rows: list[dict]) -> bytes:
    """Every logged loss and statistic (not learning rates, symptom flags or detector signals) against step."""
    keys = sorted({k for r in rows for k in r if "/" in k and not k.startswith(("lr/", "symptom/", "eval/"))
                   and not any(d in k for d in DIAGNOSTICS)})
    return _plot(series(rows, keys), title="losses and statistics")


def diagnostics_plot(rows: list[dict]) -> bytes | None:
    """The symptom detectors' signals: sample diversity and change, D's ranking accuracy, gradient norms."""
    keys = sorted({k for r in rows for k in r if any(d in k for d in DIAGNOSTICS)})
    return _plot(series(rows, keys), title="symptom signals", logy=True) if keys else None


def symptoms(run: RunDir) -> list[dict]:
    """The symptoms recorded by the trainer's detectors (symptoms.json), [] when none or absent."""
    path = run.path / "symptoms.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    return data if isinstance(data, list) else data.get("symptoms", [])


def _table(header: list[str], body: list[list[Any]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><tr>{head}</tr>{rows}</table>"


def _evidence(evidence: dict[str, Any]) -> str:
    """The numbers that made a detector's call, e.g. 'eval/class_min_share 0.002, classes 10, ...'."""
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in evidence.items())


def _symptom_section(found: list[dict], symptoms_on: bool) -> str:
    if not found:
        note = "none detected" if symptoms_on else "detectors were off (symptoms.enabled=false)"
        return f"<h2>Symptoms</h2><p class='ok'>{note}</p>"
    body = [[s.get("name"), s.get("began"), s.get("ended") if s.get("ended") is not None else "still present",
             s.get("description", ""), _evidence(s.get("evidence", {}))] for s in found]
    return ("<h2>Symptoms</h2><p class='warn'>The detectors flagged the failure symptoms below; "
            "see README 'Symptoms' for what each means and what to try.</p>"
            + _table(["symptom", "began at step", "ended", "what", "evidence"], body))


def _eval_section(evals: list[dict]) -> str:
    if not evals:
        return ("<h2>Evaluation</h2><p>No evaluation yet: <code>gankit eval RUN --metrics fid,kid,is,pr</code>, "
                "or train with <code>eval.every=N</code>.</p>")
    keys = sorted({k for r in evals for k in r if k.startswith("eval/")})
    body = [[r["step"], r.get("checkpoint", "")] + [r.get(k, "") for k in keys] for r in evals]
    parts = ["<h2>Evaluation</h2>", _table(["step", "checkpoint"] + [k.removeprefix("eval/") for k in keys], body)]
    curves = {k: v for k, v in series(evals, keys).items() if len(v) > 1 and not k.endswith("_std")}
    if curves:
        parts.append(f'<img alt="metrics" src="{png_data_uri(_plot(curves, title="evaluation scores"))}">')
    protocol = evals[-1].get("protocol", {})
    parts.append("<h3>Protocol of the latest evaluation</h3>"
                 + _table(["field", "value"], [[k, json.dumps(v) if isinstance(v, (dict, list)) else v]
                                               for k, v in protocol.items()]))
    return "\n".join(parts)


def write_report(run_path: str | Path) -> Path:
    """Write report.html into the run directory and return its path."""
    run = RunDir(run_path)
    run.write_text(run.report, report_page(run_path))
    return run.report


def report_page(run_path: str | Path) -> str:
    """The HTML of a run's report, built in memory (``write_report`` writes it; ``gankit serve`` shows it)."""
    from gankit import config as cfgmod

    run = RunDir(run_path)
    rows = run.rows()
    train_rows, evals = training_rows(rows), eval_rows(rows)
    cfg = cfgmod.from_yaml(run.config) if run.config.is_file() else None
    samples = sorted(run.samples.glob("step_*.png"))
    shown = samples if len(samples) <= 6 else [samples[i * (len(samples) - 1) // 5] for i in range(6)]
    title = f"{cfg.preset} on {cfg.data.name}" if cfg else run.path.name
    parts = [f"<h1>gankit: {_esc(title)}</h1>", f"<p>run directory <code>{_esc(run.path)}</code>"]
    if cfg and cfg.paper:
        parts.append(f"<br>{_esc(cfg.paper)}")
    if train_rows:
        last = train_rows[-1]
        parts.append(f"<br>step {last['step']} of {cfg.train.steps if cfg else '?'}, {last.get('time', 0):.0f} s of training")
    parts.append("</p>")
    parts.append(_symptom_section(symptoms(run), cfg.symptoms.enabled if cfg else True))
    parts.append(_eval_section(evals))
    if train_rows:
        parts.append(f'<h2>Losses</h2><img alt="losses" src="{png_data_uri(loss_plot(train_rows))}">')
        diagnostics = diagnostics_plot(train_rows)
        if diagnostics:
            parts.append(f'<img alt="symptom signals" src="{png_data_uri(diagnostics)}">')
    if shown:
        parts.append("<h2>Samples from a fixed z over training</h2><div>")
        for path in shown:
            parts.append(f'<figure><img alt="{path.stem}" src="{png_data_uri(path.read_bytes())}">'
                         f"<figcaption>{path.stem}</figcaption></figure>")
        parts.append("</div>")
    parts.append(_sentences_section(run))
    stages = sorted(run.samples.glob("stage_*.png"))  # recipes that train in stages (ProGAN): each one's last grid
    if stages:
        parts.append("<h2>Samples at the end of each training stage</h2><div>")
        for path in stages:
            step, name = path.stem.split("_", 2)[1:]
            parts.append(f'<figure><img alt="{_esc(path.stem)}" src="{png_data_uri(path.read_bytes())}">'
                         f"<figcaption>{_esc(name)} (step {int(step)})</figcaption></figure>")
        parts.append("</div>")
    if run.config.is_file():
        parts.append(f"<h2>Config</h2><pre>{_esc(run.config.read_text())}</pre>")
    return _page("gankit report", parts)


def _spread(paths: list[Path], count: int = 6) -> list[Path]:
    """At most ``count`` of ``paths``, evenly spread, the first and the last included."""
    return paths if len(paths) <= count else [paths[i * (len(paths) - 1) // (count - 1)] for i in range(count)]


def _sentences_section(run: RunDir, lines: int = 8) -> str:
    """Text runs: the first sentences of the fixed latents over training, and at the end of each stage."""
    parts = []
    for pattern, heading in (("step_*.txt", "Sentences from a fixed latent over training"),
                             ("stage_*.txt", "Sentences at the end of each training stage")):
        files = _spread(sorted(run.samples.glob(pattern)))
        if files:
            parts.append(f"<h2>{heading}</h2>")
            for path in files:
                text = path.read_text(encoding="utf-8").splitlines()[:lines]
                parts.append(f"<h3>{_esc(path.stem)}</h3><pre>{_esc(chr(10).join(text))}</pre>")
    return "\n".join(parts)


def _page(title: str, parts: list[str]) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(title)}</title>"
            f"<style>{STYLE}</style></head><body>" + "\n".join(parts) + "</body></html>")


# --- several runs ------------------------------------------------------------------------
def summary(run_path: str | Path) -> dict[str, Any]:
    """One row of ``gankit compare``: what the run is, how far it got, its latest scores and symptoms."""
    from gankit import config as cfgmod
    from gankit.errors import ConfigError

    run = RunDir(run_path)
    if not run.config.is_file():
        raise ConfigError(f"{run.path} is not a gankit run directory (no config.yaml)")
    cfg = cfgmod.from_yaml(run.config)
    rows = run.rows()
    train_rows, evals = training_rows(rows), eval_rows(rows)
    last = train_rows[-1] if train_rows else {}
    latest_eval = evals[-1] if evals else {}
    return {"run": run.path.name, "path": str(run.path), "preset": cfg.preset, "data": cfg.data.name,
            "step": last.get("step", 0), "steps": cfg.train.steps, "seconds": last.get("time", 0.0),
            "scores": {k.removeprefix("eval/"): v for k, v in latest_eval.items() if k.startswith("eval/")},
            "protocol": latest_eval.get("protocol", {}), "symptoms": [s.get("name") for s in symptoms(run)],
            "rows": train_rows, "evals": evals, "last_sample": (sorted(run.samples.glob("step_*.png")) or [None])[-1],
            "last_text": (sorted(run.samples.glob("step_*.txt")) or [None])[-1]}


def protocol_mismatches(summaries: list[dict]) -> list[str]:
    """Protocol fields that differ between runs with scores (their scores are then not comparable)."""
    fields = ("extractor", "weights_sha256", "resize", "n_real", "n_fake", "reference")
    scored = [s for s in summaries if s["protocol"]]
    return [f for f in fields if len({json.dumps(s["protocol"].get(f)) for s in scored}) > 1]


def compare_text(summaries: list[dict]) -> str:
    """The comparison as a plain-text table for the terminal."""
    keys = sorted({k for s in summaries for k in s["scores"] if not k.endswith("_std")})
    header = ["run", "preset", "data", "step", "minutes"] + keys + ["symptoms"]
    body = [[s["run"], s["preset"], s["data"], s["step"], f"{s['seconds'] / 60:.1f}"]
            + [_fmt(s["scores"].get(k, "–")) for k in keys] + [",".join(s["symptoms"]) or "none"] for s in summaries]
    widths = [max(len(str(r[i])) for r in [header] + body) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header] + body]
    mismatch = protocol_mismatches(summaries)
    if mismatch:
        lines.append(f"warning: the runs were evaluated under different protocols ({', '.join(mismatch)}); "
                     "their scores are not comparable. Re-run `gankit eval` with the same --features/--n/--split.")
    return "\n".join(lines)


def write_compare(run_paths: list[str | Path], out: str | Path) -> Path:
    """One HTML page with the runs side by side: table, loss and score curves, last samples."""
    import os

    summaries = [summary(p) for p in run_paths]
    keys = sorted({k for s in summaries for k in s["scores"] if not k.endswith("_std")})
    parts = [f"<h1>gankit: {len(summaries)} runs compared</h1>"]
    body = [[s["run"], s["preset"], s["data"], f"{s['step']}/{s['steps']}", f"{s['seconds'] / 60:.1f}"]
            + [s["scores"].get(k, "–") for k in keys] + [", ".join(s["symptoms"]) or "none"] for s in summaries]
    parts.append(_table(["run", "preset", "data", "step", "minutes"] + keys + ["symptoms"], body))
    mismatch = protocol_mismatches(summaries)
    if mismatch:
        parts.append(f"<p class='warn'>The runs were evaluated under different protocols ({_esc(', '.join(mismatch))}); "
                     "their scores are not comparable.</p>")
    for key in keys:
        curves = {s["run"]: [(r["step"], r[f"eval/{key}"]) for r in s["evals"] if f"eval/{key}" in r] for s in summaries}
        if any(len(v) > 1 for v in curves.values()):
            parts.append(f'<img alt="{_esc(key)}" src="{png_data_uri(_plot(curves, title=key))}">')
    loss_keys = sorted({k for s in summaries for r in s["rows"] for k in r if k.startswith("G/")})
    for key in loss_keys[:3]:
        curves = {s["run"]: [(r["step"], r[key]) for r in s["rows"] if key in r] for s in summaries}
        parts.append(f'<img alt="{_esc(key)}" src="{png_data_uri(_plot(curves, title=key))}">')
    parts.append("<h2>Last samples</h2><div>")
    for s in summaries:
        if s["last_sample"] is not None:
            parts.append(f'<figure><img alt="{_esc(s["run"])}" src="{png_data_uri(s["last_sample"].read_bytes())}">'
                         f"<figcaption>{_esc(s['run'])} ({_esc(s['last_sample'].stem)})</figcaption></figure>")
        if s.get("last_text") is not None:
            text = s["last_text"].read_text(encoding="utf-8").splitlines()[:8]
            parts.append(f"<h3>{_esc(s['run'])} ({_esc(s['last_text'].stem)})</h3><pre>{_esc(chr(10).join(text))}</pre>")
    parts.append("</div>")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, _page("gankit compare", parts))
    return out
