"""The gateway's idea cache: what it may answer from memory, and when it must forget."""

from __future__ import annotations

import uuid

from quorum.gateway.v1 import gateway_pb2
from quorum_gateway.idea_cache import IdeaCache, canonical_id

TENANT = "acme"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def idea(version: int) -> gateway_pb2.Idea:
    return gateway_pb2.Idea(id="i", version=version)


def test_a_stored_idea_is_answered_until_it_expires() -> None:
    clock = Clock()
    cache = IdeaCache(ttl=30, clock=clock)
    key = (TENANT, "i")
    cache.store(key, cache.reading(), idea(1))
    clock.now = 30
    assert cache.get(key) == idea(1)
    clock.now = 30.1
    assert cache.get(key) is None


def test_forgetting_drops_the_idea_and_refuses_reads_that_began_before() -> None:
    cache = IdeaCache(ttl=30, clock=Clock())
    key = (TENANT, "i")
    cache.store(key, cache.reading(), idea(1))
    began = cache.reading()  # a read of the backends starts ...
    cache.forget(TENANT, "i")  # ... a write is acknowledged meanwhile ...
    cache.store(key, began, idea(1))  # ... and what the read found may be from before it
    assert cache.get(key) is None
    # A read that begins after the write stores what it found.
    cache.store(key, cache.reading(), idea(2))
    assert cache.get(key) == idea(2)


def test_forgetting_one_idea_leaves_the_others() -> None:
    cache = IdeaCache(ttl=30, clock=Clock())
    began = cache.reading()
    cache.forget(TENANT, "other")
    cache.store((TENANT, "i"), began, idea(1))
    cache.store(("another-tenant", "other"), began, idea(1))
    assert cache.get((TENANT, "i")) == idea(1)
    assert cache.get(("another-tenant", "other")) == idea(1)


def test_a_zero_ttl_keeps_nothing() -> None:
    cache = IdeaCache(ttl=0)
    cache.store((TENANT, "i"), cache.reading(), idea(1))
    assert cache.get((TENANT, "i")) is None


def test_the_least_recently_stored_go_first_when_full() -> None:
    cache = IdeaCache(ttl=30, max_entries=2, clock=Clock())
    for name in ("a", "b", "c"):
        cache.store((TENANT, name), cache.reading(), idea(1))
    assert cache.get((TENANT, "a")) is None
    assert cache.get((TENANT, "c")) == idea(1)


def test_ids_are_compared_as_events_name_them() -> None:
    idea_id = str(uuid.uuid4())
    assert canonical_id(idea_id.upper()) == idea_id
    assert canonical_id("not-an-id") == ""
