"""Reading the marts the way the tests compare them."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F


def pair_interactions(spark: SparkSession) -> DataFrame:
    """One row per (user_id, product_id) from user_item_interactions (one row per pair and day): the
    strength and the purchases summed over the pair's days."""
    return (spark.table("marts.user_item_interactions").groupBy("user_id", "product_id")
            .agg(F.sum("strength").alias("strength"), F.sum("purchases").alias("purchases")))
