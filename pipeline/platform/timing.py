"""Where a command's time goes: named stages, their seconds, and a progress bar that advances per stage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tqdm import tqdm


@dataclass
class StageTimer:
    seconds: dict[str, float] = field(default_factory=dict)
    bar: tqdm | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as ``name`` (kept only when it completes) and advance the bar by one."""
        if self.bar is not None:
            self.bar.set_postfix_str(name)
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)
        if self.bar is not None:
            self.bar.update(1)
