"""Building a large answer (a worklist, a study's results) pauses cyclic garbage collection, and always gives
it back as it found it."""
from __future__ import annotations

import gc

import pytest

from backend.services.collector import collector_paused


@pytest.fixture(autouse=True)
def collection_enabled():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_collection_is_paused_while_a_list_is_built_and_resumes_after():
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_builds_share_the_pause_until_the_last_one_ends():
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first build ends while the second still runs
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_collection_resumes_when_the_build_fails():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a query failed")
    assert gc.isenabled()


def test_collection_disabled_by_someone_else_stays_disabled():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
