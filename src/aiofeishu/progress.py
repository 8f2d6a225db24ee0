"""Progress for long jobs: a live bar on a terminal, plain periodic lines otherwise.

The bar is tqdm's (the ``cli`` extra); without tqdm, or when the stream is not a terminal
(CI logs, pipes), a line is printed at most every ``interval`` seconds and at the end.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO

__all__ = ["Progress"]


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        unit: str = "items",
        stream: TextIO | None = None,
        interval: float = 2.0,
    ) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.done = 0
        self._started = time.perf_counter()
        self._last_line = self._started
        self._bar: Any = None
        if self.stream.isatty():
            try:
                from tqdm import tqdm  # type: ignore[import-untyped]
            except ImportError:
                pass
            else:
                self._bar = tqdm(total=total, desc=label, unit=f" {unit}", file=self.stream)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.perf_counter()
        if now - self._last_line >= self.interval:
            self._last_line = now
            self._line()

    def set_total(self, total: int) -> None:
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def _line(self) -> None:
        elapsed = time.perf_counter() - self._started
        of = f"/{self.total}" if self.total is not None else ""
        rate = self.done / elapsed if elapsed > 0 else 0.0
        print(
            f"{self.label}: {self.done}{of} {self.unit} in {elapsed:.1f}s ({rate:.1f}/s)",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        else:
            self._line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
