"""The parameters `make tune` chose, kept in the lakehouse (ml.tuned_params, one row per tuning run),
and applied by `make train` / `make recommend` when they exist."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ml.params import RunParams

log = logging.getLogger(__name__)

TABLE = "ml.tuned_params"
ROW_TYPE = ("tuned_at timestamp, model string, params map<string,string>, protocol string, objective string, "
          "validation_value double, test_value double, defaults_test_value double, trials int")


def record(spark: SparkSession, chosen: RunParams, protocol: str, objective: str, validation_value: float,
           test_value: float, defaults_test_value: float, trials: int) -> None:
    section = dataclasses.asdict(getattr(chosen, chosen.model))
    row = {"tuned_at": dt.datetime.now(dt.UTC).replace(microsecond=0), "model": chosen.model,
           "params": {k: str(v) for k, v in section.items()}, "protocol": protocol, "objective": objective,
           "validation_value": validation_value, "test_value": test_value,
           "defaults_test_value": defaults_test_value, "trials": trials}
    spark.sql("create database if not exists ml")
    spark.createDataFrame([row], ROW_TYPE).write.format("delta").mode("append").saveAsTable(TABLE)


def _typed(section: Any, values: dict[str, str]) -> Any:
    """The dataclass ``section`` with ``values`` (strings) typed like its fields."""
    current = dataclasses.asdict(section)
    return dataclasses.replace(section, **{k: type(current[k])(v) for k, v in values.items() if k in current})


def apply_latest(spark: SparkSession, params: RunParams) -> RunParams:
    """``params`` with the latest tuned model and parameters, when `make tune` has recorded some."""
    if not spark.catalog.tableExists(TABLE):
        return params
    latest = spark.table(TABLE).orderBy(F.desc("tuned_at")).first()
    if latest is None or not hasattr(params, latest.model):
        return params
    values = dict(latest.params)
    when = f"{latest.tuned_at:%Y-%m-%d %H:%M} UTC"
    if latest.model == "als":
        # Records from before there were two backends are Spark's. A regularisation tuned for one means
        # something else to the other: such a choice is not carried over.
        tuned_backend = values.setdefault("backend", "spark")
        if tuned_backend != params.als.backend:
            log.warning("`make tune` chose ALS parameters at %s for the %s backend; this run fits with %s, so "
                        "it uses that backend's defaults (run `make tune` again to tune it)", when, tuned_backend,
                        params.als.backend)
            return params
    section = _typed(getattr(params, latest.model), values)
    log.info("using the parameters `make tune` chose at %s: %s %s (validation %s %.4f; test %.4f vs ALS "
             "defaults %.4f)", when, latest.model, dict(latest.params), latest.objective, latest.validation_value,
             latest.test_value, latest.defaults_test_value)
    return dataclasses.replace(params, model=latest.model, source=f"tuned {when}", **{latest.model: section})
