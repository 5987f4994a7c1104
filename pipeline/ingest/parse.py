"""Spark side of ingest: number every line of every file, parse it, and split accepted from rejected.

Line numbers come without a shuffle: within one input split Spark's
``monotonically_increasing_id`` is consecutive, so a line's number is the lines of
the file's earlier splits plus its offset inside its split. A first pass counts the
lines of every split (a tiny result); the second joins those offsets back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline.rees46 import DESCRIPTIVE_TEXT, NAMES, TIMESTAMP_FORMAT

FIELD_COUNT = len(NAMES)
_RAW_FIELDS = ", ".join(f"f{i} string" for i in range(FIELD_COUNT))
# Staging types prices as decimal(18, 2); larger magnitudes would silently become null there.
MAX_ABS_PRICE = 1e16
SCIENTIFIC = r"^[+-]?[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+$"
UNREADABLE = "\ufffd"  # what Spark decodes invalid UTF-8 bytes to


@dataclass(frozen=True)
class ParsedBatch:
    accepted: DataFrame  # columns of raw.events minus the batch columns
    rejected: DataFrame  # source_file, source_line, raw_line, reason
    lines_per_file: dict[str, int]  # data lines read (header excluded)
    parsed: DataFrame  # the persisted parse both outputs read; unpersist when done

    def release(self) -> None:
        self.parsed.unpersist()


def _local_path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path)).resolve()


def _numbered_lines(spark: SparkSession, files: dict[Path, tuple[str, bool]]) -> tuple[DataFrame, dict[str, int]]:
    """(source_file, source_line, value) for every data line; header lines dropped."""
    text = spark.read.text([str(p) for p in files])
    base = text.select(
        F.input_file_name().alias("file_uri"),
        F.input_file_block_start().alias("block_start"),
        F.monotonically_increasing_id().alias("row_id"),
        "value",
    )
    splits = (base.groupBy("file_uri", "block_start")
              .agg(F.min("row_id").alias("first_row_id"), F.count("*").alias("lines"))
              .collect())
    offsets, lines_per_file = [], {}
    for uri in sorted({row.file_uri for row in splits}):
        name, has_header = files[_local_path(uri)]
        seen = 0
        for row in sorted((r for r in splits if r.file_uri == uri), key=lambda r: r.block_start):
            offsets.append((uri, row.block_start, row.first_row_id, seen, name, has_header))
            seen += row.lines
        lines_per_file[name] = seen - (1 if has_header and seen else 0)
    for name, _ in files.values():
        lines_per_file.setdefault(name, 0)  # empty files have no split rows
    if not offsets:
        return spark.createDataFrame([], "source_file string, source_line bigint, value string"), lines_per_file
    offset_df = spark.createDataFrame(
        offsets, "file_uri string, block_start bigint, first_row_id bigint, line_offset bigint, "
                 "source_file string, has_header boolean")
    numbered = (base.join(F.broadcast(offset_df), ["file_uri", "block_start"])
                .withColumn("source_line", F.col("line_offset") + F.col("row_id") - F.col("first_row_id") + 1))
    data = numbered.where(~(F.col("has_header") & (F.col("source_line") == 1)))
    return data.select("source_file", "source_line", "value"), lines_per_file


def _bad_value(raw: Column, parsed: Column, name: str) -> Column:
    return F.when(raw.isNotNull() & parsed.isNull(), F.lit(f"bad {name}"))


def _bad_id(raw: Column, parsed: Column, name: str) -> Column:
    """An id that does not parse; ids in scientific notation were rounded by a spreadsheet."""
    return F.when(raw.isNotNull() & parsed.isNull(), F.when(
        F.trim(raw).rlike(SCIENTIFIC), F.lit(f"{name} in scientific notation (rounded by a spreadsheet?)"),
    ).otherwise(F.lit(f"bad {name}")))


def _invalid_attributes(c) -> Column:
    """{attribute: raw text} of the descriptive attributes that could not be read, or null.

    Such an attribute is set to null and the event is kept: a category id or a view's price
    does not make an event unusable (dbt quarantines a purchase without a usable price).
    """
    def bad(name: str, problem: Column) -> Column:
        return F.when(problem, F.struct(F.lit(name).alias("k"), c(f"{name}_text").alias("v")))

    entries = F.filter(F.array(
        bad("category_id", c("category_id_text").isNotNull() & c("category_id").isNull()),
        bad("price", c("price_text").isNotNull() & (c("price").isNull() | ~c("price_ok"))),
        *[bad(name, c(f"{name}_text").contains(UNREADABLE)) for name in DESCRIPTIVE_TEXT],
    ), lambda e: e.isNotNull())
    return F.when(F.size(entries) > 0, F.map_from_entries(entries))


def parse_lines(spark: SparkSession, files: dict[Path, tuple[str, bool]]) -> ParsedBatch:
    """Parse files given as {path: (ledger name, has_header)} into accepted rows and rejects."""
    lines, lines_per_file = _numbered_lines(spark, files)
    line = F.regexp_replace(F.regexp_replace("value", "\r$", ""), "^\ufeff", "")
    # Count fields outside double quotes, so a quoted comma is not a separator.
    n_fields = F.size(F.split(F.regexp_replace(line, '"[^"]*"', ""), ",", -1))
    fields = F.from_csv(line, _RAW_FIELDS, {"mode": "PERMISSIVE"})
    staged = lines.select("source_file", "source_line", line.alias("raw_line"),
                          n_fields.alias("n_fields"), fields.alias("f"))
    f = [F.col(f"f.f{i}") for i in range(FIELD_COUNT)]
    price = f[6].try_cast("double")
    # Type every field once; the reasons below compare the typed value with its text.
    typed = staged.select(
        "source_file", "source_line", "raw_line", "n_fields",
        f[0].alias("event_time_text"), f[2].alias("product_id_text"), f[3].alias("category_id_text"),
        f[6].alias("price_text"), f[7].alias("user_id_text"), f[4].alias("category_code_text"),
        f[5].alias("brand_text"), f[8].alias("user_session_text"),
        F.concat_ws(",", f[0], f[1], f[2], f[3], f[6], f[7]).alias("key_text"),
        F.try_to_timestamp(F.regexp_replace(F.trim(f[0]), " UTC$", ""), F.lit(TIMESTAMP_FORMAT)).alias("event_time"),
        f[1].alias("event_type"), f[2].try_cast("bigint").alias("product_id"),
        f[3].try_cast("bigint").alias("category_id"),
        (~F.isnan(price) & (F.abs(price) < MAX_ABS_PRICE)).alias("price_ok"), price.alias("price"),
        f[7].try_cast("bigint").alias("user_id"),
    )
    c = F.col
    reason = F.when(c("raw_line") == "", F.lit("empty line")).when(
        # An unclosed quote makes the CSV parser swallow the following separators.
        F.size(F.split(c("raw_line"), '"', -1)) % 2 == 0, F.lit("unbalanced double quotes"),
    ).when(
        c("n_fields") != FIELD_COUNT,
        F.format_string(f"wrong field count: %d, expected {FIELD_COUNT}", c("n_fields")),
    ).when(
        # Spark decodes files as UTF-8 and turns undecodable bytes into U+FFFD. In a descriptive
        # text field that only drops the field; anywhere else the event cannot be trusted.
        c("key_text").contains(UNREADABLE), F.lit("invalid UTF-8 bytes"),
    ).otherwise(F.concat_ws("; ",
        F.when(c("event_time_text").isNull(), F.lit("missing event_time")),
        _bad_value(c("event_time_text"), c("event_time"), "event_time"),
        _bad_id(c("product_id_text"), c("product_id"), "product_id"),
        _bad_id(c("user_id_text"), c("user_id"), "user_id"),
    ))
    invalid = _invalid_attributes(c)

    def kept(name: str) -> Column:
        return F.when(invalid.isNull() | invalid[name].isNull(), c(f"{name}_text")).alias(name)

    typed = typed.select(
        "source_file", "source_line", "raw_line", "event_time", "event_type", "product_id", "category_id",
        kept("category_code"), kept("brand"), F.when(c("price_ok"), c("price")).alias("price"), "user_id",
        kept("user_session"), invalid.alias("invalid_attributes"), reason.alias("reason"))
    # Persisted so each line is parsed once: without it, the accepted/rejected filters get
    # pushed below the projection and Spark re-evaluates from_csv once per reference.
    # Accepted rows drop their raw text before caching: only rejects need it.
    checked = (typed.withColumn("raw_line", F.when(F.col("reason") != "", F.col("raw_line")))
               .persist(StorageLevel.MEMORY_AND_DISK))
    accepted = checked.where(F.col("reason") == "").select(
        *NAMES, "invalid_attributes", "source_file", "source_line",
        F.to_date("event_time").alias("event_date"))
    rejected = checked.where(F.col("reason") != "").select("source_file", "source_line", "raw_line", "reason")
    return ParsedBatch(accepted=accepted, rejected=rejected, lines_per_file=lines_per_file, parsed=checked)
