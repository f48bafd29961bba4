"""Storing import batches while the next one is planned.

Planning a batch is Python's work and storing it is the database server's: done one after the
other, each core waits for the other. On PostgreSQL a writer thread, with its own application
context (so its own session and connection), stores and commits each batch while the caller plans
the next; a queue of one keeps at most three batches in memory (one being planned, one waiting, one
being stored). Elsewhere (SQLite, one writer at a time) each batch is stored in the caller's session
as it is submitted. Either way a batch is one transaction, and the caller learns of each batch's
outcome (stored, or refused by the database with its error) in the order submitted.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from flask import current_app

from backend.extensions import db
from backend.models.audit import current_actor

Batch = list[Any]
Outcome = tuple[Batch, sa.exc.DBAPIError | None]
_STOP = object()


class BatchWriter:
    """`write(batch)` (does not commit) then COMMIT, for each batch submitted; see the module docstring.
    Use as a context manager: leaving it waits for the batches submitted; leaving it with an exception
    (an interrupted import) stores the batch in progress and drops the one waiting."""

    def __init__(self, write: Callable[[Batch], None]) -> None:
        self._write = write
        self._outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        if db.session.get_bind().dialect.name == "postgresql":
            self._waiting: queue.Queue[Any] = queue.Queue(maxsize=1)
            self._thread = threading.Thread(
                target=self._run, args=(current_app._get_current_object(), current_actor.get()),
                name="import-writer", daemon=True)
            self._thread.start()

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self._thread is None:
            return
        if error is not None:
            try:
                self._waiting.get_nowait()  # not started: dropped, as an interrupted run drops it
            except queue.Empty:
                pass
        self._waiting.put(_STOP)
        self._thread.join()
        if error is None:
            self._raise_failure()

    def submit(self, batch: Batch) -> None:
        """Store `batch` (now, or once the writer has taken the batch before it)."""
        if not batch:
            return
        if self._thread is None:
            self._store(batch)
            return
        while True:
            self._raise_failure()
            try:
                self._waiting.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue

    def outcomes(self) -> Iterator[Outcome]:
        """The outcomes known so far, oldest first, each once."""
        while True:
            try:
                yield self._outcomes.get_nowait()
            except queue.Empty:
                return

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _store(self, batch: Batch) -> None:
        session = db.session
        try:
            self._write(batch)
            session.commit()
            self._outcomes.put((batch, None))
        except sa.exc.DBAPIError as error:
            session.rollback()
            self._outcomes.put((batch, error))
        except BaseException:
            session.rollback()
            raise

    def _run(self, app, actor) -> None:
        current_actor.set(actor)  # the caller's (a thread starts with an empty context)
        with app.app_context():
            while (batch := self._waiting.get()) is not _STOP:
                if self._failure is not None:
                    continue
                try:
                    self._store(batch)
                except BaseException as error:  # a defect: the caller raises it
                    self._failure = error
