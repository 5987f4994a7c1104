"""The DuckDB peer: the ingest rules, cleaning, daily revenue, brand rankings and the interaction
mart as plain DuckDB SQL straight from the landing CSVs, written independently of the dbt models.

Its results go to Parquet so a Spark job can compare them with the Delta marts row by row.
Run: python -m bench.peers.duckdb_sql RAW_DIR OUT_DIR (prints seconds and row counts as JSON).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb

from pipeline.platform.config import load_settings

COLUMNS = ("event_time", "event_type", "product_id", "category_id", "category_code", "brand", "price", "user_id",
           "user_session")


def statements(csv_glob: str, rules: dict) -> dict[str, str]:
    """Table name -> the SQL that makes it, in order."""
    v = rules
    known = ", ".join(f"'{t}'" for t in v["known_event_types"])
    weights = " union all ".join(f"select '{t}' as event_type, {float(w)} as weight"
                                 for t, w in v["event_weights"].items())
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in COLUMNS)
    return {
        # Lines with the wrong number of fields are skipped here (Spark rejects them with a reason).
        "raw_text": f"""
            select * from read_csv('{csv_glob}', header = true, auto_detect = false, delim = ',', quote = '"',
                                   columns = {{{columns}}}, ignore_errors = true)""",
        "parsed": """
            select try_strptime(event_time, '%Y-%m-%d %H:%M:%S UTC') as event_time,
                   event_type, try_cast(product_id as bigint) as product_id,
                   try_cast(category_id as bigint) as category_id, category_code, brand,
                   try_cast(price as double) as price, try_cast(user_id as bigint) as user_id, user_session,
                   product_id as product_text, category_id as category_text, price as price_text,
                   user_id as user_text
            from raw_text""",
        # An unreadable category id or price is dropped (null), not the event.
        "staged": """
            select event_time, cast(event_time as date) as event_date, lower(trim(event_type)) as event_type,
                   product_id, category_id, nullif(lower(trim(category_code)), '') as category_code,
                   nullif(lower(trim(brand)), '') as brand,
                   case when isfinite(price) and abs(price) < 1e16 then cast(price as decimal(18, 2)) end as price,
                   user_id, nullif(trim(user_session), '') as user_session
            from parsed
            where event_time is not null
              and (product_text is null or product_id is not null)
              and (user_text is null or user_id is not null)""",
        # Only purchases need a plausible price; on other events an implausible one is dropped.
        "usable": f"""
            select * replace (case when event_type = 'purchase' or (price >= 0 and price <= {v['max_price']})
                                   then price end as price),
                   coalesce(user_session, 'surrogate|' || user_id || '|' || event_date) as session_key
            from staged
            where user_id is not null and product_id is not null
              and (event_type != 'purchase' or (price is not null and price >= 0 and price <= {v['max_price']}))
              and event_time >= timestamp '{v['min_event_date']} 00:00:00'
              and event_time <= now()::timestamp + interval 1 day and event_type in ({known})""",
        # Exact duplicates are one event; repeated carts of a product per session and day are one cart.
        "cleaned": """
            select distinct on (event_key) *
            from (select *, case when event_type = 'cart'
                                 then 'cart|' || user_id || '|' || product_id || '|' || session_key || '|' || event_date
                                 else concat_ws('|', event_time, event_type, product_id, category_id,
                                                coalesce(category_code, '\\N'), coalesce(brand, '\\N'), price,
                                                user_id, coalesce(user_session, '\\N'))
                            end as event_key
                  from usable)
            order by event_key, event_time""",
        "daily_revenue": """
            select d.event_date, coalesce(p.revenue, 0) as revenue, coalesce(p.purchases, 0) as purchases,
                   coalesce(p.buyers, 0) as buyers
            from (select distinct event_date from cleaned) d
            left join (select event_date, sum(price) as revenue, count(*) as purchases,
                              count(distinct user_id) as buyers
                       from cleaned where event_type = 'purchase' group by event_date) p using (event_date)""",
        "brand_rankings": """
            select brand, revenue, purchases, buyers,
                   case when brand != 'unknown' then row_number() over (
                       partition by brand != 'unknown' order by revenue desc, purchases desc, brand) end
                       as revenue_rank
            from (select coalesce(brand, 'unknown') as brand, sum(price) as revenue, count(*) as purchases,
                         count(distinct user_id) as buyers
                  from cleaned where event_type = 'purchase' group by 1)""",
        "user_item_interactions": f"""
            with newest as (select max(event_time) as t from cleaned),
                 weights as ({weights})
            select c.user_id, c.product_id, count(*) filter (where c.event_type = 'view') as views,
                   count(*) filter (where c.event_type = 'cart') as carts,
                   count(*) filter (where c.event_type = 'purchase') as purchases,
                   sum(coalesce(w.weight, 0) * pow(0.5, (epoch(newest.t) - epoch(c.event_time)) / 86400.0
                                                       / {v['recency_half_life_days']})) as strength
            from cleaned c cross join newest left join weights w on c.event_type = w.event_type
            group by c.user_id, c.product_id""",
    }


OUTPUTS = {
    "cleaned": "select event_time, event_type, product_id, user_id, price from cleaned",
    "daily_revenue": "select * from daily_revenue",
    "brand_rankings": "select * from brand_rankings",
    "user_item_interactions": "select * from user_item_interactions",
}


def run(raw_dir: Path, out_dir: Path) -> dict:
    """Build every table in an in-memory database; time the SQL (not the Parquet export)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    sql = statements(str(raw_dir / "*.csv"), dict(load_settings().rules))
    started = time.perf_counter()
    for name, body in sql.items():
        con.execute(f"create table {name} as {body}")
    seconds = time.perf_counter() - started
    counts = {}
    for name, query in OUTPUTS.items():
        con.execute(f"copy ({query}) to '{out_dir / name}.parquet' (format parquet)")
        counts[name] = con.execute(f"select count(*) from {name}").fetchone()[0]
    counts["lines_parsed"] = con.execute("select count(*) from raw_text").fetchone()[0]
    return {"seconds": round(seconds, 2), "rows": counts}


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]), Path(sys.argv[2]))))
