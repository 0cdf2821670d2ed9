"""The model card of a pretrained folder (README.md): a huggingface_hub ``ModelCard`` whose YAML header
(``ModelCardData``) says the library, tags, data set and the data's licence, and whose text gives the preset and its
paper, the data, the training budget, a sample grid (samples.png), every evaluation of the run with its protocol,
the symptoms found and how to load the model. ``history`` reads the run's metrics as the HTML report reads them
(gankit/report: ``training_rows``, ``eval_rows``, ``symptoms``); config.json keeps it, so a re-saved folder keeps
its card."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from gankit.data.datasets import DATASETS, data_licence
from gankit.report import eval_rows, symptoms, training_rows
from gankit.train.rundir import RunDir

SAMPLES_NAME = "samples.png"
SAMPLES = {"points": 1000}  # samples in the card's grid by data kind (a scatter plot wants more); else DEFAULT_SAMPLES
DEFAULT_SAMPLES, SENTENCES, SAMPLE_SEED = 64, 8, 0


def history(run: Any, earlier: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: ANN401  (Run)
    """What config.json and the card say of the training: the checkpoint, the budget (steps, batch size, wall time),
    every evaluation row of metrics.jsonl and the symptoms found. A Run loaded from a pretrained folder keeps what
    that folder's config.json (``earlier``) says, plus the evaluations run on it since (its folder's metrics.jsonl)."""
    rundir = RunDir(run.path)
    rows = rundir.rows()
    if earlier is not None:
        return {"checkpoint": earlier.get("checkpoint"), "training": earlier.get("training", {}),
                "evaluations": earlier.get("evaluations", []) + json_safe(eval_rows(rows)),
                "symptoms": earlier.get("symptoms", [])}
    trained = training_rows(rows)
    last = trained[-1] if trained else {}
    budget = {"steps": last.get("step", run.step), "planned_steps": run.config.train.steps,
              "batch_size": run.config.train.batch_size, "seconds": last.get("time"), "device": str(run.device)}
    return {"checkpoint": run.checkpoint, "training": budget, "evaluations": json_safe(eval_rows(rows)),
            "symptoms": json_safe(symptoms(rundir))}


def json_safe(value: Any) -> Any:  # noqa: ANN401
    """``value`` with every non-finite float written as a string ("inf", "nan"): strict JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return [json_safe(v) for v in value] if isinstance(value, list) else value


def card_data(run: Any, evaluations: list[dict[str, Any]] = ()) -> Any:  # noqa: ANN401  (Run -> ModelCardData)
    """The YAML header: library, tags, pipeline, data set, the data's licence (gankit.data.datasets.LICENCES) and,
    when the run was evaluated, the Hub's model-index (``eval_results``) with the latest evaluation's scores."""
    from huggingface_hub import ModelCardData

    licence = data_licence(run.data.name)
    tags = list(dict.fromkeys(["gankit", "gan", "pytorch", run.config.preset, run.config.recipe, run.data.kind]))
    extra = {"license_name": f"{run.data.name}-terms", "license_link": licence.link} if licence.hub_id == "other" else {}
    results = eval_results(run, evaluations[-1]) if evaluations else []
    if results:
        extra.update(model_name=f"{run.config.preset}-{Path(run.data.name).name}", eval_results=results)
    return ModelCardData(library_name="gankit", license=licence.hub_id, tags=tags, pipeline_tag=pipeline_tag(run),
                         datasets=[run.data.name] if run.data.name in DATASETS else None, **extra)


def eval_results(run: Any, row: dict[str, Any]) -> list[Any]:  # noqa: ANN401  (Run, an evaluation row)
    """One huggingface_hub ``EvalResult`` per finite score of the evaluation ``row``; its metric_config names the
    protocol (features, sample count, split), so the Hub's leaderboard shows what the number was measured with."""
    from huggingface_hub import EvalResult

    protocol = row.get("protocol", {})
    reference = str(protocol.get("reference", ""))  # "name:split"
    shared = "; ".join(f"{k}: {_value(v)}" for k, v in protocol.items() if not isinstance(v, dict))
    scores = {key.removeprefix("eval/"): value for key, value in row.items()
              if key.startswith("eval/") and isinstance(value, (int, float)) and math.isfinite(value)}
    return [EvalResult(task_type=pipeline_tag(run) or "other", dataset_type=run.data.name,
                       dataset_name=Path(run.data.name).name, dataset_split=reference.rpartition(":")[2] or None,
                       metric_type=name, metric_value=value,
                       metric_config="; ".join(filter(None, [shared, _value(protocol.get(name, ""))])) or None)
            for name, value in scores.items()]


def pipeline_tag(run: Any) -> str | None:  # noqa: ANN401  (Run)
    """The Hub's task for this kind of model, where one fits."""
    from gankit.recipes.translation import Translation

    if isinstance(run.recipe, Translation):
        return "image-to-image"
    if getattr(run.recipe, "needs_captions", False):
        return "text-to-image"
    return {"image": "unconditional-image-generation", "text": "text-generation"}.get(run.data.kind)


def write_card(run: Any, config: dict[str, Any], folder: Path, *, load_as: str) -> None:  # noqa: ANN401  (Run)
    """README.md (and samples.png, which it shows) into ``folder``."""
    from huggingface_hub import ModelCard

    samples = write_samples(run, folder)
    body = [title(run), model_section(run, config), data_section(run), training_section(config["training"]),
            samples, evaluation_section(config["evaluations"]), symptom_section(config["symptoms"]),
            usage_section(run, load_as)]
    card = ModelCard(f"---\n{card_data(run, config['evaluations']).to_yaml()}\n---\n\n" + "\n\n".join(body) + "\n")
    card.save(folder / "README.md")


def write_samples(run: Any, folder: Path) -> str:  # noqa: ANN401  (Run)
    """The card's samples: samples.png (a grid, seed 0) linked, or for text runs the sentences themselves."""
    from gankit.viz import save_png

    if run.writes_text():
        lines = run.sentences(SENTENCES, seed=SAMPLE_SEED)
        return "## Samples\n\n" + f"{len(lines)} samples (seed {SAMPLE_SEED}):\n\n```text\n" + "\n".join(lines) + "\n```"
    n = SAMPLES.get(run.data.kind, DEFAULT_SAMPLES)
    save_png(run.grid(n, seed=SAMPLE_SEED), folder / SAMPLES_NAME)
    return f"## Samples\n\n{n} samples (seed {SAMPLE_SEED}), `run.grid({n}, seed={SAMPLE_SEED})`:\n\n![samples]({SAMPLES_NAME})"


def title(run: Any) -> str:  # noqa: ANN401  (Run)
    return (f"# {run.config.preset} on {Path(run.data.name).name}\n\nA `{run.config.preset}` generator trained with "
            f"gankit for {run.step} steps on `{run.data.name}`.")


def model_section(run: Any, config: dict[str, Any]) -> str:  # noqa: ANN401  (Run)
    """Preset, recipe (its class docstring names the paper), paper and what the weights hold."""
    from gankit.recipes import RECIPES

    weights = config["weights"]
    kept = ", ".join(f"`{n}`" for n in weights["networks"])
    left = ("; left out: " + ", ".join(f"`{n}`" for n in weights["left_out"]) + " (the discriminators, needed only to "
            "train on)") if weights["left_out"] else ""
    return "\n".join(["## Model", "", f"- preset: `{run.config.preset}`",
                      f"- recipe: `{run.config.recipe}`: {RECIPES.doc(run.config.recipe)}",
                      f"- paper: {run.config.paper or 'see the recipe'}",
                      f"- loss: `{run.config.loss}`; EMA of G: {run.config.ema if run.config.ema is not None else 'off'}"
                      f" (samples come from `{weights['sampler']}`)",
                      f"- weights: `model.safetensors`, {weights['parameters']:,} values in {weights['tensors']} "
                      f"tensors: {kept}{left}",
                      f"- from the run's `{config['checkpoint']}` at step {run.step}; the full config is in "
                      "`config.json`"])


def data_section(run: Any) -> str:  # noqa: ANN401  (Run)
    """The data set, its shape and classes, and its licence."""
    licence = data_licence(run.data.name)
    classes = f"{run.data.num_classes} classes" if run.data.num_classes else "no classes"
    if run.data.class_names and len(run.data.class_names) <= 20:
        classes += " (" + ", ".join(run.data.class_names) + ")"
    link = f" ({licence.link})" if licence.link else ""
    return "\n".join(["## Data", "", f"- data set: `{run.data.name}` ({run.data.kind}, samples of shape "
                      f"{tuple(run.data.sample_shape)}, {classes})",
                      f"- licence of the data: **{licence.hub_id}**: {licence.terms}{link}"])


def training_section(budget: dict[str, Any]) -> str:
    """Steps, batch size and wall time."""
    seconds = budget.get("seconds")
    wall = "not recorded" if not isinstance(seconds, (int, float)) else (
        f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h")
    return "\n".join(["## Training budget", "", f"- steps: {budget.get('steps')} of {budget.get('planned_steps')} "
                      f"planned", f"- batch size: {budget.get('batch_size')}", f"- wall time: {wall} on "
                      f"{budget.get('device', 'an unrecorded device')}"])


def _value(value: Any) -> str:  # noqa: ANN401
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def evaluation_section(evals: list[dict[str, Any]]) -> str:
    """Every evaluation row of metrics.jsonl: a table of scores, then each one's protocol."""
    if not evals:
        return ("## Evaluation\n\nNot evaluated: score the run with `gankit eval RUN` (or `run.evaluate()`) "
                "before publishing and the card lists the scores with their protocol.")
    keys = sorted({k for r in evals for k in r if k.startswith("eval/")})
    head = ["#", "step", "checkpoint", *(k.removeprefix("eval/") for k in keys)]
    lines = ["## Evaluation", "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for i, row in enumerate(evals, 1):
        cells = [str(i), str(row.get("step")), str(row.get("checkpoint", ""))]
        lines.append("| " + " | ".join(cells + [_value(row[k]) if k in row else "" for k in keys]) + " |")
    lines += ["", "Protocols (scores are comparable only under the same protocol):", ""]
    lines += [f"{i}. " + "; ".join(f"{k}: {_value(v)}" for k, v in row.get("protocol", {}).items())
              for i, row in enumerate(evals, 1)]
    return "\n".join(lines)


def symptom_section(found: list[dict[str, Any]]) -> str:
    """The training symptoms the detectors found (symptoms.json), as the HTML report lists them."""
    if not found:
        return "## Symptoms\n\nNone detected during training."
    lines = ["## Symptoms", "", "The detectors flagged (see gankit's README, 'Symptoms'):", ""]
    for s in found:
        ended = s.get("ended") if s.get("ended") is not None else "still present"
        lines.append(f"- `{s.get('name')}` from step {s.get('began')} to {ended}: {s.get('description', '')}")
    return "\n".join(lines)


def usage_section(run: Any, load_as: str) -> str:  # noqa: ANN401  (Run)
    """How to load the model and draw from it, for this kind of model."""
    from gankit.recipes.translation import Translation

    code = ["import gankit", "", f"run = gankit.from_pretrained({load_as!r})"]
    if run.writes_text():
        code.append("print(run.sentences(8, seed=0))")
    elif isinstance(run.recipe, Translation):
        code += [f"outputs = run.translate(images)  # images (N, {', '.join(map(str, run.recipe.input_shape))}) "
                 "in [-1, 1]", "grid = run.grid(8)  # translates the training data set's test split (needs it here)"]
    else:
        labels = ", labels=0" if run.recipe.label_classes() else ""
        what = "images (16, C, H, W) in [-1, 1]" if run.data.kind == "image" else f"{run.data.kind} samples"
        code += [f"samples = run.sample(16{labels}, seed=0)  # {what}",
                 "from gankit.viz import save_png", "save_png(run.grid(64, seed=0), 'samples.png')"]
    return ("## How to use\n\nWith gankit installed (the weights are safetensors: no pickle is loaded):\n\n"
            "```python\n" + "\n".join(code) + "\n```")
