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
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal, SignedInRead, can_see_site
from backend.models import Site, Study, WorklistVersion
from backend.services.calendars import local_today
from backend.services.bulk_reads import core_connection

SITES_KEPT = 64

Rows = Sequence[dict[str, Any]]


def _stamps_of_site(site_id) -> sa.Select:
    """The count, sum and largest of a site's patients' stamps: one read of `ix_worklist_versions_site`."""
    wv = WorklistVersion
    return (sa.select(sa.func.count().label("n"), sa.func.coalesce(sa.func.sum(wv.version), 0).label("total"),
                      sa.func.coalesce(sa.func.max(wv.version), 0).label("newest"))
            .where(wv.site_id == site_id))


def site_stamp(site: Site) -> tuple | None:
    """What the worklist of `site` is derived from, as a comparable key; None off PostgreSQL."""
    connection = core_connection()
    if connection.dialect.name != "postgresql":
        return None
    stamps = connection.execute(_stamps_of_site(site.id)).one()
    return _key(stamps, site.timezone, site.updated_at, site.study.updated_at)


def _key(stamps, timezone: str, site_updated_at, study_updated_at) -> tuple:
    """A site's worklist key from what it is made of (one shape for the ORM read and the sign-in read)."""
    return tuple(stamps), timezone, site_updated_at, study_updated_at


# -- the same key read with the sign-in (the worklist's fast path) ------------------------------------

SiteHead = namedtuple("SiteHead", "id study_id timezone stamp")


def _signed_in_site_statement() -> sa.Select:
    stamps = _stamps_of_site(Site.id).lateral()
    columns = (Site.id, Site.study_id, Site.timezone, Site.updated_at, Study.updated_at,
               stamps.c.n, stamps.c.total, stamps.c.newest)
    return (sa.select(*(column.label(f"site_{n}") for n, column in enumerate(columns)))
            .join(Study, Study.id == Site.study_id).join(stamps, sa.true())
            .where(Site.code == sa.bindparam("code", type_=sa.String)))


# A site's worklist key in the same statement as the sign-in: a worklist already made is then answered
# after one round trip to the database (backend.api.worklist_fast_path).
SIGNED_IN_SITE = SignedInRead(_signed_in_site_statement, lambda view_kwargs: {"code": view_kwargs.get("code")})


def visible_site_head(principal: Principal, row: tuple | None) -> SiteHead | None:
    """The site of a `SIGNED_IN_SITE` row with its worklist key (as `site_stamp` makes it); None when
    there is no such site or it is out of the caller's scope (the same rule as the worklist's view)."""
    if row is None or row[0] is None:
        return None
    head = SiteHead(row[0], row[1], row[2], _key(row[5:8], row[2], row[3], row[4]))
    return head if can_see_site(principal, head) else None


def remembered_rows(head: SiteHead) -> Rows | None:
    """The worklist made for `head`'s site today under its current key; None when none is kept."""
    return remembered.peek(head.id, local_today(head.timezone), head.stamp)


class _Remembered:
    """The newest worklists made, by (site, day), each with the stamp it was made under."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple[uuid.UUID, date], tuple[tuple, Rows]] = OrderedDict()

    def peek(self, site_id: uuid.UUID, day: date, stamp: tuple) -> Rows | None:
        with self.lock:
            found = self.entries.get((site_id, day))
            if found is None or found[0] != stamp:
                return None
            self.entries.move_to_end((site_id, day))
            return found[1]

    def rows(self, site: Site, day: date, derive: Callable[[], Rows]) -> Rows:
        stamp = site_stamp(site)
        if stamp is None:
            return derive()
        found = self.peek(site.id, day, stamp)
        if found is not None:
            return found
        rows = tuple(derive())
        key = (site.id, day)
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
