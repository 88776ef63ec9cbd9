"""The parser processes (pebble), kept for the life of a knowledge base so uploads do not pay for new ones."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Callable


class ParserPool:
    """One pebble ProcessPool, re-made when the worker count changes or it died.

    Linux forks the workers: no re-import of the caller's main module (scripts need no
    `if __name__ == "__main__"` guard) and no start-up cost; the workers never touch torch,
    which is what makes forking a process with model threads risky.
    """

    def __init__(self) -> None:
        self._pool = None
        self._workers = 0
        self._guard = threading.Lock()

    def get(self, workers: int, initializer: Callable[[], None] | None = None):
        with self._guard:
            if self._pool is None or self._workers != workers or not self._pool.active:
                if self._pool is not None:
                    self._pool.close()
                from pebble import ProcessPool

                method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
                self._pool = ProcessPool(max_workers=workers, context=multiprocessing.get_context(method), initializer=initializer)
                self._workers = workers
            return self._pool

    def close(self) -> None:
        with self._guard:
            if self._pool is not None:
                self._pool.stop()
                self._pool.join(timeout=10)
                self._pool = None
