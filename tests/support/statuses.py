"""What a refused call carries: its google.rpc.Status, and the BadRequest naming the fields."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2


def status_of(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The rich status the error interceptor packs into the trailers."""
    raw = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    return status_pb2.Status.FromString(raw)


def bad_request(error: grpc.aio.AioRpcError) -> error_details_pb2.BadRequest:
    """The BadRequest an INVALID_ARGUMENT carries first."""
    found = error_details_pb2.BadRequest()
    assert status_of(error).details[0].Unpack(found)
    return found


def bad_fields(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """Each field the refusal names, in its order, with what it says about it."""
    return {v.field: v.description for v in bad_request(error).field_violations}


def bad_field_names(error: grpc.aio.AioRpcError) -> set[str]:
    """The fields the refusal names."""
    return set(bad_fields(error))
