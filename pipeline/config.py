"""Every path and setting the pipeline uses, read from environment variables in one place.

Defaults put everything under the repository: ``./lakehouse`` (Delta warehouse and
Derby metastore), ``./data/raw`` (CSV landing folder), ``./data/truth`` (the
generator's planted ground truth) and ``./.jars`` (Delta jars cached by ``make setup``).
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import UserError

REPO_ROOT = Path(__file__).resolve().parent.parent


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default.resolve()


@dataclass(frozen=True)
class Settings:
    """Resolved absolute locations of the lakehouse and its inputs."""

    repo_root: Path
    lakehouse_dir: Path
    raw_dir: Path
    truth_dir: Path
    jars_dir: Path
    reports_dir: Path

    @property
    def dbt_project_dir(self) -> Path:
        return self.repo_root / "dbt_project"

    @property
    def profiles_dir(self) -> Path:
        return self.repo_root / "profiles"

    @property
    def lock_file(self) -> Path:
        return self.lakehouse_dir / ".lakehouse.lock"

    def exported_env(self) -> dict[str, str]:
        """Variables that make dbt's profile resolve to exactly these absolute paths."""
        return {
            "LAKEHOUSE_DIR": str(self.lakehouse_dir),
            "LAKEHOUSE_JARS_DIR": str(self.jars_dir),
            "LAKEHOUSE_PROFILES_DIR": str(self.profiles_dir),
        }


class UnwritableDirError(UserError):
    """A folder the pipeline must write to cannot be created or written."""


def ensure_writable(path: Path, variable: str) -> None:
    """Create ``path`` if needed and prove it takes a file, or raise with the variable to change."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UnwritableDirError(
            f"{path} is not writable ({exc.strerror or exc}): set {variable} to a folder you can write to"
        ) from None


def load_settings() -> Settings:
    """Read settings from the environment (``LAKEHOUSE_DIR``, ``RAW_DIR``, ``TRUTH_DIR``, ...)."""
    return Settings(
        repo_root=REPO_ROOT,
        lakehouse_dir=_path_from_env("LAKEHOUSE_DIR", REPO_ROOT / "lakehouse"),
        raw_dir=_path_from_env("RAW_DIR", REPO_ROOT / "data" / "raw"),
        truth_dir=_path_from_env("TRUTH_DIR", REPO_ROOT / "data" / "truth"),
        jars_dir=_path_from_env("LAKEHOUSE_JARS_DIR", REPO_ROOT / ".jars"),
        reports_dir=_path_from_env("REPORTS_DIR", REPO_ROOT / "reports"),
    )


# ---- business rules and tunables: the dbt vars -------------------------------------------------
# Defaults live in dbt_project.yml (so plain `dbt build` works); each can be overridden without
# editing files, by an environment variable named like the var in upper case (MIN_EVENT_DATE=...)
# or by VARS="min_event_date=1990-01-01 max_price=50000" (make ... VARS=...), which wins.
# The effective values go to dbt as --vars and to the ML code, so both apply the same rules.


class SettingError(UserError):
    """A setting has a value the pipeline cannot use."""


def _parse_number(text: str, source: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"{source}={text!r} is not a number") from None
    return int(value) if value.is_integer() else value


def _parse_var(name: str, text: str, default: Any, source: str) -> Any:
    """Type ``text`` like the var's default: number, ISO date, list (a,b,c) or mapping (a=1,b=2)."""
    text = text.strip()
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes")
    if isinstance(default, (int, float)):
        return _parse_number(text, source)
    if isinstance(default, list):
        items = [t.strip() for t in text.strip("[]").split(",") if t.strip()]
        if not items:
            raise SettingError(f"{source} must list at least one value, e.g. {','.join(map(str, default))}")
        return items
    if isinstance(default, dict):
        pairs = [p.split("=", 1) for p in text.strip("{}").split(",") if p.strip()]
        if not pairs or any(len(p) != 2 for p in pairs):
            example = ",".join(f"{k}={v}" for k, v in default.items())
            raise SettingError(f"{source}={text!r} must be key=value pairs, e.g. {example}")
        return {k.strip(): _parse_number(v.strip(), f"{source} {k.strip()}") for k, v in pairs}
    if name.endswith("_date"):
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise SettingError(f"{source}={text!r} is not a date: write YYYY-MM-DD") from None
    return text


def var_defaults(dbt_project_dir: Path) -> dict[str, Any]:
    """The vars and their defaults as written in dbt_project.yml."""
    project = yaml.safe_load((dbt_project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(project["vars"])


def _vars_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for token in shlex.split(text):
        name, sep, value = token.partition("=")
        if not sep:
            raise SettingError(f"VARS item {token!r} is not name=value, e.g. VARS=\"min_event_date=1990-01-01\"")
        pairs.append((name.strip(), value))
    return pairs


def dbt_vars(dbt_project_dir: Path | None = None) -> dict[str, Any]:
    """Effective values of every dbt var: dbt_project.yml, then NAME env variables, then VARS."""
    defaults = var_defaults(dbt_project_dir or REPO_ROOT / "dbt_project")
    values = dict(defaults)
    for name, default in defaults.items():
        env = name.upper()
        if os.environ.get(env, "").strip():
            values[name] = _parse_var(name, os.environ[env], default, env)
    for name, text in _vars_pairs(os.environ.get("VARS", "")):
        if name not in defaults:
            raise SettingError(f"VARS names {name!r}, which is not a setting; known: {', '.join(sorted(defaults))}")
        values[name] = _parse_var(name, text, defaults[name], f"VARS {name}")
    return values
