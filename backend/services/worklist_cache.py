"""A site's worklist, derived once per change of what it reads, not once per request.

A nurse's worklist is asked for far more often than anything on it changes (every nurse of the site,
every page, every refresh), and deriving it for a site of 2,000 patients costs about 170 ms. What it
reads of each patient (the patient row, their calendar, open alerts, tumour assessments, outcomes) is
stamped in `worklist_versions` by triggers in the writer's transaction (migration
0008_worklist_versions); a site's count, sum and largest stamp, read in one indexed statement, change
whenever any of it does (a new stamp is larger than all before it; a patient leaving the site lowers
the count and the sum). The site's and its study's settings are part of the key through their rows'
`updated_at` and the site's zone, and the day is part of it too. A worklist made under one key is served
again while the key holds; the first request after any change derives it anew.

The key is read BEFORE the rows are derived, so rows are never older than their key: a change committed
in between makes the next request miss. Kept per process (a few MB for a large site), the newest
`SITES_KEPT` site-days. On other databases (the laptop's SQLite has no triggers) nothing is kept.
"""
from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from backend.models import Site, WorklistVersion
from backend.services.pfs import core_connection

SITES_KEPT = 64

Rows = Sequence[dict[str, Any]]


def site_stamp(site: Site) -> tuple | None:
    """What the worklist of `site` is derived from, as a comparable key; None off PostgreSQL."""
    connection = core_connection()
    if connection.dialect.name != "postgresql":
        return None
    wv = WorklistVersion
    stamps = connection.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(wv.version), 0),
                                          sa.func.coalesce(sa.func.max(wv.version), 0))
                                .where(wv.site_id == site.id)).one()
    return tuple(stamps), site.timezone, site.updated_at, site.study.updated_at


class _Remembered:
    """The newest worklists made, by (site, day), each with the stamp it was made under."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple[uuid.UUID, date], tuple[tuple, Rows]] = OrderedDict()

    def rows(self, site: Site, day: date, derive: Callable[[], Rows]) -> Rows:
        stamp = site_stamp(site)
        if stamp is None:
            return derive()
        key = (site.id, day)
        with self.lock:
            found = self.entries.get(key)
            if found is not None and found[0] == stamp:
                self.entries.move_to_end(key)
                return found[1]
        rows = tuple(derive())
        with self.lock:
            self.entries[key] = (stamp, rows)
            self.entries.move_to_end(key)
            while len(self.entries) > self.kept:
                self.entries.popitem(last=False)
        return rows

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


remembered = _Remembered(SITES_KEPT)


def worklist_rows_remembered(site: Site, day: date, derive: Callable[[], Rows]) -> Rows:
    """The rows `derive()` gives for `site` on `day`, made again only when their stamp moved. The rows
    are shared between requests: read them, never change them."""
    return remembered.rows(site, day, derive)
