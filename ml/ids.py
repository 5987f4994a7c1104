"""Dense int32 indices for ids of any size: the models (and Spark ALS) need int user and item columns."""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

INT32_MAX = 2**31 - 1


class IdSpaceError(ValueError):
    """More distinct ids than an int32 index can hold."""


def build_index(ids: DataFrame, id_col: str, index_col: str) -> DataFrame:
    """(id, index) with index = 0..n-1 in id order, so the mapping is deterministic."""
    distinct = ids.select(id_col).where(F.col(id_col).isNotNull()).distinct()
    # A global order needs one partition, but it sorts only the distinct ids (small).
    indexed = distinct.select(id_col, (F.row_number().over(Window.orderBy(id_col)) - 1).cast("int").alias(index_col))
    # Kept, not local-checkpointed: a local checkpoint's blocks die with their executor and cannot be
    # recomputed (a worker lost on the cluster failed the fit); kept blocks are rebuilt from the lineage,
    # which gives the same indices (a total order on distinct ids).
    indexed = indexed.persist(StorageLevel.MEMORY_AND_DISK)
    size = indexed.count()
    if size > INT32_MAX:
        raise IdSpaceError(f"{size} distinct {id_col} values exceed the int32 index space of ALS")
    return indexed


def to_index(df: DataFrame, mapping: DataFrame, id_col: str) -> DataFrame:
    """Replace ``id_col`` by its index column (rows whose id is unknown are dropped)."""
    return df.join(mapping, id_col).drop(id_col)


def to_id(df: DataFrame, mapping: DataFrame, index_col: str) -> DataFrame:
    """Replace ``index_col`` by the original id."""
    return df.join(mapping, index_col).drop(index_col)
