"""End-to-end evaluation: the mode metric, `gankit eval`, protocol rows, compare, bench modes, reports."""
from __future__ import annotations

import json
import math
import re

import pytest
import torch

import gankit
from gankit.bench import Cell, margin, mean_se, modes_bench, quality_table
from gankit.cli import main
from gankit.data import MIXTURES, load_dataset
from gankit.evaluate import best_key, higher_is_better, is_better
from gankit.config import EvalConfig
from gankit.metrics import code_accuracy, inception_score, modes_2d
from gankit.metrics.domain import load_evaluator
from gankit.report import compare_text, summary, write_compare, write_report

FAST = ["train.progress=false", "device=cpu", "train.log_every=10", "train.sample_every=50", "train.checkpoint_every=50",
        "model.g_width=32", "model.d_width=32"]


@pytest.mark.parametrize("name, modes", [("ring8", 8), ("grid25", 25)])
def test_modes_on_exact_mixture_samples(name, modes) -> None:  # noqa: ANN001
    """Real mixture samples: every mode, >= 98.5% high quality (a 3-std disc holds 98.9% of a 2D Gaussian)."""
    x = load_dataset(name, split="test", seed=3).x[:2500]
    result = modes_2d(x, name)
    assert result["modes"] == modes
    assert result["high_quality"] >= 0.985
    assert result["reverse_kl"] < 0.02


@pytest.mark.parametrize("mode", range(8))
def test_modes_on_a_collapsed_generator(mode: int) -> None:
    """All samples around one ring8 centre: 1 mode, reverse KL log(8), and it is that mode which is covered."""
    centres, std = MIXTURES["ring8"]
    noise = torch.randn(2500, 2, generator=torch.Generator().manual_seed(mode), dtype=torch.float64)
    collapsed = torch.as_tensor(centres[mode]) + std * noise
    result = modes_2d(collapsed, "ring8")
    assert result["modes"] == 1 and result["reverse_kl"] == pytest.approx(math.log(8))
    # a 3-std disc holds 1 - exp(-9/2) of a 2D Gaussian; 3 standard errors of 2,500 draws either side
    assert result["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.007)
    # which mode: the data without this mode covers 7, and the collapsed samples bring back exactly that one
    data = load_dataset("ring8", split="test", seed=0)
    others = data.x[data.y != mode][:2500]
    assert modes_2d(others, "ring8")["modes"] == 7
    assert modes_2d(torch.cat([others.double(), collapsed]), "ring8")["modes"] == 8
    # the same draws around this mode and the next: two modes equally held, KL(q || uniform) = log(8 / 2)
    split = torch.cat([collapsed[:1250], torch.as_tensor(centres[(mode + 1) % 8]) + std * noise[:1250]])
    assert modes_2d(split, "ring8")["modes"] == 2
    assert modes_2d(split, "ring8")["reverse_kl"] == pytest.approx(math.log(4))
    # just outside the 3-std disc of the centre: no mode, nothing high quality
    outside = modes_2d(torch.as_tensor(centres[mode]) * (1 + 3.5 * std), "ring8")
    assert (outside["modes"], outside["high_quality"]) == (0, 0.0)
    far = modes_2d(torch.full((100, 2), 10.0), "ring8")
    assert far["modes"] == 0 and far["high_quality"] == 0.0


def test_points_are_scored_where_they_are(tmp_path) -> None:  # noqa: ANN001
    """grid25 spans -4..4: a generator placed exactly on the corner mode (4, 4) covers it with every sample
    (pixels are clamped to [-1, 1] before scoring; points must not be)."""
    run = gankit.train("gan", "grid25", out=tmp_path / "g", overrides=FAST + ["train.steps=1", "ema=null"])
    last = [m for m in run.recipe.G.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([4.0, 4.0]))
    row = run.evaluate("modes", n=500, log=False)
    assert (row["eval/modes"], row["eval/high_quality"]) == (1, 1.0)


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):  # noqa: ANN001, ANN201
    out = tmp_path_factory.mktemp("eval") / "gan"
    return gankit.train("gan", "ring8", out=out, overrides=FAST + ["train.steps=150"])


def test_eval_row_has_scores_and_protocol_and_is_logged(ring_run) -> None:  # noqa: ANN001
    row = ring_run.evaluate("modes,fid,kid,pr,dc", n=600, seed=1)
    for key in ("eval/fid", "eval/kid", "eval/kid_std", "eval/precision", "eval/recall", "eval/density",
                "eval/coverage", "eval/modes", "eval/high_quality", "eval/reverse_kl"):
        assert isinstance(row[key], (int, float)), key
    p = row["protocol"]
    assert (p["n_fake"], p["n_real"], p["reference"], p["seed"], p["sampler"]) == (600, 600, "ring8:test", 1, "ema")
    assert p["extractor"] == "points" and p["kid_subset_size"] == 600 and p["pr_k"] == 3
    logged = [json.loads(line) for line in (ring_run.path / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1]["eval/fid"] == row["eval/fid"] and logged[-1]["protocol"] == p
    again = ring_run.evaluate("modes,fid", n=600, seed=1, log=False)
    assert again["eval/fid"] == row["eval/fid"] and again["eval/modes"] == row["eval/modes"]  # fixed seeds
    other = ring_run.evaluate("fid", n=600, seed=2, log=False)
    assert other["eval/fid"] != row["eval/fid"]


def test_eval_cli_prints_scores_and_rejects_bad_metrics(ring_run, capsys) -> None:  # noqa: ANN001
    assert main(["eval", str(ring_run.path), "--metrics", "modes", "--n", "300", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "modes" in out and "300 generated vs 300 real (ring8:test)" in out
    before = (ring_run.path / "metrics.jsonl").read_text()
    assert main(["eval", str(ring_run.path), "--metrics", "fdi", "--device", "cpu"]) == 2
    assert re.search(r"unknown metric 'fdi'. Did you mean [^?]*'fid'", capsys.readouterr().err)
    assert main(["eval", str(ring_run.path), "--metrics", "class_acc", "--device", "cpu"]) == 2
    assert "conditional generator" in capsys.readouterr().err
    assert main(["eval", str(ring_run.path), "--metrics", "fid", "--n", "0"]) == 2
    assert (ring_run.path / "metrics.jsonl").read_text() == before  # nothing written by the failures


def test_best_checkpoint_selection_rules() -> None:
    assert best_key(EvalConfig(metrics=["kid", "fid"])) == "eval/kid"
    assert best_key(EvalConfig(metrics=["pr"], best="recall")) == "eval/recall"
    assert not higher_is_better("fid") and higher_is_better("eval/precision")
    assert is_better(3.0, None, "eval/fid") and is_better(2.0, 3.0, "eval/fid") and not is_better(4.0, 3.0, "eval/fid")
    assert is_better(0.9, 0.8, "eval/recall")
    with pytest.raises(gankit.errors.ConfigError, match=r"Did you mean [^?]*'fid'"):
        best_key(EvalConfig(metrics=["fid"], best="fdi"))


def test_compare_table_and_page(ring_run, tmp_path, capsys) -> None:  # noqa: ANN001
    other = gankit.train("lsgan", "ring8", out=tmp_path / "lsgan",
                         overrides=FAST + ["train.steps=60", "model.arch=mlp", "model.g_norm=batch"])
    other.evaluate("modes", n=200)
    ring_run.evaluate("modes", n=300)  # this test's own row, whichever tests of the module ran before it
    text = compare_text([summary(ring_run.path), summary(other.path)])
    assert "gan" in text and "lsgan" in text and "modes" in text
    assert main(["compare", str(ring_run.path), str(other.path), "--out", str(tmp_path / "c.html")]) == 0
    page = (tmp_path / "c.html").read_text()
    assert "2 runs compared" in page and "lsgan" in page and page.count("data:image/png;base64,") >= 3
    assert "different protocols" in page  # 200 vs 300 or 600 samples: the scores are flagged as not comparable
    assert main(["compare", str(tmp_path / "nope")]) == 2


def test_bench_modes_table_and_reuse(tmp_path) -> None:  # noqa: ANN001
    lines: list[str] = []
    cells = modes_bench(["gan"], ["ring8"], 2, tmp_path, steps=30, overrides=FAST, device="cpu", echo=lines.append)
    assert len(cells) == 1 and len(cells[0].values["modes"]) == 2 and len(lines) == 2
    md = (tmp_path / "modes.md").read_text()
    assert "| gan | ring8 |" in md and "±" in md
    stamp = (tmp_path / "gan-ring8-seed0" / "checkpoints" / "latest.pt").stat().st_mtime_ns
    again = modes_bench(["gan"], ["ring8"], 2, tmp_path, steps=30, overrides=FAST, device="cpu", echo=lines.append)
    assert again[0].values["modes"] == cells[0].values["modes"]  # finished runs are reused, not retrained
    assert (tmp_path / "gan-ring8-seed0" / "checkpoints" / "latest.pt").stat().st_mtime_ns == stamp
    assert mean_se([1.0, 3.0]) == (2.0, 1.0)


def test_bench_quality_scores_trained_and_untrained_with_the_presets_signal(tmp_path, capsys) -> None:  # noqa: ANN001
    """`gankit bench quality`: each preset's own eval.metrics, trained vs untrained G of the same seed, one table."""
    out = tmp_path / "q"
    assert main(["bench", "quality", "--presets", "gan", "--seeds", "2", "--steps", "30", "--n", "300", "--out", str(out),
                 "--device", "cpu", *FAST]) == 0
    cells = [Cell(**c) for c in json.loads((out / "quality.json").read_text())]
    values = cells[0].values
    assert cells[0].preset == "gan" and cells[0].data == "ring8" and len(values["trained/modes"]) == 2
    assert values["untrained/modes"] == [0.0, 0.0] and values["margin/modes"] == values["trained/modes"]
    md = (out / "quality.md").read_text()
    assert "| gan | ring8 | modes |" in md and "| gan | ring8 | reverse_kl |" in md and md in capsys.readouterr().out
    assert margin("fid", 10.0, 30.0) == 20.0 and margin("class_entropy", 0.9, 0.5) == pytest.approx(0.4)
    assert margin("psnr_bicubic", 1.0, 1.0) is None  # a baseline beside the scores: no direction, no margin
    baseline = Cell("srgan", "cifar10", {"trained/psnr": [22.0, 23.0], "untrained/psnr": [9.0, 10.0],
                                         "margin/psnr": [13.0, 13.0], "trained/psnr_bicubic": [21.0, 21.0],
                                         "untrained/psnr_bicubic": [21.0, 21.0]})
    lines = quality_table([baseline], 2).splitlines()
    assert lines[2] == "| srgan | cifar10 | psnr | 22.50 ± 0.50 | 9.50 ± 0.50 | 13.00 ± 0.00 | yes | 2 | 0.0 |"
    assert lines[3] == "| srgan | cifar10 | psnr_bicubic | 21.00 ± 0.00 | (baseline) | – |  | 2 | 0.0 |"
    assert main(["bench", "quality", "--presets", "nope", "--seeds", "1", "--out", str(tmp_path / "bad")]) == 2


def test_report_lists_evaluations_and_protocol(ring_run) -> None:  # noqa: ANN001
    ring_run.evaluate("modes", n=300)
    page = write_report(ring_run.path).read_text()
    for text in ("<h2>Symptoms</h2>", "<h2>Evaluation</h2>", "Protocol of the latest evaluation", "ring8:test",
                 "<h2>Losses</h2>", "Samples from a fixed z", "<h2>Config</h2>"):
        assert text in page, text
    assert "http://" not in page and "https://" not in page and "<script src" not in page  # self-contained


# report.html and compare.html in a real browser: tests/test_serve.py (headless Chromium, every picture decoded)


def test_eval_every_keeps_the_best_checkpoint_across_resume(tmp_path) -> None:  # noqa: ANN001
    over = FAST + ["train.steps=150", "eval.every=50", "eval.metrics=[modes]", "eval.best=high_quality", "eval.n=500"]
    run = gankit.train("gan", "ring8", out=tmp_path / "run", overrides=over)
    evals = [r for r in map(json.loads, (run.path / "metrics.jsonl").read_text().splitlines()) if r.get("kind") == "eval"]
    assert [r["step"] for r in evals] == [50, 100, 150]
    best = max(evals, key=lambda r: r["eval/high_quality"])  # first of equals is kept: strictly better replaces
    assert evals[-1]["best"]["step"] == best["step"] and evals[-1]["best"]["value"] == best["eval/high_quality"]
    best_run = gankit.load(run.path, device="cpu", checkpoint="best")
    assert best_run.step == best["step"] and best_run.checkpoint == "best.pt"
    again = best_run.evaluate(["modes"], n=500, log=False)
    assert again["eval/high_quality"] == best["eval/high_quality"]  # same weights, same seed: the same score
    resumed = gankit.resume(run.path, ["train.steps=200"])
    state = torch.load(resumed.path / "checkpoints" / "latest.pt", weights_only=True)
    assert state["best"]["step"] in (best["step"], 200) and state["step"] == 200


def test_domain_metrics_class_and_code_accuracy(tmp_path, evaluator_cache, monkeypatch) -> None:  # noqa: ANN001
    """Domain FID/IS during training; class accuracy of a cGAN; InfoGAN's code accuracy; all offline."""
    over = FAST + ["train.steps=400", "model.g_width=32", "model.d_width=32", "train.sample_every=200"]
    dcgan = gankit.train("dcgan", "digits", out=tmp_path / "dcgan",
                         overrides=over + ["eval.every=200", "eval.metrics=[fid,is,kid,pr]", "eval.features=domain",
                                           "eval.n=300"])
    rows = [r for r in map(json.loads, (dcgan.path / "metrics.jsonl").read_text().splitlines()) if r.get("kind") == "eval"]
    assert [r["step"] for r in rows] == [200, 400]
    assert rows[0]["protocol"]["extractor"] == "domain:digits" and len(rows[0]["protocol"]["weights_sha256"]) == 64
    assert 1.0 < rows[-1]["eval/is"] <= 10 and rows[-1]["eval/fid"] > 0
    assert (dcgan.path / "checkpoints" / "best.pt").is_file()
    labeller = load_evaluator("digits")  # trained and cached by the first evaluation
    # the logged IS is the closed form on the step-400 generator's samples at the evaluation's seed
    probs = torch.softmax(labeller.extract(dcgan.sample(300, seed=dcgan.config.eval.seed))[1].double(), dim=1)
    assert rows[-1]["eval/is"] == pytest.approx(inception_score(probs, splits=10)[0], rel=1e-4)

    cgan = gankit.train("cgan", "digits", out=tmp_path / "cgan0", overrides=FAST + ["train.steps=1"])
    acc0 = cgan.evaluate(["class_acc"], n=500)["eval/class_acc"]
    assert acc0 < 0.3, acc0  # untrained: near chance (a trained cGAN: tests/test_learning.py)

    info = gankit.train("infogan", "digits", out=tmp_path / "info", overrides=FAST + ["train.steps=2"])
    row = info.evaluate(["code_acc"], n=200)
    assert row["protocol"]["labeller"]["extractor"] == "domain:digits"
    codes = torch.arange(200) % 10  # balanced code values, as the evaluation draws them
    samples = info.sample(200, labels=codes, seed=info.config.eval.seed)
    assert row["eval/code_acc"] == code_accuracy(codes, labeller.extract(samples)[1])[0]
    # generators made by hand: each code value draws one image the labeller puts in class permutation[code]
    digits = load_dataset("digits", split="test")
    predicted = labeller.extract(digits.x)[1].argmax(1)
    bank = torch.stack([digits.x[predicted == k][0] for k in range(10)])  # (10, C, H, W): image k is a k
    code = info.recipe.layout.cat_slices()[0]
    permutation = torch.tensor([3, 7, 0, 9, 1, 4, 8, 2, 6, 5])
    made = {1.0: lambda c: permutation[c],  # disentangled: the code picks the digit
            0.1: lambda c: torch.full_like(c, 4),  # the code ignored: one class, one code value matched to it
            0.5: lambda c: torch.where(c < 5, permutation[c], permutation[0])}  # codes 5..9 all draw code 0's digit
    for expected, digit_of in made.items():
        generate = lambda latent, *_, **__: bank[digit_of(latent.z[:, code].argmax(1))]  # noqa: E731
        monkeypatch.setattr(info.recipe, "generate", generate)
        assert info.evaluate(["code_acc"], n=200, log=False)["eval/code_acc"] == expected
    with pytest.raises(gankit.errors.ConfigError, match="InfoGAN"):
        cgan.evaluate(["code_acc"], n=100)
