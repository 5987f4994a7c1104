"""Every path and setting the pipeline uses, read from environment variables in one place.

Defaults put everything under the repository: ``./lakehouse`` (Delta warehouse and
Derby metastore), ``./data/raw`` (CSV landing folder), ``./data/truth`` (the
generator's planted ground truth) and ``./.jars`` (Delta jars cached by ``make setup``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


class UnwritableDirError(RuntimeError):
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
