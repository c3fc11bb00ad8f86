"""Named moments at which a test may make this process SIGKILL itself.

A crash between two calls is easy to cause from outside; a crash inside a transaction,
between a commit and its publish or between a broker's acknowledgement and the row
marked published is not (the window is a millisecond). So the places where such a crash
matters call `reached(<point>)`, which does nothing unless `QUORUM_FAULT_POINT` names
that point: `QUORUM_FAULT_POINT=committed@5` SIGKILLs the process the 5th time it gets
there (`@1` when no count is given). Only the fault tests set it; it is read once, at
import, and there is no way to arm it from outside the process's environment.

The points:
- `transaction`: inside a transaction, its writes done, before the commit.
- `committed`: a transaction committed, its outbox rows not yet handed to the relay.
- `published`: the broker acknowledged a relay batch, its rows not yet marked published.
- `applied`: a consumer's batch committed, its Kafka offsets not yet committed.
"""

from __future__ import annotations

import os
import signal
import sys

POINTS = ("transaction", "committed", "published", "applied")


def _armed(setting: str) -> tuple[str, int] | None:
    if not setting:
        return None
    point, _, count = setting.partition("@")
    if point not in POINTS or not (count or "1").isdigit():
        raise SystemExit(f"QUORUM_FAULT_POINT: {setting!r} is not <point>[@<count>] of {POINTS}")
    return point, int(count or "1")


_ARMED = _armed(os.environ.get("QUORUM_FAULT_POINT", ""))
_hits = 0


def reached(point: str) -> None:
    """SIGKILL this process if `point` is armed and this is its armed count."""
    global _hits
    if _ARMED is None or _ARMED[0] != point:
        return
    _hits += 1
    if _hits == _ARMED[1]:
        # The line the fault test looks for; stderr is unbuffered, so it is out before the kill.
        print(f"fault point {point} reached ({_hits}): SIGKILL", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
