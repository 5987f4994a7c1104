"""Whether a process still runs. A process that exited stays in the table as a zombie until its parent
reaps it; a daemon whose parent exited is reaped by PID 1, and in containers whose PID 1 reaps nothing
(this one's) the zombie stays: ``kill(pid, 0)`` still succeeds on it, so it is not a test of life."""

from __future__ import annotations

from pathlib import Path


def is_alive(pid: int) -> bool:
    """True while ``pid`` runs (exists and is not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
