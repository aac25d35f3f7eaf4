"""The in-order read-ahead window: the one piece of bookkeeping the local pool and Ray share.

Samples are read lazily from the source, at most ``size`` ahead of the oldest verdict not yet
yielded, so a multi-gigabyte input verifies in constant memory; verdicts come back in any order
and leave in input order. Work that has to be redone (a killed worker's unfinished chunk, a lost
Ray actor's chunk) goes back to the front of the queue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

from rlvr.types import Sample, Verdict

__all__ = ["InOrderWindow", "OnResult"]

OnResult = Callable[[Verdict], None] | None
"""Called with each verdict as it is yielded (a progress bar, a counter), or None."""


class InOrderWindow:
    """Read-ahead queue plus the verdicts waiting for their turn."""

    def __init__(self, source: Iterator[Sample], size: int) -> None:
        self.source = source
        self.size = size
        self.queue: deque[tuple[int, Sample]] = deque()  # read, not yet handed out (re-queued first)
        self.results: dict[int, Verdict] = {}
        self.next_read = 0  # index of the next sample to read from source
        self.next_out = 0  # index of the next verdict to yield
        self.exhausted = False

    def fill(self) -> None:
        """Read until ``size`` samples are ahead of the oldest verdict not yet yielded, or queued."""
        while not self.exhausted and self.next_read - self.next_out < self.size and len(self.queue) < self.size:
            try:
                sample = next(self.source)
            except StopIteration:
                self.exhausted = True
                return
            self.queue.append((self.next_read, sample))
            self.next_read += 1

    def take(self, n: int) -> list[tuple[int, Sample]]:
        """Up to ``n`` queued samples, oldest first."""
        return [self.queue.popleft() for _ in range(min(n, len(self.queue)))]

    def requeue(self, items: Iterable[tuple[int, Sample]]) -> None:
        """Put work back at the front of the queue, in its order."""
        self.queue.extendleft(reversed(list(items)))

    def put(self, idx: int, verdict: Verdict) -> None:
        self.results[idx] = verdict

    def pop_ready(self, on_result: Callable[[Verdict], None] | None = None) -> Iterator[Verdict]:
        """Yield the verdicts that are next in input order (calling ``on_result`` on each)."""
        while self.next_out in self.results:
            verdict = self.results.pop(self.next_out)
            self.next_out += 1
            if on_result:
                on_result(verdict)
            yield verdict

    @property
    def done(self) -> bool:
        """Every sample read and every verdict yielded."""
        return self.exhausted and not self.queue and self.next_out == self.next_read
