"""How `make tune` proposes candidates: ask for one, score it, tell the score back.

- ``tpe`` (the default): Optuna's Tree-structured Parzen Estimator over the same discrete space as the
  grid, the model family a choice like any other parameter. It starts from each family's current
  parameters and then spends the trial budget where the scores are better.
- ``random``: a seeded sample of the grid, in random order.
- ``grid``: every combination.

All three first propose each family's current parameters, so the choice is never worse than them on
validation. A candidate already scored is not proposed twice (TPE may draw one again: it is told the
known score without a new fit).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import random
import warnings
from typing import Any, Protocol

from ml.params import RunParams

log = logging.getLogger(__name__)

SEARCHES = ("tpe", "random", "grid")
Space = dict[str, dict[str, list[Any]]]  # family -> parameter -> values
# Draws TPE may repeat in a row before the search counts the space as exhausted.
MAX_REPEATS = 50


class Search(Protocol):
    def ask(self) -> RunParams | None:
        """The next candidate, or None when the search has nothing new to try."""

    def tell(self, candidate: RunParams, value: float) -> None:
        """The objective the last candidate scored."""


def with_family(base: RunParams, family: str, values: dict[str, Any]) -> RunParams:
    section = dataclasses.replace(getattr(base, family), **values)
    return dataclasses.replace(base, model=family, **{family: section})


def incumbents(space: Space, base: RunParams) -> list[RunParams]:
    """Each searched family with its current parameters."""
    return [dataclasses.replace(base, model=family) for family in space]


class ListSearch:
    """Candidates from a fixed list (grid or random sample), incumbents first, no duplicates."""

    def __init__(self, space: Space, base: RunParams, trials: int | None, seed: int) -> None:
        grid = [with_family(base, family, dict(zip(params, values))) for family, params in space.items()
                for values in itertools.product(*params.values())]
        if trials is not None:
            grid = random.Random(seed).sample(grid, min(trials, len(grid)))
        self._queue = list(dict.fromkeys([*incumbents(space, base), *grid]))

    def ask(self) -> RunParams | None:
        return self._queue.pop(0) if self._queue else None

    def tell(self, candidate: RunParams, value: float) -> None:
        pass


class TpeSearch:
    """Optuna TPE over the discrete space; the incumbents are its first trials."""

    def __init__(self, space: Space, base: RunParams, seed: int) -> None:
        import optuna  # imported here: only the tpe search needs it

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self._base = base
        # Each family's current values join its choices, so the incumbents are points of the space.
        self._space = {family: {name: sorted(set(values) | {getattr(getattr(base, family), name)}, key=str)
                                for name, values in params.items()} for family, params in space.items()}
        # multivariate + group: parameters are modelled jointly within each family (Optuna calls both
        # options experimental; they are what a conditional space like this needs).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                                 n_startup_trials=max(4, 2 * len(space)))
        self._study = optuna.create_study(direction="maximize", sampler=sampler)
        for family in space:
            self._study.enqueue_trial({"model": family, **{f"{family}.{name}": getattr(getattr(base, family), name)
                                                           for name in self._space[family]}})
        self._seen: dict[RunParams, float] = {}
        self._trial: Any = None

    def _candidate(self, trial: Any) -> RunParams:
        family = trial.suggest_categorical("model", list(self._space))
        values = {name: trial.suggest_categorical(f"{family}.{name}", choices)
                  for name, choices in self._space[family].items()}
        return with_family(self._base, family, values)

    def ask(self) -> RunParams | None:
        for _ in range(MAX_REPEATS):
            self._trial = self._study.ask()
            candidate = self._candidate(self._trial)
            if candidate not in self._seen:
                return candidate
            self._study.tell(self._trial, self._seen[candidate])
        log.info("TPE drew only candidates already scored %d times in a row: the search stops", MAX_REPEATS)
        return None

    def tell(self, candidate: RunParams, value: float) -> None:
        self._seen[candidate] = value
        self._study.tell(self._trial, value)


def make_search(kind: str, space: Space, base: RunParams, trials: int | None, seed: int = 7) -> Search:
    if kind == "tpe":
        return TpeSearch(space, base, seed)
    if kind == "random":
        return ListSearch(space, base, trials, seed)
    if kind == "grid":
        return ListSearch(space, base, None, seed)
    raise ValueError(f"unknown search {kind!r} ({', '.join(SEARCHES)})")
