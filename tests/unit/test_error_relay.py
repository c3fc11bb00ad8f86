"""A failure is told as what it is: INTERNAL with an error id, UNAVAILABLE only when unreachable."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest

from quorum_common.grpc_server import GrpcServer
from quorum_gateway.backends import relay_error


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


class Context:
    """Just what relay_error uses of a servicer context."""

    async def abort(self, code: grpc.StatusCode, message: str, trailing_metadata: Any = ()) -> None:
        raise Aborted(code, message)


def backend_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


async def relayed(code: grpc.StatusCode, details: str) -> Aborted:
    with pytest.raises(Aborted) as raised:
        await relay_error(Context(), backend_error(code, details))  # type: ignore[arg-type]
    return raised.value


async def test_a_backends_internal_error_stays_internal_with_its_error_id() -> None:
    answer = await relayed(
        grpc.StatusCode.INTERNAL, "internal error 0123456789ab; the service log has its details"
    )
    assert answer.code is grpc.StatusCode.INTERNAL
    assert "0123456789ab" in answer.message
    assert "retry" not in answer.message


@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.DATA_LOSS],
)
async def test_other_backend_failures_are_internal_with_an_id_of_the_gateways(
    code: grpc.StatusCode, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="quorum_gateway.backends"):
        answer = await relayed(code, "Exception calling application")
    assert answer.code is grpc.StatusCode.INTERNAL
    error_id = answer.message.split()[2].rstrip(";")
    assert error_id in caplog.text


async def test_only_an_unreachable_backend_is_unavailable() -> None:
    answer = await relayed(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses")
    assert answer.code is grpc.StatusCode.UNAVAILABLE
    deadline = await relayed(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    assert deadline.code is grpc.StatusCode.DEADLINE_EXCEEDED


async def test_a_servers_unhandled_error_is_internal_with_an_id_found_in_its_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(request: bytes, context: Any) -> bytes:
        raise RuntimeError("a bug")

    server = GrpcServer("127.0.0.1", 0, ["test.Broken"])
    server.server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Broken", {"Call": grpc.unary_unary_rpc_method_handler(broken)}
            ),
        )
    )
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            call: Any = channel.unary_unary("/test.Broken/Call")
            with (
                caplog.at_level(logging.ERROR, logger="quorum_common.grpc_server"),
                pytest.raises(grpc.aio.AioRpcError) as raised,
            ):
                await call(b"", timeout=5)
    finally:
        await server.stop(0)
    assert raised.value.code() is grpc.StatusCode.INTERNAL
    error_id = (raised.value.details() or "").split()[2].rstrip(";")
    assert f"error id {error_id}" in caplog.text
    assert "a bug" not in (raised.value.details() or "")
