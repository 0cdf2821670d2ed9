"""Multi-process training: real two-process DDP runs on the CPU (gloo), started by torch's launcher.

- 2 ranks x batch 32 train what 1 process x batch 64 trains (dcgan with model.sync_bn, wgan-gp's gradient
  penalty), and the checkpoint loads in one process with the same keys;
- rank 0 alone writes files; every rank ends with the same EMA, networks and buffers;
- a run killed with SIGKILL (launcher and ranks) and resumed ends bitwise equal to an uninterrupted one;
- resuming with another number of processes fails with a clear message and exit status 2;
- every case of the conformance test (each preset, recipe and trick) trains two steps through DDP.

The runs are tiny (width-8 nets on the 8x8 digits, a few steps): the time goes to starting processes.
"""
from __future__ import annotations

import gc
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from gankit.data import Dataset, InMemoryLoader
from gankit.train.checkpoint import load_checkpoint
from tests.test_resume import assert_same  # bitwise equality of nested checkpoint states

pytestmark = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="torch.distributed with gloo is needed for multi-process training")

TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "train.progress=false", "symptoms.enabled=false",
        "device=cpu", "optim.decay_from=null"]
STEPS = {"dcgan": 5, "wgan-gp": 3}  # wgan-gp: 5 critic updates per step


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "GANKIT_DEBUG_RANK_DIGEST": "1", **extra}


def torchrun(*args: str) -> list[str]:
    """torch's own launcher, two processes on this machine (a free port of its choosing)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "gankit", *args]


def gankit_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "gankit", *args]


class Launched:
    """A launcher running in the background (the runs of a fixture overlap: most of their time is start-up),
    its output in files."""

    def __init__(self, cmd: list[str], cwd: Path, name: str, pythonpath: str | None = None) -> None:
        cwd.mkdir(parents=True, exist_ok=True)
        self.out, self.err = cwd.parent / f"{name}.out", cwd.parent / f"{name}.err"
        extra = {"PYTHONPATH": pythonpath} if pythonpath else {}
        with open(self.out, "w") as out, open(self.err, "w") as err:
            # a session of its own: the kill test signals the whole tree
            self.proc = subprocess.Popen(cmd, cwd=cwd, env=env(**extra), stdout=out, stderr=err, start_new_session=True)

    def stdout(self) -> str:
        """Wait for a successful end; what it printed."""
        code = self.proc.wait(timeout=600)
        assert code == 0, self.out.read_text()[-3000:] + self.err.read_text()[-3000:]
        return self.out.read_text()


def digests(stdout: str) -> dict[int, str]:
    """rank -> the digest line each rank printed after its last step (GANKIT_DEBUG_RANK_DIGEST)."""
    found = re.findall(r"^rank-digest rank=(\d+) (.*)$", stdout, flags=re.M)
    return {int(rank): rest for rank, rest in found}


def files(run: Path) -> set[str]:
    """Every file of a run directory, relative; the TensorBoard file's host/pid/time part left out."""
    return {re.sub(r"tfevents\..*", "tfevents.*", str(p.relative_to(run))) for p in run.rglob("*") if p.is_file()}


# --- 2 ranks x B == 1 process x 2B -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def equivalence(tmp_path_factory, ddp_conformance) -> dict:  # noqa: ANN001
    """Per preset: a 1-process run at batch 64 and a 2-rank run at batch 32 with model.sync_bn (started after the
    conformance launch, so the two overlap)."""
    import gankit

    out, launched = {}, {}
    for preset, steps in STEPS.items():
        root = tmp_path_factory.mktemp(preset)
        every = [f"train.steps={steps}", f"train.checkpoint_every={steps}", f"train.sample_every={steps}",
                 "train.log_every=1"]
        args = ["train", preset, "--data", "digits", *TINY, *every, "train.batch_size=32", "model.sync_bn=true",
                "--out", str(root / "ddp")]
        # dcgan through `gankit train --nproc 2`, wgan-gp through torchrun itself: both launch paths
        cmd = gankit_cmd(*args, "--nproc", "2") if preset == "dcgan" else torchrun(*args)
        launched[preset] = Launched(cmd, root / "cwd", "ddp")
        out[preset] = {"ddp": root / "ddp", "cwd": root / "cwd", "root": root, "every": every}
    for preset, run in out.items():  # here, while the launchers start
        run["single"] = gankit.train(preset, "digits", out=run["root"] / "single",
                                     overrides=[*TINY, *run["every"], "train.batch_size=64"]).path
    for preset, run in out.items():
        run["stdout"] = launched[preset].stdout()
    return out


def pre_norm_biases(net: nn.Module, prefix: str) -> set[str]:
    """State-dict keys of biases that feed a batch norm directly, and that norm's running mean: the norm removes
    the bias, so its true gradient is 0 and Adam turns the rounding noise of that 0 into steps of +-lr. Their
    values are arbitrary (the networks' outputs do not depend on them) and differ at the 1e-4 level."""
    keys = set()
    for name, module in net.named_modules():
        children = list(module.named_children())
        for (a_name, a), (b_name, b) in zip(children, children[1:]):
            if isinstance(b, _BatchNorm) and getattr(a, "bias", None) is not None:
                path = f"{prefix}{name}." if name else prefix
                keys |= {f"{path}{a_name}.bias", f"{path}{b_name}.running_mean"}
    return keys


@pytest.mark.parametrize("preset", list(STEPS))
def test_two_ranks_train_what_one_process_trains_with_twice_the_batch(equivalence, preset: str) -> None:  # noqa: ANN001
    import gankit

    runs = equivalence[preset]
    one, two = (load_checkpoint(runs[k] / "checkpoints" / "latest.pt") for k in ("single", "ddp"))
    assert one["recipe"].keys() == two["recipe"].keys()  # no "module." prefix, nothing added or lost
    assert two["world_size"] == 2 and len(two["rank_rng"]) == 2 and "world_size" in one

    loaded = gankit.load(runs["ddp"], device="cpu")  # the DDP run opens in one process
    skip = pre_norm_biases(loaded.recipe.G, "G.") | pre_norm_biases(loaded.recipe.G, "ema.net.") \
        | pre_norm_biases(loaded.recipe.D, "D.")
    compared = [k for k in one["recipe"] if k.split(".")[0] in ("G", "D", "ema") and k not in skip]
    assert any(k.startswith("ema.net.") for k in compared) and any(k.startswith("D.") for k in compared)
    for key in compared:
        torch.testing.assert_close(two["recipe"][key], one["recipe"][key], rtol=1e-4, atol=1e-5, msg=key)
    for group in ("G", "D"):  # Adam's moments too: the averaged gradients are the global batch's
        for (a, b) in zip(one["optimizers"][group]["state"].values(), two["optimizers"][group]["state"].values()):
            torch.testing.assert_close(b["exp_avg"], a["exp_avg"], rtol=1e-3, atol=1e-6)

    # what the skipped biases do not change: G's output on the same z, in training mode (batch statistics)
    single = gankit.load(runs["single"], device="cpu")
    z = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    outputs = [r.recipe.G.train()(z, None) for r in (single, loaded)]
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-4, atol=1e-5)


def test_logged_values_are_the_ranks_mean(equivalence) -> None:  # noqa: ANN001
    rows = {k: [json.loads(line) for line in (equivalence["dcgan"][k] / "metrics.jsonl").read_text().splitlines()]
            for k in ("single", "ddp")}
    assert [r["step"] for r in rows["ddp"]] == [r["step"] for r in rows["single"]] == list(range(1, 6))
    for a, b in zip(rows["single"], rows["ddp"]):  # the mean of per-rank means of half batches is the full mean
        for key in ("D/adv", "G/adv", "D/d_real", "D/d_fake"):
            assert b[key] == pytest.approx(a[key], rel=1e-3, abs=1e-5), key


# --- rank 0 alone writes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", list(STEPS))
def test_only_rank_zero_writes_files(equivalence, preset: str) -> None:  # noqa: ANN001
    runs = equivalence[preset]
    assert files(runs["ddp"]) == files(runs["single"])  # what one process writes, once
    assert len(list((runs["ddp"] / "tb").iterdir())) == 1  # one TensorBoard writer
    assert not any(runs["cwd"].iterdir()), f"stray files in the working directory: {list(runs['cwd'].iterdir())}"
    assert runs["stdout"].count("run directory:") == 1


# --- every rank holds the same state ----------------------------------------------------------------------
def test_ranks_end_with_the_same_ema_networks_and_buffers(equivalence, resumed_runs) -> None:  # noqa: ANN001
    outputs = {"dcgan, sync_bn": equivalence["dcgan"]["stdout"], "wgan-gp": equivalence["wgan-gp"]["stdout"],
               "dcgan, averaged batch-norm statistics": resumed_runs["straight_stdout"]}
    for what, stdout in outputs.items():
        lines = digests(stdout)
        assert sorted(lines) == [0, 1], what
        assert "ema=" in lines[0], what
        assert lines[0] == lines[1], f"{what}: ranks differ: {lines}"


# --- SIGKILL, then resume -------------------------------------------------------------------------------------
RESUME_ARGS = [*TINY, "train.batch_size=32", "train.checkpoint_every=10", "train.sample_every=10",
               "train.log_every=5", "train.deterministic=true"]
RESUME_STEPS = 30


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (torch's launcher starts each rank in a session of its own, so the
    launcher's process group does not hold them)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children.get(p, [])
    return tree


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and every process below it; their pids."""
    tree = process_tree(pid)
    for p in tree:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return tree


@pytest.fixture(scope="module")
def resumed_runs(tmp_path_factory) -> dict:  # noqa: ANN001
    """An uninterrupted 2-rank run of 30 steps, and one killed after its first checkpoint and resumed to 30."""
    if not Path("/proc/self/stat").is_file():
        pytest.skip("finding the launcher's ranks needs /proc")
    root = tmp_path_factory.mktemp("resume")
    straight, killed = root / "straight", root / "killed"
    done = Launched(torchrun("train", "dcgan", "--data", "digits", *RESUME_ARGS, f"train.steps={RESUME_STEPS}",
                             "--out", str(straight)), root / "cwd", "straight")
    # the killed run is long (train.steps is resumable, so the resume asks for 30); optim.decay_from=null keeps
    # the learning rate free of train.steps
    victim = Launched(torchrun("train", "dcgan", "--data", "digits", *RESUME_ARGS, "train.steps=100000",
                               "--out", str(killed)), root / "cwd", "killed")
    proc, latest = victim.proc, killed / "checkpoints" / "latest.pt"
    deadline = time.time() + 300
    while not latest.is_file() and proc.poll() is None and time.time() < deadline:  # then at once: step 10 or 20
        time.sleep(0.005)
    assert proc.poll() is None, victim.err.read_text()[-3000:]
    tree = kill_tree(proc.pid)  # the launcher and both ranks at once, without warning
    proc.wait()
    assert len(tree) >= 3, "the launcher and its two ranks should have been running"
    interrupted_at = load_checkpoint(killed / "checkpoints" / "latest.pt")["step"]
    assert 10 <= interrupted_at < RESUME_STEPS, "the run must be killed mid-way for the test to mean anything"
    time.sleep(0.5)
    assert all(not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(") ")[1][:1]
               for pid in tree), "a rank survived the kill"

    resumed = Launched(gankit_cmd("train", "--resume", str(killed), f"train.steps={RESUME_STEPS}", "--nproc", "2"),
                       root / "cwd", "resumed")
    return {"straight": straight, "killed": killed, "straight_stdout": done.stdout(), "interrupted_at": interrupted_at,
            "resumed_stdout": resumed.stdout()}


def test_sigkill_then_resume_is_bitwise_identical(resumed_runs) -> None:  # noqa: ANN001
    a, b = (load_checkpoint(resumed_runs[k] / "checkpoints" / "latest.pt") for k in ("straight", "killed"))
    assert a["step"] == b["step"] == RESUME_STEPS
    for key in ("recipe", "optimizers", "loader", "rng", "rank_rng", "fixed", "world_size"):
        assert_same(a[key], b[key], key)
    assert digests(resumed_runs["resumed_stdout"]) == digests(resumed_runs["straight_stdout"])  # rank 1 too
    steps = [json.loads(line)["step"] for line in (resumed_runs["killed"] / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(5, RESUME_STEPS + 1, 5))  # each row once, as if never interrupted


# --- resuming with another world size -------------------------------------------------------------------------
def test_resume_with_another_number_of_processes_fails_clearly(equivalence, capsys) -> None:  # noqa: ANN001
    from gankit.cli import main

    run = equivalence["dcgan"]["ddp"]
    before = sorted(files(run))
    assert main(["train", "--resume", str(run)]) == 2  # one process
    err = capsys.readouterr().err
    assert "with 1 process: it was trained with 2" in err and f"--resume {run} --nproc 2" in err, err
    assert main(["train", "--resume", str(run), "--nproc", "3"]) == 2  # refused before any process starts
    err = capsys.readouterr().err
    assert "with 3 processes: it was trained with 2" in err and "torchrun --nproc_per_node 2" in err, err
    assert sorted(files(run)) == before


# --- the sharded loader (no processes needed) -------------------------------------------------------------------
def _points(n: int) -> Dataset:
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 2)  # row i is (i, i): the index is visible
    return Dataset(name="index", x=x, y=None, num_classes=0, kind="points")


def test_ranks_take_disjoint_slices_of_the_one_process_batches() -> None:
    data = _points(50)
    one = InMemoryLoader(data, 8, seed=3, rank=0, world_size=1)
    ranks = [InMemoryLoader(data, 4, seed=3, rank=r, world_size=2) for r in range(2)]
    for _ in range(20):  # several epochs of 6 global batches (2 samples dropped per epoch)
        full = one.next().x[:, 0]
        parts = [loader.next().x[:, 0] for loader in ranks]
        assert torch.equal(torch.cat(parts), full)
        assert not set(parts[0].tolist()) & set(parts[1].tolist())
    state = ranks[1].state_dict()
    assert state["world_size"] == 2
    after = [ranks[1].next().x for _ in range(9)]
    fresh = InMemoryLoader(data, 4, seed=3, rank=1, world_size=2)
    fresh.load_state_dict(state)
    assert all(torch.equal(fresh.next().x, x) for x in after)  # exactly resumable


def test_augmentation_is_drawn_for_the_global_batch() -> None:
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    data = Dataset(name="tiny", x=x, y=None, num_classes=0, kind="image")
    one = InMemoryLoader(data, 8, seed=1, augment=True, rank=0, world_size=1).next().x
    parts = [InMemoryLoader(data, 4, seed=1, augment=True, rank=r, world_size=2).next().x for r in range(2)]
    assert torch.equal(torch.cat(parts), one)


def test_global_batch_larger_than_the_data_names_both_numbers() -> None:
    from gankit.errors import DataError

    with pytest.raises(DataError, match=r"batch_size 8 x 4 processes = 32\) is larger than"):
        InMemoryLoader(_points(20), 8, seed=0, rank=1, world_size=4)


# --- the DDP wrappers, in one process (a gloo group of one) -------------------------------------------------------
@pytest.fixture
def group_of_one(tmp_path: Path):  # noqa: ANN201
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_ddp_wrappers_are_in_the_recipe_only_while_their_group_trains(group_of_one, tmp_path: Path) -> None:  # noqa: ANN001
    from torch.nn.parallel import DistributedDataParallel

    from gankit.api import build_recipe
    from gankit.config import resolve
    from gankit.errors import ConfigError
    from gankit.train.parallel import Parallel
    from gankit.types import DataInfo

    cfg = resolve("dcgan", "digits", TINY)
    recipe = build_recipe(cfg, DataInfo("digits", (1, 8, 8), 10, "image"), torch.device("cpu"))
    keys = list(recipe.state_dict())
    parallel = Parallel(recipe, recipe.param_groups(), torch.device("cpu"))
    with parallel.phase("D"):
        assert isinstance(recipe.D, DistributedDataParallel) and not isinstance(recipe.G, DistributedDataParallel)
        assert recipe.D.module is parallel.plain["D"]
    with parallel.phase("G"):
        assert isinstance(recipe.G, DistributedDataParallel) and not isinstance(recipe.D, DistributedDataParallel)
    assert recipe.G is parallel.plain["G"] and recipe.D is parallel.plain["D"]
    assert list(recipe.state_dict()) == keys  # no "module." anywhere

    groups = recipe.param_groups()
    recipe.networks = lambda: {"G": recipe.G, "D": nn.ModuleList([recipe.D])}  # not the recipe's submodule
    with pytest.raises(ConfigError, match="must be the network's path"):
        Parallel(recipe, groups, torch.device("cpu"))
    recipe.networks = lambda: {"G": recipe.G}  # D's parameters train, but in no network
    with pytest.raises(ConfigError, match="outside its networks"):
        Parallel(recipe, groups, torch.device("cpu"))


class _HalfUsed(nn.Module):
    """A network whose second layer its forward never uses."""

    def __init__(self) -> None:
        super().__init__()
        self.used, self.unused = nn.Linear(2, 2), nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x)


class _Pair(nn.Module):
    """Two networks trained in one group (as AAE's E and decoder G)."""

    def __init__(self) -> None:
        super().__init__()
        self.A, self.B = _HalfUsed(), nn.Linear(2, 2)

    def networks(self) -> dict[str, nn.Module]:
        return {"A": self.A, "B": self.B}


def test_ddp_refuses_dead_weight_in_a_called_network_only(group_of_one) -> None:  # noqa: ANN001
    """A parameter of a network the phase called but its loss never reached is refused by name (DDP would hang on
    it at the next forward); a network of the trained group the phase never calls is left alone (AAE's code game
    trains group G = E + decoder and calls only E)."""
    from gankit.errors import ConfigError
    from gankit.train.parallel import Parallel

    recipe = _Pair()
    parallel = Parallel(recipe, {"G": list(recipe.parameters())}, torch.device("cpu"))
    with parallel.phase("G"):
        recipe.B(torch.ones(3, 2)).sum().backward()  # A is never called: nothing to wait for
        parallel.check_gradients("G")
    recipe.zero_grad(set_to_none=True)
    with parallel.phase("G"):
        (recipe.A(torch.ones(3, 2)).sum() + recipe.B(torch.ones(3, 2)).sum()).backward()
        with pytest.raises(ConfigError, match=r"A's unused.weight, unused.bias got none .*dead weight"):
            parallel.check_gradients("G")


# --- every conformance case through DDP (one launch, two ranks) -----------------------------------------------------
# cases with a trained parameter no loss reaches (refused under DDP by name, as test_ddp_refuses_dead_weight_... shows);
# none today. A network of the trained group that a phase never calls is fine (AAE's code game).
DEAD_WEIGHT: set[str] = set()
# recipes whose networks are called through methods other than forward (sampling, log-likelihoods): refused under
# torchrun by name (gankit.recipes.base.single_process); maskgan's coco data may be absent without ../shared
SINGLE_PROCESS = {"mle", "seqgan", "relgan", "maskgan", "irgan", "bpr", "stackgan"}


@pytest.fixture(scope="module")
def ddp_conformance(tmp_path_factory) -> Iterator[Launched]:  # noqa: ANN001
    """Started first, awaited by its test: the launch runs beside the other fixtures' runs."""
    root = tmp_path_factory.mktemp("conformance")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", __file__, str(root)]
    launched = Launched(cmd, root / "cwd", "conformance", pythonpath=str(Path(__file__).resolve().parents[1]))
    yield launched
    if launched.proc.poll() is None:  # its test was not selected: leave nothing running
        kill_tree(launched.proc.pid)
        launched.proc.wait()


def test_every_conformance_case_trains_through_ddp(ddp_conformance) -> None:  # noqa: ANN001
    from tests.test_conformance import cases

    lines = dict(re.findall(r"^ddp-case (\S+) (.*)$", ddp_conformance.stdout(), flags=re.M))
    assert sorted(lines) == sorted(name for name, _ in cases())
    wrong = []  # every case that went wrong, not only the first
    for name, status in lines.items():
        ranks = status.split(" | ")
        if len(ranks) != 2 or ranks[0] != ranks[1]:
            wrong.append(f"{name}: the ranks disagree: {status}")
        elif name in SINGLE_PROCESS:
            if "trains in one process" not in ranks[0] and "not found" not in ranks[0]:
                wrong.append(f"{name}: {status[:300]} (expected the one-process refusal)")
        elif name in DEAD_WEIGHT and "dead weight" not in ranks[0]:
            wrong.append(f"{name}: {status} (fixed? then drop it from DEAD_WEIGHT)")
        elif name not in DEAD_WEIGHT and ranks[0] != "ok":
            wrong.append(f"{name}: {status[:300]}")
    assert not wrong, "\n".join(wrong)


def _conformance_worker(root: Path) -> None:
    """Under torchrun: each conformance case for its two tiny steps; rank 0 prints one line per case."""
    import datetime

    import gankit
    from gankit import distributed
    from tests.conftest import write_paired_npz
    from tests.test_conformance import cases

    dist.init_process_group("gloo", timeout=datetime.timedelta(minutes=3))  # gankit.train joins this group
    paired = root / "pairs.npz"  # the conformance test's paired data
    if distributed.is_main():
        write_paired_npz(paired)
    distributed.barrier()
    for name, overrides in cases():
        try:
            gankit.train(name.split("+")[0], out=root / name,
                         overrides=[o.replace("PAIRED_NPZ", str(paired)) for o in overrides] + ["symptoms.enabled=false"])
            status = "ok"
        except Exception as e:  # noqa: BLE001  (reported by the test, per case)
            status = f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
        statuses = distributed.all_gather_object(status)
        if distributed.is_main():
            print(f"ddp-case {name} {' | '.join(statuses)}", flush=True)
    # the cases' DDP wrappers (and their gloo work) go before the group does: destroying the group under a live
    # reducer intermittently aborted the worker at exit ("terminate called without an active exception")
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    _conformance_worker(Path(sys.argv[1]))


# --- evaluation: each rank generates its share, the features are gathered -------------------------------------
def test_evaluation_under_ddp_scores_what_one_process_scores(tmp_path_factory, monkeypatch) -> None:  # noqa: ANN001
    """eval.every under two ranks: each generates its share of eval.n (an odd n: unequal shares) and the feature
    rows are gathered, so the logged row is the one a single process computes for the same checkpoint."""
    import gankit

    root = tmp_path_factory.mktemp("ddp-eval")
    monkeypatch.setenv("GANKIT_CACHE", str(root / "cache"))  # the digits evaluator trains once (rank 0 first)
    args = ["train", "dcgan", "--data", "digits", *TINY, "train.steps=2", "train.batch_size=16", "eval.every=2",
            "eval.metrics=[fid,pr,classes]", "eval.features=domain", "eval.n=101", "--out", str(root / "run")]
    Launched(torchrun(*args), root / "cwd", "eval").stdout()
    rows = [json.loads(line) for line in (root / "run" / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in rows if r.get("kind") == "eval"]
    assert [r["step"] for r in logged] == [2]
    single = gankit.load(root / "run", device="cpu").evaluate(log=False)
    for key in ("eval/fid", "eval/precision", "eval/recall", "eval/class_entropy", "eval/class_min_share"):
        assert logged[0][key] == pytest.approx(single[key], rel=1e-5, abs=1e-6), key
    assert logged[0]["protocol"]["n_fake"] == single["protocol"]["n_fake"] == 101
