"""The calls of `quorum.gateway.v1.EventsService`: the tenant's events as a stream."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property

import grpc

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_client.channel import Closing, Connection
from quorum_client.errors import QuorumError

# Sent by the gateway as WatchEvents opens (quorum_gateway.api.WATCH_CURSOR_HEADER).
WATCH_CURSOR_HEADER = "quorum-watch-cursor"


class EventStream(Closing):
    """An open WatchEvents stream: iterate it; `cursor` is the last one received.

    Closing it (or leaving its `with` block) cancels the call. Resume later with
    `Client.watch_events(cursor=stream.cursor)`: the gateway promises no gap and no
    duplicate across a reconnect.
    """

    def __init__(
        self,
        call: grpc._CallIterator[gateway_pb2.WatchEventsResponse],
        cursor: str,
        address: str,
    ) -> None:
        self._call = call
        self._address = address
        self._closed = False
        self.cursor = cursor

    def __iter__(self) -> Iterator[gateway_pb2.WatchEventsResponse]:
        try:
            for answer in self._call:
                self.cursor = answer.cursor
                yield answer
        except grpc.RpcError as error:
            if self._closed and error.code() is grpc.StatusCode.CANCELLED:
                return
            raise QuorumError.from_rpc_error(error, address=self._address) from error

    def opened_after(self) -> str | None:
        """The cursor the gateway opened this stream after; None if it never opened.

        Call it once the stream has ended (it waits for the headers otherwise).
        """
        for key, value in self._call.initial_metadata() or ():
            if key == WATCH_CURSOR_HEADER and isinstance(value, str):
                return value
        return None

    def close(self) -> None:
        self._closed = True
        self._call.cancel()


class EventsCalls(Connection):
    @cached_property
    def _events(self) -> gateway_pb2_grpc.EventsServiceStub:
        return gateway_pb2_grpc.EventsServiceStub(self._channel)

    def watch_events(
        self,
        *,
        idea_id: str = "",
        kinds: Iterable[str] = (),
        cursor: str = "",
        timeout: float | None = None,
    ) -> EventStream:
        """Stream the tenant's events from `cursor` ("" from now, "0" from the oldest kept).

        `kinds` are payload type names such as "GateOpened". The stream has no deadline
        unless `timeout` is given; when that runs out the stream ends with
        DEADLINE_EXCEEDED.
        """
        call = self._events.WatchEvents(
            gateway_pb2.WatchEventsRequest(idea_id=idea_id, kinds=list(kinds), cursor=cursor),
            timeout=timeout,
            metadata=self._metadata,
        )
        return EventStream(call, cursor, self.address)
