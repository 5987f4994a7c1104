"""Landing-folder files: discovery, fingerprints and a first-line check, all before Spark runs."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.rees46 import HEADER_LINE, NAMES

PATTERNS = ("*.csv", "*.csv.gz")


@dataclass(frozen=True)
class LandingFile:
    name: str  # path relative to the landing folder: the file's identity in the ledger
    path: Path
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class FileCheck:
    has_header: bool
    problem: str | None  # why the whole file is refused, or None


def discover(raw_dir: Path) -> list[LandingFile]:
    """Every CSV or gzipped CSV under ``raw_dir`` (recursively), sorted by name; hidden files skipped."""
    if not raw_dir.is_dir():
        return []
    paths = sorted({p for pattern in PATTERNS for p in raw_dir.rglob(pattern)})
    return [
        LandingFile(name=str(p.relative_to(raw_dir)), path=p, size_bytes=p.stat().st_size, sha256=sha256_of(p))
        for p in paths
        if not any(part.startswith(".") for part in p.relative_to(raw_dir).parts)
    ]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _first_line(path: Path) -> bytes:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        return handle.readline(1 << 16)


def _looks_like_data(fields: list[str]) -> bool:
    return len(fields) == len(NAMES) and fields[0][:4].isdigit() and fields[0][4:5] == "-"


def _gzip_problem(path: Path) -> str | None:
    """Read a gzip file to its end: a truncated or corrupt one fails here, not halfway through Spark's load."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 22):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return f"is not a valid gzip file ({exc})"
    return None


def check_file(path: Path) -> FileCheck:
    """Decide from the first line whether the file has the REES46 header, is headerless, or is refused."""
    if path.name.endswith(".gz") and (problem := _gzip_problem(path)):
        return FileCheck(False, problem)
    try:
        first = _first_line(path)
    except (OSError, EOFError) as exc:
        return FileCheck(False, f"cannot be read ({exc})")
    text = first.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
    if not first:
        return FileCheck(False, None)  # empty file: nothing to load, recorded with zero lines
    if text == HEADER_LINE:
        return FileCheck(True, None)
    fields = text.split(",")
    if _looks_like_data(fields):
        return FileCheck(False, None)
    if {f.strip().lower() for f in fields} == set(NAMES):
        return FileCheck(True, f"columns are in a different order than REES46 ({text!r})")
    for separator, name in ((";", "semicolons"), ("\t", "tabs")):
        parts = text.split(separator)
        if [p.strip().lower() for p in parts] == list(NAMES) or _looks_like_data(parts):
            return FileCheck(False, f"fields are separated by {name}, not commas (a spreadsheet's regional CSV "
                                    "export?): save it as comma-separated CSV")
    return FileCheck(False, f"first line is neither the REES46 header nor an event row ({text[:120]!r})")
