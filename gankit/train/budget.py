"""A wall-clock budget (``train.minutes``): how many steps fit in M minutes on this machine.

The speed is measured on the real networks and data: a short warm-up of real training
steps on a throwaway copy of the run, after which the run is built afresh with the chosen
``train.steps``; so a run given ``train.minutes`` trains exactly as a run given that
``train.steps`` would (the number is saved in ``config.yaml``, which is what makes a resumed
run continue the same schedule). The cost is counted per optimiser update, so schedules
whose updates per step vary (WGAN's 100 early critic steps, SRGAN's pre-training without D)
are priced step by step. The periodic work of a run (sample grids, checkpoints,
evaluations) is timed once each and paid for out of the same budget, so the whole run, not
only its steps, fits.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SAFETY = 0.97  # keep 3% of the budget for what is not timed (the report, the last log row)


@dataclass(frozen=True)
class Costs:
    """Measured seconds of each kind of work a run does."""

    update: float  # one optimiser update (a phase's step, its backward and the optimiser step)
    sample: float = 0.0  # one fixed-z sample grid
    checkpoint: float = 0.0  # one checkpoint
    evaluation: float = 0.0  # one eval.every evaluation
    log: float = 0.0  # one metrics row (the symptom detectors' probe of G's samples)


@dataclass(frozen=True)
class Schedule:
    """How often the periodic work happens (the train.* and eval.every keys); 0 means never."""

    sample_every: int
    checkpoint_every: int
    eval_every: int = 0
    log_every: int = 0


def steps_for_budget(seconds_left: float, costs: Costs, schedule: Schedule,
                     updates_at: Callable[[int], int] = lambda step: 2) -> int:
    """The most steps N whose updates and periodic work fit in ``seconds_left``:
    update * sum(updates_at(1..N)) + sum over kinds of cost * (N / every + 1) <= left
    (the +1: the last step always samples, checkpoints and evaluates). At least 1."""
    per_step, fixed = 0.0, 0.0
    for every, cost in ((schedule.sample_every, costs.sample), (schedule.checkpoint_every, costs.checkpoint),
                        (schedule.eval_every, costs.evaluation), (schedule.log_every, costs.log)):
        if every > 0:
            per_step += cost / every
            fixed += cost
    available = SAFETY * seconds_left - fixed
    n, spent = 0, 0.0
    while True:
        spent += costs.update * updates_at(n + 1) + per_step
        if spent > available:
            return max(1, n)
        n += 1


def warmup_seconds(budget: float) -> float:
    """How long the speed is measured: 3% of the budget, between 2 and 15 seconds."""
    return min(15.0, max(2.0, 0.03 * budget))


def format_left(seconds: float) -> str:
    """'4:05 left' (minutes:seconds), for the progress bar."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d} left"
