"""The serving model's state between runs: factors keyed by user and item ids, what they were fitted
with, and which refit they descend from. A refit writes a new state; a daily update writes one that
shares the refit's item factors and replaces the vectors of the users who changed (ml/update.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml import topk
from ml.params import AlsParams

STATE_DIR = "state"


@dataclass(frozen=True)
class ModelState:
    run_id: str
    kind: str  # refit | update
    base_run: str  # the refit it descends from (itself for a refit)
    refit_data_end: dt.datetime  # the newest interaction of that refit: the schedule counts days from it
    data_end: dt.datetime  # the newest interaction it has seen: the next update starts after it
    params: AlsParams
    users: topk.Factors  # keyed by user_id
    items: topk.Factors  # keyed by item_id
    refit_sizes: tuple[int, int]  # users and items of that refit: the schedule measures growth from them

    def save(self, model_path: Path) -> None:
        folder = model_path / STATE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "factors.npz", user_ids=self.users.index, user_vectors=self.users.vectors,
                 item_ids=self.items.index, item_vectors=self.items.vectors)
        meta = {"run_id": self.run_id, "kind": self.kind, "base_run": self.base_run,
                "refit_data_end": self.refit_data_end.isoformat(), "data_end": self.data_end.isoformat(),
                "refit_sizes": list(self.refit_sizes),
                "params": dataclasses.asdict(self.params)}
        (folder / "state.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def exists(model_path: Path) -> bool:
    return (model_path / STATE_DIR / "state.json").is_file() and (model_path / STATE_DIR / "factors.npz").is_file()


def load(model_path: Path) -> ModelState:
    folder = model_path / STATE_DIR
    meta = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    with np.load(folder / "factors.npz") as saved:
        users = topk.Factors(saved["user_ids"], saved["user_vectors"])
        items = topk.Factors(saved["item_ids"], saved["item_vectors"])
    return ModelState(run_id=meta["run_id"], kind=meta["kind"], base_run=meta["base_run"],
                      refit_data_end=dt.datetime.fromisoformat(meta["refit_data_end"]),
                      data_end=dt.datetime.fromisoformat(meta["data_end"]), params=AlsParams(**meta["params"]),
                      users=users, items=items, refit_sizes=tuple(meta["refit_sizes"]))


def keyed_by_ids(factors: topk.Factors, ids_of_index: np.ndarray) -> topk.Factors:
    """Factors keyed by dense index -> the same vectors keyed by id (``ids_of_index[index]``)."""
    return topk.Factors.keyed(ids_of_index[factors.index], factors.vectors)
