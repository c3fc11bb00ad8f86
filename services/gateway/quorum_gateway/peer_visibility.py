"""Which organizations' names customers may see: the directory's answers, kept a moment.

A customer's answer names another organization only when that organization opted in
(`peer_visible` in the directory, which the validation service keeps). Asking the
directory for every GetIdea, EndorseIdea or report of a customer would add a backend
call (and a database read) to each; the gateway keeps each answer for `ttl` seconds,
and forgets an organization at once when it is changed through this gateway. Through
another gateway replica, a change is seen here within `ttl` (as a revoked key is).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

Key = tuple[str, str]  # (tenant id, organization id)
_LARGEST = 100_000


class PeerVisibility:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._known: OrderedDict[Key, tuple[float, bool]] = OrderedDict()

    def known(self, tenant_id: str, organization_ids: Iterable[str]) -> tuple[set[str], set[str]]:
        """(the visible ones among these, the ones to ask the directory about)."""
        visible: set[str] = set()
        unknown: set[str] = set()
        now = self._clock()
        for organization_id in organization_ids:
            kept = self._known.get((tenant_id, organization_id))
            if kept is None or now - kept[0] >= self._ttl:
                unknown.add(organization_id)
            elif kept[1]:
                visible.add(organization_id)
        return visible, unknown

    def learn(self, tenant_id: str, asked: Iterable[str], visible: set[str]) -> None:
        """The directory's answer about `asked`: those in `visible` opted in, not the others."""
        if self._ttl <= 0:
            return
        now = self._clock()
        for organization_id in asked:
            key = (tenant_id, organization_id)
            self._known[key] = (now, organization_id in visible)
            self._known.move_to_end(key)
        while len(self._known) > _LARGEST:
            self._known.popitem(last=False)

    def forget(self, tenant_id: str, organization_id: str) -> None:
        self._known.pop((tenant_id, organization_id), None)
