"""Bytes that are not the method's message: INVALID_ARGUMENT, never UNKNOWN or a traceback.

A GrpcServer in this test's loop (no broker, no database): the health service is a
service like any other behind the interceptors every Quorum service has.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2

from quorum_common.grpc_server import GrpcServer
from support.servers import free_port
from support.statuses import bad_request

CHECK = "/grpc.health.v1.Health/Check"
WATCH = "/grpc.health.v1.Health/Watch"


@pytest.fixture
async def server() -> AsyncIterator[GrpcServer]:
    running = GrpcServer("127.0.0.1", free_port(), ["quorum.test.v1.Nothing"])
    await running.start()
    await running.set_serving(True)
    try:
        yield running
    finally:
        await running.stop(0)


@pytest.mark.parametrize("raw", [b"\xff\xff\xff", b"\x0a\x05ab", b"\x0a\x02\xff\xfe"])
async def test_undecodable_unary_request_is_invalid_argument(
    server: GrpcServer, raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            CHECK, request_serializer=None, response_deserializer=None
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(raw, timeout=10)
        # The same method still answers a good request afterwards.
        good = await call(health_pb2.HealthCheckRequest().SerializeToString(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "the request is not a valid grpc.health.v1.HealthCheckRequest"
    assert [v.field for v in bad_request(caught.value).field_violations] == ["request"]
    assert health_pb2.HealthCheckResponse.FromString(good).status == 1
    assert "Traceback" not in caplog.text
    assert all(record.exc_info is None for record in caplog.records)


async def test_undecodable_streaming_request_is_invalid_argument(server: GrpcServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(
            WATCH, request_serializer=None, response_deserializer=None
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call(b"\xff", timeout=10):
                pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request(caught.value).field_violations[0].field == "request"


async def test_a_flood_of_undecodable_requests_logs_one_warning(
    server: GrpcServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="quorum_common.grpc_server")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            CHECK, request_serializer=None, response_deserializer=None
        )
        for _ in range(20):
            with pytest.raises(grpc.aio.AioRpcError):
                await call(b"\xff", timeout=10)
    warnings = [r for r in caplog.records if "undecodable" in r.getMessage()]
    assert len(warnings) <= 1
