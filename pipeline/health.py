"""Data health: a verdict per landing file, and one line naming the reason, the count and the fix.

A file's unusable share is (lines rejected at ingest + rows quarantined by dbt) / lines read.
Above ``health_warn_share`` it is logged as a warning; above ``health_error_share`` the step
fails. A file that keeps its events but loses one attribute on more than ``health_warn_share``
of its lines (every ``category_id`` of a spreadsheet-resaved file) is a warning too: the marts
then show those events as unknown. The same rules judge ``make ingest`` (rejections only:
quarantine is dbt's) and ``dbt build`` (the marts ``data_health_files`` / ``data_health_reasons``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILES_TABLE = "marts.data_health_files"
REASONS_TABLE = "marts.data_health_reasons"
QUARANTINE_TABLE = "cleaned.quarantined_events"


@dataclass(frozen=True)
class DroppedAttribute:
    """The attribute a file's kept events lost most often."""

    column: str  # category_id, brand, category_code, user_session or price
    reason: str  # its most frequent reason, e.g. 'category_id unreadable'
    rows: int


@dataclass(frozen=True)
class FileVerdict:
    name: str
    lines_read: int
    unusable: int  # rejected + quarantined
    dropped: DroppedAttribute | None = None

    @property
    def share(self) -> float:
        return self.unusable / self.lines_read if self.lines_read else 0.0

    @property
    def dropped_share(self) -> float:
        return self.dropped.rows / self.lines_read if self.dropped and self.lines_read else 0.0


@dataclass(frozen=True)
class Problem:
    outcome: str  # rejected | quarantined
    reason: str
    rows: int
    first_event_at: dt.datetime | None = None
    files: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Assessment:
    status: str  # ok | warn | error
    message: str  # one line; empty when ok
    files: list[FileVerdict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def to_json(self, checked_by: str) -> dict[str, Any]:
        worst = sorted(self.files, key=lambda f: (-f.share, f.name))[:20]
        return {
            "checked_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "checked_by": checked_by,
            "status": self.status,
            "message": self.message,
            "files": len(self.files),
            "lines_read": sum(f.lines_read for f in self.files),
            "unusable_rows": sum(f.unusable for f in self.files),
            "worst_files": [{**asdict(f), "share": round(f.share, 6), "dropped_share": round(f.dropped_share, 6)}
                            for f in worst],
            "problems": [{"outcome": p.outcome, "reason": p.reason, "rows": p.rows, "files": len(p.files)}
                         for p in self.problems[:20]],
        }


def _fix(problem: Problem, rules: dict[str, Any], unknown_types: Sequence[str]) -> str:
    """What the user can do about the most frequent problem, naming the setting where one applies."""
    reason = problem.reason
    if "event_time before" in reason:
        since = problem.first_event_at.date().isoformat() if problem.first_event_at else "YYYY-MM-DD"
        return (f"if those dates are right, set MIN_EVENT_DATE={since} "
                f"(e.g. make recommend VARS=\"min_event_date={since}\")")
    if "price above" in reason:
        return f"if such prices are real, raise MAX_PRICE (now {rules['max_price']})"
    if "unknown event_type" in reason:
        found = f" (found: {', '.join(unknown_types)})" if unknown_types else ""
        known = ",".join(rules["known_event_types"])
        return f"if they are real event types{found}, add them to KNOWN_EVENT_TYPES (now {known})"
    if "in the future" in reason:
        return "the source's clock or time zone is off (events more than a day ahead): fix the export"
    if "scientific notation" in reason:
        return "a spreadsheet rounded the ids: load the original file, or export the id columns as text"
    if "event_time" in reason:
        return "event_time must read like 2019-10-01 00:00:00 UTC: fix the export"
    if "UTF-8" in reason:
        return "save the file as UTF-8"
    if "field count" in reason or "double quotes" in reason:
        return "lines are cut short or carry stray quotes: check the export"
    if "price" in reason:
        return "purchases need a usable price: fix the export"
    if "missing" in reason or "bad" in reason:
        return "the file has events without usable ids: fix the export"
    return "see raw.events_rejected and cleaned.quarantined_events"


def attribute_consequence(column: str) -> str:
    """What losing ``column`` does to the marts, and its likely cause and fix."""
    if column == "category_id":
        return ("as after a spreadsheet re-save, which writes 64-bit ids like 1.48758E+18; the category marts "
                "show these events as unknown; load the original file, or export the id columns as text")
    if column == "price":
        return ("the views and carts keep their events without a price (purchases without a usable price are "
                "quarantined); check the export's prices")
    if column in ("brand", "category_code", "user_session"):
        return (f"{column} held bytes that are not UTF-8, as in a latin-1 / CP1252 export; the brand and "
                "category marts show these events as unknown; save the file as UTF-8")
    return "these events are kept without it"


def _which(flagged: Sequence[FileVerdict], example: FileVerdict, total: int) -> str:
    return (f"{example.name} is" if len(flagged) == 1
            else f"{len(flagged)} of {total} files (e.g. {example.name}) are")


def _unusable_message(flagged: Sequence[FileVerdict], files: Sequence[FileVerdict], ranked: Sequence[Problem],
                      rules: dict[str, Any], unknown_types: Sequence[str], error: bool) -> str:
    warn_share, error_share = float(rules["health_warn_share"]), float(rules["health_error_share"])
    names = {f.name for f in flagged}
    relevant = [p for p in ranked if p.files & names] or list(ranked)
    top = relevant[0] if relevant else None
    threshold, setting = (error_share, "HEALTH_ERROR_SHARE") if error else (warn_share, "HEALTH_WARN_SHARE")
    lines = sum(f.lines_read for f in flagged)
    unusable = sum(f.unusable for f in flagged)
    example = max(flagged, key=lambda f: (f.share, f.name))
    message = (f"data health: {_which(flagged, example, len(files))} more than {threshold:.0%} unusable: "
               f"{unusable:,} of {lines:,} lines")
    if top is not None:
        message += (f"; most often {top.outcome} '{top.reason}' ({top.rows:,} rows); "
                    f"{_fix(top, rules, unknown_types)}")
    return message + f"; to accept such files, raise {setting} (now {threshold:g})"


def _attribute_message(flagged: Sequence[FileVerdict], files: Sequence[FileVerdict], warn_share: float) -> str:
    example = max(flagged, key=lambda f: (f.dropped_share, f.name))
    dropped = example.dropped
    assert dropped is not None
    return (f"data health: {_which(flagged, example, len(files))} losing {dropped.column} on more than "
            f"{warn_share:.0%} of lines (events kept): '{dropped.reason}' on {dropped.rows:,} of "
            f"{example.lines_read:,} lines ({example.dropped_share:.0%})"
            f"{f' of {example.name}' if len(flagged) > 1 else ''}; "
            f"{attribute_consequence(dropped.column)}; to accept such files, raise HEALTH_WARN_SHARE "
            f"(now {warn_share:g})")


def file_status(file: FileVerdict, rules: Mapping[str, Any]) -> str:
    """ok, warn or error for one file. The rule's twin is ``health_status`` in
    dbt_project/models/marts/health/data_health_files.sql (Python judges ``make ingest``, SQL the marts);
    tests/test_data_shapes.py checks that the two agree on every file of the marts."""
    warn_share, error_share = float(rules["health_warn_share"]), float(rules["health_error_share"])
    if file.share > error_share:
        return "error"
    return "warn" if file.share > warn_share or file.dropped_share > warn_share else "ok"


def assess(files: Sequence[FileVerdict], problems: Sequence[Problem], rules: dict[str, Any],
           unknown_types: Sequence[str] = ()) -> Assessment:
    """Judge the files against the thresholds; the message describes the worst level reached, and
    then the files that lost an attribute on more than the warn share of their lines."""
    warn_share = float(rules["health_warn_share"])
    judged = [(f, file_status(f, rules)) for f in files]
    errors = [f for f, status in judged if status == "error"]
    warned = [f for f, status in judged if status == "warn"]
    warns = [f for f in warned if f.share > warn_share]  # too much unusable (not only a lost attribute)
    attributes = [f for f in warned if f.dropped_share > warn_share]
    status = "error" if errors else "warn" if warned else "ok"
    ranked = sorted(problems, key=lambda p: (-p.rows, p.reason))
    parts = []
    if errors or warns:
        parts.append(_unusable_message(errors or warns, files, ranked, rules, unknown_types, bool(errors)))
    if attributes:
        parts.append(_attribute_message(attributes, files, warn_share))
    return Assessment(status, "; also ".join(parts), list(files), ranked)


def report(assessment: Assessment, path: Path, checked_by: str) -> None:
    """Log the verdict and write it as JSON (read by `make doctor`)."""
    if assessment.status == "warn":
        log.warning("%s", assessment.message)
    elif assessment.status == "ok":
        log.info("data health: %d files, every one within the warn threshold", len(assessment.files))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(assessment.to_json(checked_by), indent=2, default=str) + "\n", encoding="utf-8")


def file_verdicts(query: Callable[[str], list[Any]]) -> list[FileVerdict]:
    """Each file of the data_health_files mart as a verdict's input."""
    return [FileVerdict(r.source_file, int(r.lines_read or 0), int(r.rejected_rows + r.quarantined_rows),
                        DroppedAttribute(r.dropped_attribute, r.dropped_attribute_reason,
                                         round(float(r.dropped_attribute_share) * int(r.lines_read)))
                        if r.dropped_attribute else None)
            for r in query(f"""select source_file, lines_read, rejected_rows, quarantined_rows, dropped_attribute,
                                      dropped_attribute_reason, dropped_attribute_share from {FILES_TABLE}""")]


def from_marts(query: Callable[[str], list[Any]], rules: dict[str, Any]) -> Assessment:
    """Assess the data_health marts built by dbt; ``query`` runs SQL (Spark, or the Thrift Server)
    and returns rows with columns as attributes."""
    files = file_verdicts(query)
    rows = query(f"""
        select outcome, reason, sum(row_count) as row_count,
               date_format(min(first_event_at), 'yyyy-MM-dd HH:mm:ss') as first_event_at,
               array_join(collect_set(source_file), '\\n') as files
        from {REASONS_TABLE} where outcome in ('rejected', 'quarantined')
        group by outcome, reason""")
    problems = [Problem(r.outcome, r.reason, int(r.row_count),
                        dt.datetime.fromisoformat(r.first_event_at) if r.first_event_at else None,
                        frozenset(r.files.split("\n"))) for r in rows]
    unknown = [r.event_type for r in query(f"""
        select coalesce(event_type, '(empty)') as event_type, count(*) as n from {QUARANTINE_TABLE}
        where quarantine_reason like '%unknown event_type%' group by 1 order by n desc limit 5""")]
    return assess(files, problems, rules, unknown)
