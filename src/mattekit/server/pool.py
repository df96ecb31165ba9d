"""The worker pool that runs matting off the event loop, with a bounded queue.

At most ``workers`` jobs run at once (threads: ONNX Runtime, OpenCV and NumPy release the GIL while they work);
up to ``max_queue`` more wait their turn. Past that the pool refuses the job with ``Busy``, which the app turns into
503 with a ``Retry-After`` of the seconds the queue ahead should take, from the mean time of recent jobs.

Example:
    >>> import asyncio
    >>> pool = WorkPool(workers=1, max_queue=0)
    >>> asyncio.run(pool.run(sum, [1, 2, 3]))
    6
"""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor

RECENT_WEIGHT = 0.2  # weight of the newest job in the running mean of job seconds
MAX_RETRY_AFTER = 120  # seconds


class Busy(Exception):
    """More matting work than the pool takes; ``retry_after`` is whole seconds to wait."""

    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy ({retry_after} s of matting queued); retry after {retry_after} s.")
        self.retry_after = retry_after


class WorkPool:
    """``workers`` threads and a queue of ``max_queue`` jobs; ``run`` is awaited on the event loop."""

    def __init__(self, workers: int, max_queue: int):
        self.workers = workers
        self.max_queue = max_queue
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mattekit-worker")
        self.pending = 0  # running and queued jobs; only the event loop's thread changes it
        self.mean_seconds = 1.0
        self.refused = 0

    def retry_after(self) -> int:
        """Whole seconds until the queue ahead of a new job should have drained."""
        ahead = max(1, self.pending - self.workers + 1)
        return max(1, min(MAX_RETRY_AFTER, math.ceil(self.mean_seconds * ahead / self.workers)))

    async def run(self, function, *args):
        """``function(*args)`` on a worker thread; Busy if the queue is full."""
        if self.pending >= self.workers + self.max_queue:
            self.refused += 1
            raise Busy(self.retry_after())
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, self._timed, function, args)
        finally:
            self.pending -= 1

    def _timed(self, function, args):
        start = time.perf_counter()
        try:
            return function(*args)
        finally:
            seconds = time.perf_counter() - start
            self.mean_seconds += RECENT_WEIGHT * (seconds - self.mean_seconds)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
