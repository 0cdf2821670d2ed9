"""Failure-symptom detectors: synthetic signal sequences, then real short runs that have (and lack) each symptom."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

import gankit
from gankit.config import SymptomConfig
from gankit.recipes.base import ranking_accuracy
from gankit.train.symptoms import ClassImbalance, DOverpowers, ModeCollapse, NonConvergence, SampleProbe, SymptomMonitor
from tests.conftest import TINY

CFG = SymptomConfig()
COMMON = {"patience": CFG.patience, "window": CFG.window, "warmup": CFG.warmup}
EVERY = 25  # log interval of the synthetic sequences


def feed(detector, values: list[dict]) -> list[tuple[str, int, int]]:  # noqa: ANN001
    """Rows logged every 25 steps -> (kind, began or ended, step of the event) for each event."""
    out = []
    for i, row in enumerate(values):
        event = detector.update(row, (i + 1) * EVERY)
        if event is not None:
            ep = event.episode
            out.append((event.kind, ep.began if event.kind == "began" else ep.ended, (i + 1) * EVERY))
    return out


def noisy(n: int, centre: float, spread: float, seed: int = 0) -> list[float]:
    g = torch.Generator().manual_seed(seed)
    return (centre + spread * (2 * torch.rand(n, generator=g) - 1)).tolist()


# ---------------------------------------------------------------- signals
def test_ranking_accuracy_counts_pairs_and_ignores_the_loss_scale() -> None:
    real, fake = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.5, 2.0])
    # pairs (1,0) (2,0) (2,1.5) ranked right, (2,2) a tie, (1,1.5) (1,2) wrong: (3 + 0.5) / 6
    torch.testing.assert_close(ranking_accuracy(real=real, fake=fake), torch.tensor(3.5 / 6))
    torch.testing.assert_close(ranking_accuracy(real=5 * real - 7, fake=5 * fake - 7), torch.tensor(3.5 / 6))
    torch.testing.assert_close(ranking_accuracy(real=fake, fake=real), torch.tensor(2.5 / 6))


def test_sample_probe_diversity_and_change() -> None:
    real = torch.tensor([[0.0, 0.0], [3.0, 4.0]])  # mean pairwise distance 5
    probe = SampleProbe(real)
    first = probe(torch.tensor([[0.0, 0.0], [0.0, 1.0], [0.0, 2.0]]))  # distances 1, 2, 1
    torch.testing.assert_close(first["sample/diversity"], (4 / 3) / 5)
    assert "sample/change" not in first  # nothing to compare with yet
    second = probe(torch.tensor([[3.0, 4.0], [0.0, 1.0], [0.0, 2.0]]))  # one sample moved by 5
    torch.testing.assert_close(second["sample/change"], (5 / 3) / 5)
    assert probe(torch.zeros(3, 2))["sample/diversity"] == 0.0


# ---------------------------------------------------------------- detectors on synthetic rows
def test_mode_collapse_begins_and_ends_at_the_right_steps() -> None:
    diversity = noisy(16, 1.0, 0.2) + noisy(8, 0.1, 0.05) + noisy(8, 0.9, 0.1)  # collapse at rows 17..24
    events = feed(ModeCollapse(threshold=CFG.collapse_diversity, **COMMON), [{"sample/diversity": d} for d in diversity])
    # began at row 17 (step 425), reported on its 4th row; ended at row 25 (step 625), reported 4 rows later
    assert events == [("began", 425, 500), ("ended", 625, 700)]


def test_mode_collapse_ignores_a_healthy_sequence_and_single_dips() -> None:
    diversity = noisy(40, 1.0, 0.25)
    for i in (12, 13, 20, 30, 33):  # short dips: never 4 of any 6 rows
        diversity[i] = 0.1
    assert feed(ModeCollapse(threshold=CFG.collapse_diversity, **COMMON), [{"sample/diversity": d} for d in diversity]) == []


def test_nothing_is_reported_during_the_warmup_but_the_true_start_is_kept() -> None:
    rows = [{"sample/diversity": 0.05}] * 20  # collapsed from the first row on
    assert feed(ModeCollapse(threshold=CFG.collapse_diversity, **COMMON), rows) == [("began", 25, 300)]


def test_d_overpowers_needs_a_perfect_d_and_a_vanished_g_gradient() -> None:
    def detector() -> DOverpowers:
        return DOverpowers(accuracy=CFG.overpower_acc, grad_fraction=CFG.overpower_grad, **COMMON)

    grad = noisy(12, 1.0, 0.3) + [1e-3 * g for g in noisy(12, 1.0, 0.5)]  # G's gradient vanishes from row 13
    perfect = [{"D/d_acc": 1.0, "G/grad_norm": g} for g in grad]
    assert feed(detector(), perfect) == [("began", 325, 400)]
    # a healthy DCGAN's first rows: D at 100% while G's gradient is at its largest
    assert feed(detector(), [{"D/d_acc": 0.999, "G/grad_norm": g} for g in noisy(24, 1.0, 0.3)]) == []
    # G's gradient small but D not winning: not this symptom
    assert feed(detector(), [{"D/d_acc": 0.9, "G/grad_norm": g} for g in grad]) == []
    # a recipe that records no D accuracy is never judged
    assert feed(detector(), [{"G/grad_norm": g} for g in grad]) == []


def test_non_convergence_on_jumping_samples_not_on_settling_ones() -> None:
    def detector() -> NonConvergence:
        return NonConvergence(threshold=CFG.nonconv_change, **COMMON)

    settling = [0.7 * 0.85**i for i in range(40)]  # a healthy run: large moves at first, then small
    assert feed(detector(), [{"sample/change": c} for c in settling]) == []
    jumping = settling[:16] + noisy(16, 1.0, 0.45)  # from row 17 the samples jump around
    assert feed(detector(), [{"sample/change": c} for c in jumping]) == [("began", 425, 500)]


def test_detector_state_survives_a_weights_only_checkpoint() -> None:
    """A monitor saved mid-streak and restored reports what an uninterrupted one does."""
    def monitor() -> SymptomMonitor:
        return SymptomMonitor.from_config(CFG, real=torch.randn(50, 2, generator=torch.Generator().manual_seed(0)))

    rows = [{"sample/diversity": d, "D/d_acc": 1.0, "G/grad_norm": g}
            for d, g in zip(noisy(14, 1.0, 0.1) + [0.05] * 10, noisy(10, 1.0, 0.1) + [1e-4] * 14)]
    straight, first = monitor(), monitor()
    for i, row in enumerate(rows[:15]):
        straight.update(dict(row), (i + 1) * EVERY)
        first.update(dict(row), (i + 1) * EVERY)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    resumed = monitor()
    resumed.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    for i, row in enumerate(rows[15:], start=15):
        assert straight.update(dict(row), (i + 1) * EVERY) == resumed.update(dict(row), (i + 1) * EVERY)
    assert straight.episodes() == resumed.episodes() and {e["name"] for e in straight.episodes()} == {
        "mode_collapse", "d_overpowers"}


# ---------------------------------------------------------------- real runs
QUIET = ["train.progress=false", "device=cpu", "train.deterministic=true", "train.sample_every=100000",
         "train.checkpoint_every=100000", "optim.decay_from=null"]
# each run takes 5-20 s on one CPU thread (ring8 at PacGAN's sizes, 400-500 steps; digits 400 steps)
COLLAPSE = ["model.g_norm=null", "optim.lr=1e-3", "train.steps=400"]  # Metz et al. 2017's ring: G hops between single modes
OSCILLATE = ["optim.groups.G.lr=1e-2", "train.steps=400"]  # G 100x faster than D: they chase each other
OVERPOWER = ["loss=minimax", "n_critic=5", "optim.groups.D.lr=2e-3", "optim.groups.G.lr=1e-5", "model.g_width=32", "model.d_width=32",
             "train.steps=400", "train.log_every=25"]  # the saturating loss against a D trained to optimality


def symptoms(run_dir: Path) -> dict[str, dict]:
    return {e["name"]: e for e in json.loads((run_dir / "symptoms.json").read_text())}


def rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def assert_reported(run_dir: Path, name: str) -> dict:
    """``name`` is in symptoms.json with a plausible start, and its 0/1 column in metrics.jsonl turns on when reported."""
    found = symptoms(run_dir)
    assert name in found, found
    episode = found[name]
    assert 0 < episode["began"] <= episode["detected"] and episode["detected"] >= CFG.warmup, episode
    assert episode["description"] and episode["evidence"]
    flags = {r["step"]: r[f"symptom/{name}"] for r in rows(run_dir)}
    assert flags[episode["detected"]] == 1 and all(v == 0 for s, v in flags.items() if s < episode["detected"])
    return episode


@pytest.fixture(scope="module")
def collapsed(tmp_path_factory) -> Path:  # noqa: ANN001
    out = tmp_path_factory.mktemp("symptoms") / "collapse"
    gankit.train("gan", "ring8", out=out, overrides=QUIET + COLLAPSE)
    return out


def test_healthy_ring8_run_has_no_symptoms(tmp_path: Path) -> None:
    run = gankit.train("gan", "ring8", out=tmp_path / "r", overrides=QUIET + ["train.steps=500"])
    assert symptoms(run.path) == {}
    last = rows(run.path)[-1]
    assert {"D/d_acc", "G/grad_norm", "D/grad_norm", "sample/diversity", "sample/change"} <= last.keys()
    assert all(r[f"symptom/{n}"] == 0 for r in rows(run.path) for n in ("mode_collapse", "d_overpowers", "non_convergence"))


def test_healthy_digits_run_has_no_symptoms(tmp_path: Path) -> None:
    """DCGAN's D ranks ~100% right over its first 200 steps, yet G's gradient is strong: not d_overpowers."""
    run = gankit.train("dcgan", "digits", out=tmp_path / "r", overrides=QUIET + ["train.steps=400", "train.log_every=25"])
    assert max(r["D/d_acc"] for r in rows(run.path)) > 0.99
    assert symptoms(run.path) == {}


def test_mode_collapse_is_reported(collapsed: Path) -> None:
    episode = assert_reported(collapsed, "mode_collapse")
    assert episode["evidence"]["sample/diversity"] < CFG.collapse_diversity
    assert "d_overpowers" not in symptoms(collapsed)


def test_non_convergence_is_reported(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    gankit.train("gan", "ring8", out=tmp_path / "r", overrides=QUIET + OSCILLATE)
    assert_reported(tmp_path / "r", "non_convergence")
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("symptom at step")]
    assert len(warnings) == len(symptoms(tmp_path / "r"))  # one line when each began, not one per row


def test_d_overpowers_is_reported(tmp_path: Path) -> None:
    gankit.train("dcgan", "digits", out=tmp_path / "r", overrides=QUIET + OVERPOWER)
    episode = assert_reported(tmp_path / "r", "d_overpowers")
    assert episode["evidence"]["D/d_acc"] >= CFG.overpower_acc
    assert set(symptoms(tmp_path / "r")) == {"d_overpowers"}


def test_resumed_run_reports_the_same_symptoms(collapsed: Path, tmp_path: Path) -> None:
    part = tmp_path / "part"
    gankit.train("gan", "ring8", out=part, overrides=QUIET + COLLAPSE + ["train.steps=325"])  # stops mid-streak
    gankit.resume(part, ["train.steps=400"])
    assert json.loads((part / "symptoms.json").read_text()) == json.loads((collapsed / "symptoms.json").read_text())
    strip = lambda rs: [{k: v for k, v in r.items() if k != "time"} for r in rs]  # noqa: E731
    assert strip(rows(part)) == strip(rows(collapsed))


def test_disabled_symptoms_write_nothing(tmp_path: Path) -> None:
    run = gankit.train("dcgan", "digits", out=tmp_path / "r", overrides=TINY + ["symptoms.enabled=false"])
    assert not (run.path / "symptoms.json").exists()
    assert not any(k.startswith(("symptom/", "sample/")) or k.endswith("/grad_norm") for r in rows(run.path) for k in r)


# ---------------------------------------------------------------- class imbalance (partial mode collapse)
def class_row(min_share: float, entropy: float, classes: int | None = 10) -> dict:
    """An evaluation row of the ``classes`` metric; ``classes``: the protocol's K (None: absent)."""
    protocol = {"classes": classes} if classes else {}
    return {"kind": "eval", "eval/class_min_share": min_share, "eval/class_entropy": entropy, "protocol": protocol}


def class_detector() -> ClassImbalance:
    return ClassImbalance(min_share=CFG.class_min_share, entropy=CFG.class_entropy,
                          patience=CFG.class_patience, window=CFG.class_patience, warmup=CFG.warmup)


def test_class_imbalance_on_evaluation_rows() -> None:
    """Rows every 100 steps: healthy digits DCGAN values, then one rare class, then a flat histogram."""
    def events(rows: list[dict]) -> list[tuple[str, int, int]]:
        detector, out = class_detector(), []
        for i, row in enumerate(rows):
            event = detector.update(row, (i + 1) * 100)
            if event is not None:
                ep = event.episode
                out.append((event.kind, ep.began if event.kind == "began" else ep.ended, (i + 1) * 100))
        return out

    healthy = [class_row(s / 10, e) for s, e in [(0.1, 0.91), (0.37, 0.94), (0.2, 0.84), (0.3, 0.96), (0.64, 0.98),
                                                 (0.68, 0.98), (0.45, 0.97), (0.55, 0.97)]]
    assert events(healthy) == []  # one low evaluation (steps 100, 300) is not a symptom
    rare = healthy[:5] + [class_row(0.002, 0.93)] * 3 + healthy[5:]  # 0.2% ones among 10 classes, entropy still high
    assert events(rare) == [("began", 600, 700), ("ended", 900, 1000)]
    flat = healthy[:5] + [class_row(0.03, 0.8)] * 3  # every class present, but a few far more often
    assert events(flat) == [("began", 600, 700)]
    assert events([class_row(0.002, 0.8)] * 4) == [("began", 100, 300)]  # votes from before the warm-up keep their step
    # without K the rarest share cannot be compared with 1/K: only the entropy is judged
    assert events([class_row(0.002, 0.95, classes=None)] * 4) == []
    assert events([{"eval/fid": 50.0, "protocol": {}}] * 4) == []  # an evaluation without the classes metric: silent
    episode = class_detector()
    for step in (400, 500):
        event = episode.update(class_row(0.002, 0.93), step)
    assert event.episode.evidence == {"eval/class_min_share": 0.002, "eval/class_entropy": 0.93, "classes": 10,
                                      "rarest share x classes": 0.02, "min_share threshold": CFG.class_min_share,
                                      "entropy threshold": CFG.class_entropy}


def test_class_thresholds_are_validated() -> None:
    from gankit.config import resolve
    from gankit.errors import ConfigError

    for bad in ("symptoms.class_min_share=0", "symptoms.class_entropy=1.5", "symptoms.class_patience=0"):
        with pytest.raises(ConfigError, match=bad.split("=")[0].replace(".", r"\.")):
            resolve("dcgan", "digits", [bad])


def digits_pool(keep: dict[int, int] | None = None) -> torch.Tensor:
    """Real held-out digits: all of them, or at most ``keep[c]`` images of class c (the others in full)."""
    from gankit.data import load_dataset

    test = load_dataset("digits", split="test")
    if keep is None:
        return test.x
    index = [i for c in range(10) for i in (test.y == c).nonzero().flatten().tolist()[:keep.get(c, 10**6)]]
    return test.x[torch.tensor(index)]


def make_generate(pool: torch.Tensor):  # noqa: ANN201
    """A stand-in for Recipe.generate that returns ``pool``'s images in turn, whatever the latent."""
    drawn = [0]

    def generate(self, latent, batch_size: int = 256, *, live: bool = False) -> torch.Tensor:  # noqa: ANN001
        index = (torch.arange(len(latent)) + drawn[0]) % len(pool)
        drawn[0] += len(latent)
        return pool[index]

    return generate


def test_class_imbalance_from_a_real_evaluation(tmp_path: Path, evaluator_cache, monkeypatch) -> None:  # noqa: ANN001
    """The digits domain evaluator on real held-out digits: all classes are balanced; two partial collapses
    (a missing class; mostly two classes) begin the symptom at their second evaluation."""
    from gankit.metrics.domain import train_evaluator
    from gankit.recipes.gan import GAN

    run = gankit.train("dcgan", "digits", out=tmp_path / "r", overrides=TINY)
    evaluator = train_evaluator("digits", progress=False)  # into the fixture's cache: run.evaluate reuses it
    pools = {"all": digits_pool(), "no ones": digits_pool({1: 1}),
             "sevens and nines": digits_pool({c: 3 for c in range(9) if c != 7})}  # 3 of each other class
    measured = {}
    for name, pool in pools.items():
        monkeypatch.setattr(GAN, "generate", make_generate(pool))
        row = run.evaluate(["classes"], n=len(pool), log=False)
        predicted = torch.bincount(evaluator.extract(pool)[1].argmax(1), minlength=10) / len(pool)
        torch.testing.assert_close(row["eval/class_min_share"], float(predicted.min()))  # the histogram of these images
        assert row["protocol"]["classes"] == 10
        monitor = SymptomMonitor.from_config(CFG, real=pool)
        events = monitor.judge(row, 400) + monitor.judge(row, 500)
        measured[name] = (10 * row["eval/class_min_share"], row["eval/class_entropy"], [e.episode.name for e in events])
    share, entropy, events = measured["all"]
    assert share > 0.6 and entropy > 0.98 and events == [], measured  # measured 0.71 (21 of 297 are one class), 0.990
    share, entropy, events = measured["no ones"]
    assert share < 0.1 and entropy > CFG.class_entropy and events == ["class_imbalance"], measured  # the rare class alone
    share, entropy, events = measured["sevens and nines"]
    assert share > CFG.class_min_share and entropy < 0.8 and events == ["class_imbalance"], measured  # the entropy alone


def test_class_imbalance_is_reported_during_training(tmp_path: Path, evaluator_cache) -> None:  # noqa: ANN001
    """A DCGAN on digits with a 2-d latent covers a few digits only (yet its samples stay as spread as the data's,
    so mode_collapse is silent); the same DCGAN with the preset's 100-d latent covers them all. Through the
    trainer's evaluations (eval.every=100): symptoms.json, the 0/1 column and the report."""
    over = QUIET + ["model.g_width=32", "model.d_width=32", "train.steps=350", "eval.every=100", "eval.metrics=[classes]",
                    "eval.n=500"]
    gankit.train("dcgan", "digits", out=tmp_path / "healthy", overrides=over)
    gankit.train("dcgan", "digits", out=tmp_path / "sick", overrides=over + ["model.z_dim=2"])
    evals = {name: [r for r in rows(tmp_path / name) if r.get("kind") == "eval"] for name in ("healthy", "sick")}
    measured = {name: [(round(10 * r["eval/class_min_share"], 2), round(r["eval/class_entropy"], 3)) for r in rs]
                for name, rs in evals.items()}
    # measured: healthy (0.1, 0.908) (0.32, 0.939) (0.4, 0.944); sick (0.0, 0.737) (0.0, 0.731) (0.0, 0.804)
    assert all(share == 0 and entropy < CFG.class_entropy for share, entropy in measured["sick"][:2]), measured
    assert all(share > CFG.class_min_share and entropy > CFG.class_entropy
               for share, entropy in measured["healthy"][1:]), measured  # after one low first evaluation
    assert symptoms(tmp_path / "healthy") == {}
    assert set(symptoms(tmp_path / "sick")) == {"class_imbalance"}  # not mode_collapse
    episode = symptoms(tmp_path / "sick")["class_imbalance"]
    assert (episode["began"], episode["detected"], episode["ended"]) == (100, 300, None)  # reported when the warm-up ends
    assert episode["evidence"]["rarest share x classes"] < CFG.class_min_share and episode["evidence"]["classes"] == 10
    flags = {r["step"]: r["symptom/class_imbalance"] for r in rows(tmp_path / "sick") if r.get("kind") != "eval"}
    assert [step for step, flag in flags.items() if flag] == [350]  # the log row at 300 is written before that evaluation
    report = (tmp_path / "sick" / "report.html").read_text()
    assert "class_imbalance" in report and "rarest share x classes 0" in report
