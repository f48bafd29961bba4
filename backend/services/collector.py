"""Pausing Python's cyclic garbage collector while a large, cycle-free answer is built (the site worklist, a
study's results): the only thing here, so both can use it without importing each other."""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0  # builds under way
_resume = False  # whether collection was enabled when the first of them began


@contextmanager
def collector_paused() -> Iterator[None]:
    """Build a large answer without cyclic garbage collection (`gc.disable`), then let it run again.

    A 2,000-patient worklist or a 1,000-patient study's results allocate some hundred thousand containers
    that live until the answer is returned; generation-0 collections promote them, and they soon trigger
    full collections that walk every object of the process (measured: about a third of a worklist request
    in `bench/worklist.py`, 40% of the efficacy endpoint in `bench/results.py`). What is built holds no
    reference cycles, so reference counting frees it and nothing is lost by pausing. Concurrent builds share one pause (a counter): collection resumes when the last one
    ends, and only if it was enabled when the first began."""
    global _pauses, _resume
    with _lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()
