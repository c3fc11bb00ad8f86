"""Read-your-writes across the services: the stage ledger caught up with the idea.

The ideas service acknowledges a submission or an endorsement once it has committed
it; the validation service folds it into the stage ledger a moment later, from Kafka.
A caller that was told "done" must not then be told the idea is unknown to the gates,
nor see a gate judged without its endorsement. So every answer that comes from the
ledger is given only once the ledger has folded the idea version the ideas service
holds now: the version moves only with submissions, endorsements, withdrawals and
merges, each of which the ledger applies (and records as `idea_version`).

The wait is bounded by the caller's deadline and the backend timeout; a ledger that
does not catch up in time is UNAVAILABLE (retry), never NOT_FOUND or a stale answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import grpc

from quorum.domain.v1 import domain_pb2
from quorum.ideas.v1 import ideas_pb2
from quorum.validation.v1 import validation_pb2
from quorum_common.errors import Unavailable
from quorum_common.grpc_server import Context
from quorum_gateway.backends import Backends, relay_error

Progress = validation_pb2.GetIdeaProgressResponse

# Polls start fast (the ledger is usually a few milliseconds behind) and back off.
FIRST_POLL_S = 0.005
LAST_POLL_S = 0.05
# Time kept back from the caller's deadline to give the answer.
MARGIN_S = 0.05
# The most ideas one ListIdeaProgress asks for.
BATCH = 500


def wanted_versions(ideas: list[ideas_pb2.Idea]) -> dict[str, int]:
    """The idea versions the ledger must have folded before it speaks of these ideas.

    A merged-away idea is left out: the ledger learns of it from its target's merge,
    which carries the target's version, not the source's.
    """
    return {i.id: i.version for i in ideas if i.status != domain_pb2.IDEA_STATUS_MERGED}


class LedgerReads:
    def __init__(self, backends: Backends) -> None:
        self._backends = backends

    async def caught_up(self, idea_id: str, context: Context) -> None:
        """Return once the ledger has folded every acknowledged write to this idea.

        A malformed request is left to the call itself, which names every bad field.
        """
        try:
            answer = await self._backends.invoke(
                self._backends.ideas.GetIdea,
                ideas_pb2.GetIdeaRequest(idea_id=idea_id),
                self._backends.timeout_within(context),
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                return
            await relay_error(context, error)
            raise
        await self.progress(wanted_versions([answer.idea]), context)

    async def progress(self, versions: Mapping[str, int], context: Context) -> dict[str, Progress]:
        """The ledger's progress of these ideas, once it has folded these versions."""
        if not versions:
            return {}
        give_up = time.monotonic() + max(0.0, self._backends.timeout_within(context) - MARGIN_S)
        pause = FIRST_POLL_S
        while True:
            found = await self._read(list(versions), context)
            behind = [
                (idea_id, version)
                for idea_id, version in versions.items()
                if idea_id not in found or found[idea_id].idea_version < version
            ]
            if not behind:
                return found
            if time.monotonic() + pause > give_up:
                idea_id, version = behind[0]
                raise Unavailable(
                    f"the stage ledger has not yet caught up with idea {idea_id} "
                    f"(version {version}); retry"
                )
            await asyncio.sleep(pause)
            pause = min(LAST_POLL_S, pause * 2)

    async def _read(self, idea_ids: list[str], context: Context) -> dict[str, Progress]:
        found: dict[str, Progress] = {}
        for start in range(0, len(idea_ids), BATCH):
            answer = await self._backends.call(
                self._backends.gates.ListIdeaProgress,
                validation_pb2.ListIdeaProgressRequest(idea_ids=idea_ids[start : start + BATCH]),
                context,
            )
            found.update((p.idea_id, p) for p in answer.ideas)
        return found
