"""EventsService: a tenant's events as a stream that resumes from a cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_gateway.api import WATCH_CURSOR_HEADER, WATCH_HEADER, Context
from quorum_gateway.auth import current_principal
from quorum_gateway.eventlog import EventLog
from quorum_gateway.requests import watch_cursor


class EventsApi(gateway_pb2_grpc.EventsServiceServicer):
    def __init__(self, log: EventLog) -> None:
        self._log = log

    async def WatchEvents(
        self, request: gateway_pb2.WatchEventsRequest, context: Context
    ) -> AsyncIterator[gateway_pb2.WatchEventsResponse]:
        principal = current_principal()
        # The bounds are checked as the request is decoded (requests.check_request).
        after = watch_cursor(request.cursor)
        if after is None:
            after = await self._log.latest(principal.tenant_id)
        # Headers now, so a caller knows the watch is accepted before any event comes
        # (a refused one gets its status instead, without these headers).
        await context.send_initial_metadata(
            ((WATCH_HEADER, "open"), (WATCH_CURSOR_HEADER, str(after)))
        )
        async for seq, raw in self._log.watch(
            principal.tenant_id, after, request.idea_id, list(request.kinds)
        ):
            event = gateway_pb2.WatchEventsResponse(cursor=str(seq))
            event.event.ParseFromString(raw)
            yield event
