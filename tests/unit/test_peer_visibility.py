"""The gateway keeps the directory's visibility answers a moment, and forgets on change."""

from __future__ import annotations

from quorum_gateway.peer_visibility import PeerVisibility


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_answers_are_kept_for_the_ttl_then_asked_again() -> None:
    clock = Clock()
    peers = PeerVisibility(ttl=5.0, clock=clock)
    assert peers.known("t", {"a", "b"}) == (set(), {"a", "b"})
    peers.learn("t", ["a", "b"], visible={"a"})
    assert peers.known("t", {"a", "b", "c"}) == ({"a"}, {"c"})
    # Another tenant's organization of the same id is another organization.
    assert peers.known("u", {"a"}) == (set(), {"a"})
    clock.now = 5.0
    assert peers.known("t", {"a", "b"}) == (set(), {"a", "b"})


def test_a_change_is_forgotten_at_once_and_ttl_zero_keeps_nothing() -> None:
    peers = PeerVisibility(ttl=60.0, clock=Clock())
    peers.learn("t", ["a"], visible={"a"})
    peers.forget("t", "a")
    assert peers.known("t", {"a"}) == (set(), {"a"})
    never = PeerVisibility(ttl=0.0, clock=Clock())
    never.learn("t", ["a"], visible={"a"})
    assert never.known("t", {"a"}) == (set(), {"a"})
