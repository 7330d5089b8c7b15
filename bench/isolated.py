"""Run one benchmark case in a fresh spawned process, so its time and peak RSS are its own."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable

CASE_TIMEOUT_S = 4 * 3600


def run_isolated(target: Callable[..., None], *args) -> dict:
    """Call ``target(*args, queue)`` in a spawned process and return what it put on the queue."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get(timeout=CASE_TIMEOUT_S)
    process.join()
    return result
