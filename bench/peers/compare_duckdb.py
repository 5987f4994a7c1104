"""Compare the DuckDB peer's tables with the Delta marts, row by row (a Spark job on the lakehouse).

Run: python -m bench.peers.compare_duckdb DUCKDB_OUT_DIR (prints one JSON object).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline.platform.config import load_settings
from pipeline.platform.spark import get_spark

EXACT = {  # DuckDB output -> (Delta table, columns compared exactly)
    "cleaned": ("cleaned.cleaned_events", ["event_time", "event_type", "product_id", "user_id", "price"]),
    "daily_revenue": ("marts.daily_revenue", ["event_date", "revenue", "purchases", "buyers"]),
    "brand_rankings": ("marts.brand_rankings", ["brand", "revenue", "purchases", "buyers", "revenue_rank"]),
}
STRENGTH_TOLERANCE = 1e-9  # relative: two engines sum floating-point weights in different orders


def _typed(df: DataFrame, columns: list[str]) -> DataFrame:
    """Same column types on both sides (decimals of different precision compare by value)."""
    return df.select(*[F.col(c).cast("decimal(38,2)") if c in ("revenue", "price") else
                       F.col(c).cast("bigint") if c in ("purchases", "buyers", "revenue_rank", "product_id",
                                                        "user_id") else F.col(c) for c in columns])


def _exact(spark, duck_dir: Path, name: str) -> dict:
    table, columns = EXACT[name]
    ours = _typed(spark.table(table), columns)
    theirs = _typed(spark.read.parquet(str(duck_dir / f"{name}.parquet")), columns)
    only_spark, only_duckdb = ours.exceptAll(theirs).count(), theirs.exceptAll(ours).count()
    return {"spark_rows": ours.count(), "duckdb_rows": theirs.count(), "only_spark": only_spark,
            "only_duckdb": only_duckdb, "agree": only_spark == only_duckdb == 0}


def _interactions(spark, duck_dir: Path) -> dict:
    keys, counts = ["user_id", "product_id"], ["views", "carts", "purchases"]
    # The mart holds a row per pair and day; the peer one per pair.
    ours = (spark.table("marts.user_item_interactions").groupBy(*keys)
            .agg(*[F.sum(c).alias(c) for c in [*counts, "strength"]]))
    theirs = spark.read.parquet(str(duck_dir / "user_item_interactions.parquet")).select(
        *keys, *[F.col(c).alias(f"d_{c}") for c in [*counts, "strength"]])
    joined = ours.join(theirs, keys, "full_outer")
    differ = joined.where(
        F.col("strength").isNull() | F.col("d_strength").isNull()
        | (F.abs(F.col("strength") - F.col("d_strength")) > STRENGTH_TOLERANCE * F.greatest(F.lit(1.0), "strength"))
        | F.greatest(*[F.col(c) != F.col(f"d_{c}") for c in counts]))
    bad = differ.count()
    return {"spark_rows": ours.count(), "duckdb_rows": theirs.count(), "differing_pairs": bad, "agree": bad == 0}


def compare(duck_dir: Path) -> dict:
    spark = get_spark("bench-compare", load_settings())
    result = {name: _exact(spark, duck_dir, name) for name in EXACT}
    result["user_item_interactions"] = _interactions(spark, duck_dir)
    return result


if __name__ == "__main__":
    print(json.dumps(compare(Path(sys.argv[1]))))
