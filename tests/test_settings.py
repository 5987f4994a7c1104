"""Settings and verdicts that need no Spark: the dbt vars from the environment, the automatic
holdout, and the data-health message for each kind of problem."""

from __future__ import annotations

import datetime as dt

import pytest

from ml.data import MlDataError, TooLittleHistory, holdout_for
from pipeline import health
from pipeline.platform.config import REPO_ROOT, SettingError, dbt_vars, var_defaults

DEFAULTS = var_defaults(REPO_ROOT / "dbt_project")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in [*(n.upper() for n in DEFAULTS), "VARS"]:
        monkeypatch.delenv(name, raising=False)


def test_defaults_come_from_dbt_project_yml():
    assert dbt_vars() == DEFAULTS
    assert DEFAULTS["min_event_date"] == "1990-01-01" and DEFAULTS["health_error_share"] == 0.5


def test_environment_variables_and_vars_override_typed(monkeypatch):
    monkeypatch.setenv("MIN_EVENT_DATE", "1995-06-01")
    monkeypatch.setenv("MAX_PRICE", "5e4")
    monkeypatch.setenv("KNOWN_EVENT_TYPES", "view, cart,purchase,wishlist")
    monkeypatch.setenv("EVENT_WEIGHTS", "view=1,cart=2.5,purchase=8")
    monkeypatch.setenv("VARS", "min_event_date=1994-01-01 health_error_share=0.9")
    got = dbt_vars()
    assert got["min_event_date"] == "1994-01-01"  # VARS wins over the variable
    assert got["max_price"] == 50000 and isinstance(got["max_price"], int)
    assert got["known_event_types"] == ["view", "cart", "purchase", "wishlist"]
    assert got["event_weights"] == {"view": 1, "cart": 2.5, "purchase": 8}
    assert got["health_error_share"] == 0.9
    assert got["recency_half_life_days"] == DEFAULTS["recency_half_life_days"]


@pytest.mark.parametrize("env, value, message", [
    ("MIN_EVENT_DATE", "yesterday", "MIN_EVENT_DATE='yesterday' is not a date: write YYYY-MM-DD"),
    ("MAX_PRICE", "lots", "MAX_PRICE='lots' is not a number"),
    ("EVENT_WEIGHTS", "view:1", "EVENT_WEIGHTS='view:1' must be key=value pairs, e.g. view=1.0,cart=4.0"),
    ("VARS", "nonsense=1", "VARS names 'nonsense', which is not a setting; known: "),
    ("VARS", "max_price", "VARS item 'max_price' is not name=value"),
    ("KNOWN_EVENT_TYPES", ",", "KNOWN_EVENT_TYPES must list at least one value"),
])
def test_bad_settings_are_one_clear_error(monkeypatch, env, value, message):
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingError) as failed:
        dbt_vars()
    assert str(failed.value).startswith(message)


@pytest.mark.parametrize("requested, span, expected", [(7, 30, 7), (7, 14, 7), (7, 13, 3), (7, 3, 1), (1, 2, 1),
                                                       (3, 2, 1)])
def test_holdout_shrinks_so_training_keeps_the_larger_part(requested, span, expected):
    assert holdout_for(requested, span) == expected


def test_holdout_needs_two_days_and_a_positive_request():
    with pytest.raises(TooLittleHistory, match="span 1 day"):
        holdout_for(7, 1)
    with pytest.raises(MlDataError, match="at least 1"):
        holdout_for(0, 30)


def _verdict(reason: str, outcome: str = "quarantined", **settings) -> health.Assessment:
    files = [health.FileVerdict("a.csv", 100, 90), health.FileVerdict("b.csv", 100, 0)]
    problems = [health.Problem(outcome, reason, 90, dt.datetime(1985, 5, 2, 10), frozenset({"a.csv"}))]
    return health.assess(files, problems, {**DEFAULTS, **settings}, unknown_types=["wishlist"])


@pytest.mark.parametrize("reason, outcome, fix", [
    ("event_time before 1990-01-01", "quarantined", "set MIN_EVENT_DATE=1985-05-02"),
    ("price above 100000", "quarantined", "raise MAX_PRICE (now 100000)"),
    ("unknown event_type", "quarantined", "(found: wishlist), add them to KNOWN_EVENT_TYPES (now view,cart,"),
    ("event_time in the future", "quarantined", "the source's clock or time zone is off"),
    ("product_id in scientific notation (rounded by a spreadsheet?)", "rejected", "export the id columns as text"),
    ("bad event_time", "rejected", "event_time must read like 2019-10-01 00:00:00 UTC"),
    ("missing price", "quarantined", "purchases need a usable price"),
])
def test_each_problem_names_its_fix(reason, outcome, fix):
    verdict = _verdict(reason, outcome)
    assert verdict.status == "error"
    assert verdict.message.startswith(f"data health: a.csv is more than 50% unusable: 90 of 100 lines; "
                                      f"most often {outcome} '{reason}' (90 rows); ")
    assert fix in verdict.message
    assert verdict.message.endswith("to accept such files, raise HEALTH_ERROR_SHARE (now 0.5)")


def test_thresholds_decide_ok_warn_and_error():
    assert _verdict("missing price", health_error_share=0.95).status == "warn"
    assert "raise HEALTH_WARN_SHARE (now 0.01)" in _verdict("missing price", health_error_share=0.95).message
    assert _verdict("missing price", health_error_share=0.95, health_warn_share=0.95).status == "ok"
    empty = health.assess([health.FileVerdict("empty.csv", 0, 0)], [], DEFAULTS)
    assert (empty.status, empty.message) == ("ok", "")


def test_an_attribute_lost_on_most_lines_warns_naming_column_share_and_cause_but_never_errors():
    lost = health.DroppedAttribute("category_id", "category_id unreadable", 100)
    excel = health.FileVerdict("excel.csv", 100, 0, lost)
    fine = health.FileVerdict("fine.csv", 100, 0, health.DroppedAttribute("price", "price unreadable", 1))
    verdict = health.assess([excel, fine], [], DEFAULTS)
    assert verdict.status == "warn"
    assert verdict.message == (
        "data health: excel.csv is losing category_id on more than 1% of lines (events kept): 'category_id "
        "unreadable' on 100 of 100 lines (100%); as after a spreadsheet re-save, which writes 64-bit ids like "
        "1.48758E+18; the category marts show these events as unknown; load the original file, or export the id "
        "columns as text; to accept such files, raise HEALTH_WARN_SHARE (now 0.01)")
    # Beside an unusable file, both are named, worst first; a lost attribute never makes an error.
    both = health.assess([excel, health.FileVerdict("bad.csv", 100, 90)], [], DEFAULTS)
    assert both.status == "error"
    assert both.message.startswith("data health: bad.csv is more than 50% unusable")
    assert "; also data health: excel.csv is losing category_id" in both.message
    assert health.assess([fine], [], DEFAULTS).status == "ok"  # 1 % is not more than the warn share


def test_every_environment_variable_the_code_reads_is_documented():
    import re

    from pipeline.platform.config import REPO_ROOT

    pattern = re.compile(r"""\b(?:environ|env)(?:\.get)?\(\s*["']([A-Z][A-Z0-9_]+)|environ\[["']([A-Z][A-Z0-9_]+)|"""
                         r"""_from_env\(\s*["']([A-Z][A-Z0-9_]+)|env_var\(\s*["']([A-Z][A-Z0-9_]+)|"""
                         r"""_port\(\s*env,\s*["']([A-Z][A-Z0-9_]+)""")
    read = set()
    for folder in ("pipeline", "ml", "bench", "profiles"):
        for path in (REPO_ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".yml"):
                read |= {next(g for g in m if g) for m in pattern.findall(path.read_text(encoding="utf-8"))}
    assert {"LAKEHOUSE_DIR", "MYSQL_HOST", "MYSQL_LOCAL_PORT", "SPARK_DRIVER_MEMORY"} <= read  # the scan works
    # The README's settings table, and the cluster's and the bench's in docs/.
    pages = [REPO_ROOT / "README.md", *(REPO_ROOT / "docs").glob("*.md")]
    readme = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    system = {"JAVA_HOME", "PYSPARK_PYTHON", "PATH", "HOME"}  # the machine's, not ours
    assert sorted(v for v in read - system if f"`{v}`" not in readme) == []
