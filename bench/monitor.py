"""Run one command and measure it: wall seconds and the kernel's peak-RSS mark of every process it starts.

Peak memory is read from /proc/<pid>/status (VmHWM, the high-water mark the kernel keeps per
process) for the command and all its descendants, sampled every 0.2 s; the Spark driver JVM
is the `java` descendant. Growth in the last 0.2 s of a process's life can be missed.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.2


@dataclass
class Measured:
    seconds: float
    returncode: int
    peak_mb: dict[str, float] = field(default_factory=dict)  # python, jvm, other -> largest peak of that kind


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(root: int) -> list[int]:
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def _peak_of(pid: int) -> tuple[str, float] | None:
    """(kind, VmHWM in MiB) of a live process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            kind = "jvm" if exe == "java" else "python" if exe.startswith("python") else "other"
            return kind, int(line.split()[1]) / 1024
    return None


def run_measured(command: list[str], env: dict[str, str], log_path: Path, cwd: Path,
                 cluster_pids: Callable[[], list[int]] | None = None) -> Measured:
    """Run ``command`` with its output in ``log_path``; return its wall time and peak memory.

    ``cluster_pids`` (cluster mode) lists the cluster's daemons: they and their descendants (the
    executors) are reported as ``cluster``, the sum of their high-water marks, an upper bound of
    what the cluster held at once (the Thrift Server's mark carries over from earlier stages).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    peaks: dict[int, tuple[str, float]] = {}
    cluster: dict[int, float] = {}
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        while process.poll() is None:
            _sample(_descendants(process.pid), peaks)
            if cluster_pids is not None:
                found: dict[int, tuple[str, float]] = {}
                _sample([pid for root in cluster_pids() for pid in _descendants(root)], found)
                cluster.update({pid: mb for pid, (_, mb) in found.items()})
            time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - started
    by_kind: dict[str, float] = {}
    for kind, mb in peaks.values():
        by_kind[kind] = round(max(by_kind.get(kind, 0.0), mb), 1)
    if cluster:
        by_kind["cluster"] = round(sum(cluster.values()), 1)
    return Measured(round(seconds, 2), process.returncode, by_kind)


def _sample(pids: list[int], into: dict[int, tuple[str, float]]) -> None:
    for pid in pids:
        peak = _peak_of(pid)
        if peak is not None:
            into[pid] = peak
