"""The one training loop. It runs a recipe's phases and never knows which GAN it is.

Under torchrun (see gankit/distributed.py) every rank runs this same loop on its slice of each global batch:
the trained networks go through DDP phase by phase (gankit/train/parallel.py), buffers are made equal after
every step, logged values are averaged over the ranks, and rank 0 alone writes files (RunDir.main).
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator

import torch
from torch import Tensor
from tqdm import tqdm

from gankit import distributed
from gankit.config import Config
from gankit.errors import NonFiniteLossError
from gankit.recipes.base import Latent, Phase, Recipe
from gankit.train.budget import Costs, Schedule, format_left, steps_for_budget, warmup_seconds
from gankit.train.checkpoint import (LATEST, atomic_save, check_world_size, load_checkpoint, rank_rng_states,
                                     save_checkpoint, set_rng_state)
from gankit.train.optim import make_optimizers, make_schedulers
from gankit.train.parallel import Parallel, state_digest
from gankit.train.rundir import RunDir
from gankit.train.symptoms import Event, SymptomMonitor, warning_line
from gankit.types import Batch, DataInfo
from gankit.viz import picture, save_png


PHASE_CODES = 1000  # the deferred finite check's code: step * PHASE_CODES + phase index


class Trainer:
    def __init__(self, recipe: Recipe, loader, cfg: Config, run: RunDir, device: torch.device, data: DataInfo,  # noqa: ANN001
                 reference: Tensor | None = None, evaluation: Callable[[Recipe, int], dict] | None = None) -> None:
        self.recipe, self.loader, self.cfg, self.run, self.device, self.data = recipe, loader, cfg, run, device, data
        self.evaluation = evaluation  # scores G every eval.every steps (gankit.evaluate.Evaluation)
        self.best: dict = {"key": None, "value": None, "step": None}  # the evaluation kept as checkpoints/best.pt
        self.reference = reference  # a few real samples drawn behind 2D scatter plots
        self.groups = recipe.param_groups()
        # one process: None; under torchrun: the DDP wrappers of the recipe's networks, used phase by phase
        self.parallel = Parallel(recipe, self.groups, device) if distributed.world_size() > 1 else None
        self.optimizers = make_optimizers(recipe, cfg)
        self.schedulers = make_schedulers(self.optimizers, cfg)
        self.step = 0
        fixed_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
        labels = self._fixed_labels(cfg.train.n_samples)
        self.fixed = recipe.fixed_latent(cfg.train.n_samples, labels=labels, data=loader.data, generator=fixed_gen)
        self._sums: dict[str, Tensor] = {}
        self._count = 0
        # failure-symptom detectors: they read signals computed at log steps only (see gankit/train/symptoms.py)
        self.symptoms = SymptomMonitor.from_config(cfg.symptoms, real=loader.data.x) if cfg.symptoms.enabled else None
        self._grad_norms: dict[str, Tensor] = {}
        # the finite check without a host sync per update (train.finite_check): the first non-finite (step, phase)
        # is kept on the device as step * PHASE_CODES + phase index, -1 while every loss is finite
        mode = cfg.train.finite_check
        self._defer_finite = mode == "log" or (mode == "auto" and device.type != "cpu")
        self._first_bad = torch.full((), -1, dtype=torch.long, device=device)
        self._phase_names = [p.name for p in recipe.phases()]
        self._t0 = time.time()
        self.deadline: float | None = None  # train.minutes: when the budget ends (time.time())

    def _fixed_labels(self, n: int) -> Tensor | None:
        """Conditional recipes (and InfoGAN's first code): each grid row shows one class."""
        k = self.recipe.label_classes()
        if not k:
            return None
        per_row = max(int(n**0.5), 1)
        return (torch.arange(n, device=self.device) // per_row) % k

    # --- state ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything an exact resume needs. Under torchrun a collective (every rank's random state is gathered):
        every rank calls it, rank 0 writes it."""
        rng = rank_rng_states()
        return {
            "step": self.step,
            "world_size": distributed.world_size(),
            "recipe": self.recipe.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "loader": self.loader.state_dict(),
            "rng": rng[0],
            **({"rank_rng": rng} if len(rng) > 1 else {}),  # rank r resumes from rank_rng[r]
            "fixed": self.fixed.to_dict(),
            "data": self.data.to_dict(),
            "preset": self.cfg.preset,
            "best": dict(self.best),
            **({"symptoms": self.symptoms.state_dict()} if self.symptoms is not None else {}),
        }

    def load_state_dict(self, state: dict) -> None:
        check_world_size(int(state.get("world_size", 1)), distributed.world_size(), self.run.path)
        self.step = int(state["step"])
        self.recipe.load_state_dict(state["recipe"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(state["schedulers"][k])
        self.loader.load_state_dict(state["loader"])
        set_rng_state(state["rank_rng"][distributed.rank()] if "rank_rng" in state else state["rng"])
        self.fixed = Latent.from_dict(state["fixed"], self.device)
        self.best = dict(state.get("best", self.best))
        if self.symptoms is not None and "symptoms" in state:
            self.symptoms.load_state_dict(state["symptoms"])

    def resume(self) -> None:
        self.load_state_dict(load_checkpoint(self.run.checkpoints / LATEST, map_location=self.device))
        self.run.truncate_log(self.step)

    def save(self) -> None:
        state = self.state_dict()  # on every rank: it gathers their random states
        if self.run.main:
            save_checkpoint(state, self.run.checkpoints, self.step, self.cfg.train.keep_checkpoints)

    # --- the wall-clock budget (train.minutes) -------------------------------------
    def fit_budget(self, started: float) -> int:
        """The train.steps with which the whole run, begun at ``started`` (time.time()), ends within train.minutes.

        The speed comes from a warm-up of real training steps on this trainer, which is then thrown away:
        the caller builds the run afresh with the chosen train.steps (gankit.api._fit). Under torchrun every rank
        warms up (the steps are collective) and every rank gets rank 0's choice.
        """
        budget = 60.0 * self.cfg.train.minutes
        self.deadline = started + budget
        phases, times, updates = self.recipe.phases(), [], []
        updates_at = lambda step: sum(phase.repeats_at(step) for phase in phases)  # noqa: E731
        warm_until = time.time() + warmup_seconds(budget)
        self.step = self.recipe.representative_step() - 1  # this trainer is thrown away after the warm-up
        while len(times) < 5 or time.time() < warm_until:  # the first two steps pay one-off costs: not counted
            self.step += 1
            times.append(_timed(lambda: self.train_step(phases), self.device))
            updates.append(updates_at(self.step))
        per_update = sorted(t / max(1, u) for t, u in zip(times[2:], updates[2:]))  # the median: robust to hiccups
        costs = Costs(update=per_update[len(per_update) // 2],
                      sample=_timed(lambda: self.recipe.show(self.fixed, self.recipe.generate(self.fixed)), self.device),
                      checkpoint=_timed(lambda: torch.save(self.state_dict(), io.BytesIO()), self.device),
                      evaluation=_timed(lambda: self.evaluation(self.recipe, self.step), self.device) if self.evaluation else 0.0,
                      log=_timed(lambda: self.recipe.generate(self.fixed[:self.cfg.symptoms.samples], live=True), self.device)
                      if self.symptoms is not None else 0.0)
        t = self.cfg.train
        schedule = Schedule(t.sample_every, t.checkpoint_every, self.cfg.eval.every if self.evaluation else 0, t.log_every)
        return distributed.broadcast_object(steps_for_budget(self.deadline - time.time(), costs, schedule, updates_at))

    # --- the loop -------------------------------------------------------------------
    def fit(self) -> None:
        t = self.cfg.train
        phases = self.recipe.phases()
        bar = tqdm(total=t.steps, initial=self.step, disable=not (t.progress and self.run.main), dynamic_ncols=True,
                   desc=f"{self.cfg.preset} on {self.data.name}", unit="step")
        self._write_symptoms()
        try:
            while self.step < t.steps:
                self.step += 1
                self._accumulate(self.train_step(phases))
                if self.step == t.steps and os.environ.get("GANKIT_DEBUG_RANK_DIGEST"):
                    self._print_digest()
                self._periodic(bar)
                bar.update(1)
        finally:
            bar.close()
            self._write_symptoms()
            self.run.close()

    def train_step(self, phases: list[Phase]) -> dict[str, Tensor]:
        """One generator step: every phase, each repeated, each an optimiser update of its group."""
        logs: dict[str, Tensor] = {}
        batch: Batch | None = None
        probe_grads = self.symptoms is not None and self._is_log_step()
        for index, phase in enumerate(phases):
            optimizer = self.optimizers[phase.trains]
            terms: dict[str, Tensor] = {}  # stays empty when the phase's schedule skips this step
            with self._only_trains(phase.trains), self._through_ddp(phase.trains):
                for _ in range(phase.repeats_at(self.step)):
                    if phase.new_batch or batch is None:
                        batch = self.loader.next()
                    optimizer.zero_grad(set_to_none=True)
                    with self._autocast():
                        terms = phase.step(batch, self.step)
                        terms.update(self.recipe.objective.group_terms(phase.trains, self.groups[phase.trains]))
                    total = sum(terms.values())
                    self._check_finite(total, terms, phase, index)
                    total.backward()
                    if self.parallel is not None:
                        self.parallel.check_gradients(phase.trains)
                    if probe_grads:
                        self._grad_norms[f"{phase.name}/grad_norm"] = _grad_norm(self.groups[phase.trains])
                    optimizer.step()
                    if phase.after is not None:
                        phase.after()
            logs.update({f"{phase.name}/{k}": v.detach() for k, v in terms.items()})
            logs.update({f"{phase.name}/{k}": torch.as_tensor(v).detach() for k, v in self.recipe.stats.items()})
            self.recipe.stats.clear()
        with warnings.catch_warnings():  # a phase its schedule skipped (SRGAN's D while G pre-trains) still
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step\\(\\)` before")  # follows the step count
            for scheduler in self.schedulers.values():
                scheduler.step()
        if self.parallel is not None:
            self.parallel.sync_buffers()  # before the EMA copies them: every rank's EMA stays the same
        self.recipe.update_ema()
        return logs

    def _through_ddp(self, group: str) -> contextlib.AbstractContextManager:
        """Under torchrun: the networks of ``group`` called through their DDP wrappers, the others plain."""
        return self.parallel.phase(group) if self.parallel is not None else contextlib.nullcontext()

    def _print_digest(self) -> None:
        """GANKIT_DEBUG_RANK_DIGEST=1: each rank prints digests of what it holds after the last step (tests
        compare the ranks' lines: the EMA, the networks and their buffers must agree)."""
        parts = {"ema": self.recipe.ema} if self.recipe.ema is not None else {}
        parts.update(self.recipe.networks())
        digests = " ".join(f"{name}={state_digest(module)}" for name, module in parts.items())
        line = f"rank-digest rank={distributed.rank()} step={self.step} {digests}\n"
        sys.stdout.flush()  # then one write: the ranks share the launcher's stdout, and print's two writes (the text,
        os.write(sys.stdout.fileno(), line.encode())  # then its newline) interleave with the other rank's

    @contextlib.contextmanager
    def _only_trains(self, group: str) -> Iterator[None]:
        """Freeze the other groups so backward skips their weight gradients."""
        for params in self.groups.values():  # a network may sit in two groups (two optimisers: the text GANs'
            for p in params:                 # G_mle and G), so freeze all, then free the trained group's
                p.requires_grad_(False)
        for p in self.groups[group]:
            p.requires_grad_(True)
        try:
            yield
        finally:
            for params in self.groups.values():
                for p in params:
                    p.requires_grad_(True)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.cfg.amp == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _check_finite(self, total: Tensor, terms: dict[str, Tensor], phase: Phase, index: int) -> None:
        if self._defer_finite:  # no host sync: remember the first bad update on the device (``_flush_finite``)
            code = torch.full_like(self._first_bad, self.step * PHASE_CODES + index)
            first = (self._first_bad < 0) & ~torch.isfinite(total.detach()).all()
            self._first_bad = torch.where(first, code, self._first_bad)
            return
        # under torchrun every rank stops together when one rank's loss is not finite (none waits on the others)
        if distributed.any_rank(not bool(torch.isfinite(total)), total.device):
            bad = [k for k, v in terms.items() if not bool(torch.isfinite(v).all())]
            raise self._non_finite(phase.name, self.step, f"terms {', '.join(bad) or 'total'}")

    def _flush_finite(self) -> None:
        """The deferred finite check (train.finite_check=log): one host sync, before anything is logged or written."""
        if not self._defer_finite:
            return
        code = int(self._first_bad)
        if distributed.any_rank(code >= 0, self.device):
            step, index = divmod(code, PHASE_CODES) if code >= 0 else (self.step, 0)
            name = self._phase_names[index] if index < len(self._phase_names) else str(index)
            raise self._non_finite(name, step, f"found at step {self.step}: train.finite_check=step names the terms")

    def _non_finite(self, phase: str, step: int, detail: str) -> NonFiniteLossError:
        return NonFiniteLossError(
            f"non-finite loss in phase {phase!r} at step {step} ({detail}); "
            f"training stopped, the last good checkpoint in {self.run.checkpoints} is intact. "
            "Try a lower optim.lr, a gradient penalty, or spectral norm."
        )

    # --- logging, samples, checkpoints ---------------------------------------------
    def _accumulate(self, logs: dict[str, Tensor]) -> None:
        for k, v in logs.items():
            self._sums[k] = self._sums.get(k, 0) + v.float()
        self._count += 1

    def _averaged_sums(self) -> dict[str, float]:
        """The accumulated values per step, averaged over the ranks under torchrun (one collective)."""
        keys = sorted(self._sums)
        if not keys:
            return {}
        sums = distributed.all_reduce_mean(torch.stack([self._sums[k].float().reshape(()) for k in keys]))
        return {k: float(v) / self._count for k, v in zip(keys, sums)}

    def _is_log_step(self) -> bool:
        return self.step % self.cfg.train.log_every == 0 or self.step == self.cfg.train.steps

    def _periodic(self, bar: tqdm) -> None:
        t, last = self.cfg.train, self.step == self.cfg.train.steps
        log, sample = self._is_log_step(), self.step % t.sample_every == 0 or last
        evaluating = self.evaluation is not None and (self.step % self.cfg.eval.every == 0 or last)
        checkpoint = self.step % t.checkpoint_every == 0 or last
        stage = self.recipe.stage(self.step)  # the end of a training stage (ProGAN) keeps a grid of its own
        stage_end = stage is not None and (last or self.recipe.stage(self.step + 1) != stage)
        if log or sample or evaluating or checkpoint or stage_end:
            self._flush_finite()  # before a row, a sample grid, an evaluation or a checkpoint
        if log:
            row = {"step": self.step, "time": round(time.time() - self._t0, 3)}
            row.update(self._averaged_sums())
            row.update({f"lr/{k}": o.param_groups[0]["lr"] for k, o in self.optimizers.items()})
            postfix = ", ".join(f"{k}={v:.3f}" for k, v in row.items() if "/" in k and not k.startswith("lr/"))
            tags = self._check_symptoms(row)
            self.run.log(row)
            left = format_left(self.deadline - time.time()) if self.deadline is not None else ""
            bar.set_postfix_str(" ".join(part for part in (postfix, tags, left) if part), refresh=False)
            self._sums, self._count = {}, 0
        if sample:
            self.save_samples()
        if stage_end:
            self.save_samples(stage=stage)
        if evaluating:
            self.evaluate(bar)
        if checkpoint:
            self.save()

    def evaluate(self, bar: tqdm) -> None:
        """Score G, log the row with its protocol, and keep checkpoints/best.pt for the best score so far."""
        from gankit.evaluate import best_key, is_better

        # each rank generates its share of the samples and the features are gathered (gankit.evaluate); every
        # rank holds the same row, and rank 0's decides, so no rank can diverge
        row = distributed.broadcast_object(self.evaluation(self.recipe, self.step))
        key = best_key(self.cfg.eval)
        better = is_better(row[key], self.best["value"], key)
        if better:
            self.best = {"key": key, "value": row[key], "step": self.step}
        row["best"] = dict(self.best)
        self.run.log(row)
        if better:
            state = self.state_dict()  # on every rank: it gathers their random states
            if self.run.main:
                atomic_save(state, self.run.checkpoints / "best.pt")
        if self.run.main:
            bar.write(f"step {self.step}: " + ", ".join(f"{k.removeprefix('eval/')} {v:.4g}" for k, v in row.items()
                                                        if k.startswith("eval/")) + (" (best so far)" if better else ""))
        if self.symptoms is not None:  # class_imbalance reads the evaluation's class histogram
            self._symptom_events(self.symptoms.judge(row, self.step))

    def _check_symptoms(self, row: dict) -> str:
        """Add the symptom signals and 0/1 columns to ``row``; warn once when a symptom begins; the bar's tags."""
        if self.symptoms is None:
            return ""
        row.update({k: float(v) for k, v in self._grad_norms.items()})
        self._grad_norms = {}
        fixed = self.fixed[:self.cfg.symptoms.samples]
        self._symptom_events(self.symptoms.update(row, self.step, samples=self.recipe.generate(fixed, live=True)))
        return self.symptoms.tags()

    def _symptom_events(self, events: list[Event]) -> None:
        """One console line when a symptom begins; symptoms.json rewritten when one begins or ends."""
        for event in events:
            if event.kind == "began" and self.run.main:
                tqdm.write(warning_line(event))
        if events:
            self._write_symptoms()

    def _write_symptoms(self) -> None:
        if self.symptoms is not None:
            self.run.write_json(self.run.symptoms, self.symptoms.episodes())

    def save_samples(self, stage: str | None = None) -> None:
        """The fixed-z grid at this step (samples/step_N.png); ``stage``: the grid at the end of a training stage
        (samples/stage_N_NAME.png, the report's "stages")."""
        if not self.run.main:
            return
        output = self.recipe.generate(self.fixed)
        lines = self.recipe.describe(output)
        if lines is not None:  # text: the decoded sentences, one a line
            name = f"step_{self.step:07d}.txt" if stage is None else f"stage_{self.step:07d}_{_slug(stage)}.txt"
            self.run.write_text(self.run.samples / name, "".join(f"{line}\n" for line in lines))
            self.run.writer().add_text("samples", "\n\n".join(lines[:16]), self.step)
            return
        images, nrow = self.recipe.show(self.fixed, output)
        image = picture(images, nrow=nrow, reference=self.reference)
        if stage is not None:
            save_png(image, self.run.samples / f"stage_{self.step:07d}_{_slug(stage)}.png")
            return
        save_png(image, self.run.samples / f"step_{self.step:07d}.png")
        self.run.writer().add_image("samples", image, self.step)


def _slug(stage: str) -> str:
    """A stage name as part of a file name."""
    return re.sub("[^A-Za-z0-9.]+", "-", stage)


def configure_determinism(deterministic: bool) -> None:
    """Bitwise-reproducible kernels when asked (Pytorch's reproducibility notes)."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)
    else:
        torch.backends.cudnn.benchmark = True


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds ``fn()`` takes, with the device's queued work finished (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def _grad_norm(params: list[torch.nn.Parameter]) -> Tensor:
    """L2 norm of all gradients of ``params`` together, as a device tensor (no host sync)."""
    norms = [torch.linalg.vector_norm(p.grad.float()) for p in params if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())

