"""Run one command and measure it: wall seconds and the kernel's peak-RSS mark of every process it starts.

Peak memory is read from /proc/<pid>/status for the command and all its descendants, sampled
every 0.2 s: VmHWM, the high-water mark the kernel keeps per process (the Spark driver JVM is the
`java` descendant), and the largest sum of their VmRSS seen in one sample, what the processes held
at once. The sum of the high-water marks is an upper bound of that: the marks of one process tree
are often reached at different times (the driver's heap in a build, Python's arrays in training).
Growth in the last 0.2 s of a process's life, or between two samples, can be missed.
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
    together_mb: float = 0.0  # the largest sampled sum of the command's and its descendants' resident memory
    together_by_kind: dict[str, float] = field(default_factory=dict)  # that sample, by kind and process count


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


def _descendants(root: int) -> dict[int, int]:
    """``root`` and every process below it, each with its parent (the root's is 0)."""
    tree, found, todo = _children(), {}, [(root, 0)]
    while todo:
        pid, parent = todo.pop()
        found[pid] = parent
        todo.extend((child, pid) for child in tree.get(pid, []))
    return found


def _memory_of(pid: int) -> tuple[str, bytes, float, float] | None:
    """(program, command line, VmHWM in MiB, VmRSS in MiB) of a live process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    fields = {line.split(":")[0]: line.split()[1] for line in status.splitlines()
              if line.startswith(("VmHWM:", "VmRSS:"))}
    if "VmHWM" not in fields:
        return None
    return exe, command, int(fields["VmHWM"]) / 1024, int(fields.get("VmRSS", 0)) / 1024


def _kind(exe: str) -> str:
    return "jvm" if exe == "java" else "python" if exe.startswith("python") else "other"


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
    together: dict[str, float] = {}
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        while process.poll() is None:
            resident = _sample(_descendants(process.pid), peaks)
            if sum(v for k, v in resident.items() if k != "processes") > sum(
                    v for k, v in together.items() if k != "processes"):
                together = resident
            if cluster_pids is not None:
                found: dict[int, tuple[str, float]] = {}
                _sample({pid: parent for root in cluster_pids() for pid, parent in _descendants(root).items()}, found)
                cluster.update({pid: mb for pid, (_, mb) in found.items()})
            time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - started
    by_kind: dict[str, float] = {}
    for kind, mb in peaks.values():
        by_kind[kind] = round(max(by_kind.get(kind, 0.0), mb), 1)
    if cluster:
        by_kind["cluster"] = round(sum(cluster.values()), 1)
    at_once = round(sum(v for k, v in together.items() if k != "processes"), 1)
    return Measured(round(seconds, 2), process.returncode, by_kind, at_once,
                    {k: round(v, 1) for k, v in together.items()})


def _sample(parents: dict[int, int], into: dict[int, tuple[str, float]]) -> dict[str, float]:
    """Record each process's (kind, high-water mark) in ``into``; return their resident MiB now, by kind,
    with the number of processes counted.

    A child with its parent's program and command line is a fork that has not (yet) exec'd: the
    JVM spawning a shell command, a Python worker forked from its daemon. Its pages are its
    parent's (the same, or copy-on-write), so its resident memory is not added again.
    """
    memory = {pid: m for pid in parents if (m := _memory_of(pid)) is not None}
    resident: dict[str, float] = {"processes": 0}
    for pid, (exe, command, mark, rss) in memory.items():
        into[pid] = (_kind(exe), mark)
        parent = memory.get(parents[pid])
        if parent is not None and parent[:2] == (exe, command):
            continue
        resident[_kind(exe)] = resident.get(_kind(exe), 0.0) + rss
        resident["processes"] += 1
    return resident
