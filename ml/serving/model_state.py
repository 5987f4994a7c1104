"""The serving model's state between runs, keyed by user and item ids, with what it was fitted with and
which refit it descends from. A refit writes a new state; a daily update (ml/serving/update.py) writes one
with the changed users' new vectors.

- ALS: ``users`` and ``items`` hold the factors.
- EASE: ``items`` holds the item ids and the rows of the item-item weights (columns in the same
  order); ``users`` holds the user ids with no vector, since a user's scores come from their history. The weights do not
  change between refits, so an update's state points at the refit's file instead of copying it
  (10,000 items: 0.4 GB).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml import topk
from ml.params import AlsParams, EaseParams

log = logging.getLogger(__name__)

STATE_DIR = "state"
MODELS_WITH_STATE = ("als", "ease")


@dataclass(frozen=True)
class ModelState:
    run_id: str
    kind: str  # refit | update
    base_run: str  # the refit it descends from (itself for a refit)
    refit_data_end: dt.datetime  # the newest interaction of that refit: the schedule counts days from it
    data_end: dt.datetime  # the newest interaction it has seen: the next update starts after it
    params: AlsParams | EaseParams
    users: topk.Factors  # keyed by user_id: ALS factors; for EASE the ids with no vector
    items: topk.Factors  # keyed by item_id: ALS factors, or EASE's item-item weight rows
    refit_sizes: tuple[int, int]  # users and items of that refit: the schedule measures growth from them
    model: str = "als"
    items_file: Path | None = None  # where ``items`` was read from (an update of EASE shares it)

    def save(self, model_path: Path) -> None:
        folder = model_path / STATE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "users.npz", ids=self.users.index, vectors=self.users.vectors)
        items_file = self.items_file if self.model == "ease" and self.items_file is not None else None
        if items_file is None:
            items_file = folder / "items.npz"
            np.savez(items_file, ids=self.items.index, vectors=self.items.vectors)
        meta = {"run_id": self.run_id, "kind": self.kind, "base_run": self.base_run, "model": self.model,
                "refit_data_end": self.refit_data_end.isoformat(), "data_end": self.data_end.isoformat(),
                "refit_sizes": list(self.refit_sizes), "items_file": str(items_file),
                "params": dataclasses.asdict(self.params)}
        (folder / "state.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def exists(model_path: Path) -> bool:
    folder = model_path / STATE_DIR
    if not (folder / "state.json").is_file() or not (folder / "users.npz").is_file():
        return False
    return Path(json.loads((folder / "state.json").read_text(encoding="utf-8"))["items_file"]).is_file()


def _factors(path: Path) -> topk.Factors:
    with np.load(path) as saved:
        return topk.Factors(saved["ids"], saved["vectors"])


def load(model_path: Path) -> ModelState:
    folder = model_path / STATE_DIR
    meta = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    model = meta["model"]
    params = AlsParams(**meta["params"]) if model == "als" else EaseParams(**meta["params"])
    items_file = Path(meta["items_file"])
    return ModelState(run_id=meta["run_id"], kind=meta["kind"], base_run=meta["base_run"],
                      refit_data_end=dt.datetime.fromisoformat(meta["refit_data_end"]),
                      data_end=dt.datetime.fromisoformat(meta["data_end"]), params=params,
                      users=_factors(folder / "users.npz"), items=_factors(items_file),
                      refit_sizes=tuple(meta["refit_sizes"]), model=model,
                      items_file=items_file)


def keyed_by_ids(factors: topk.Factors, ids_of_index: np.ndarray) -> topk.Factors:
    """Factors keyed by dense index -> the same vectors keyed by id (``ids_of_index[index]``)."""
    return topk.Factors.keyed(ids_of_index[factors.index], factors.vectors)


def ease_weights_by_ids(items: np.ndarray, weights: np.ndarray, ids_of_index: np.ndarray) -> topk.Factors:
    """EASE's weights over dense item indices ``items`` -> rows and columns ordered by item id."""
    ids = ids_of_index[items]
    order = np.argsort(ids, kind="stable")
    return topk.Factors(ids[order].astype(np.int64), np.ascontiguousarray(weights[np.ix_(order, order)]))


def ids_only(ids: np.ndarray) -> topk.Factors:
    """Sorted ids with zero-width vectors: the users an EASE model has seen."""
    return topk.Factors(np.sort(ids).astype(np.int64), np.empty((len(ids), 0), np.float32))


def prune(models_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` model folders (run ids sort by time), sparing the folders whose
    files a kept state reads (an EASE update reads its refit's weights). A daily update writes every
    user's vectors: at 4.5M users that is 0.6 GB a day. Returns the folders deleted."""
    if not models_dir.is_dir():
        return []
    folders = sorted((p for p in models_dir.iterdir() if p.is_dir()), key=lambda p: p.name)
    kept = folders[-max(keep, 1):]
    needed = {p.resolve() for p in kept}
    for folder in kept:
        meta = folder / STATE_DIR / "state.json"
        if meta.is_file():
            items_file = Path(json.loads(meta.read_text(encoding="utf-8"))["items_file"]).resolve()
            needed.add(items_file.parent.parent if items_file.parent.name == STATE_DIR else items_file.parent)
    gone = [p for p in folders if p.resolve() not in needed]
    for folder in gone:
        shutil.rmtree(folder, ignore_errors=True)
    if gone:
        log.info("deleted %d old model folder(s) of %s (keeping the newest %d)", len(gone), models_dir, keep)
    return gone
