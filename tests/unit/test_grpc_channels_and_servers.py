"""The gateway's backend channels spread calls over replicas; servers explain themselves."""

from __future__ import annotations

from typing import Any

import grpc

from quorum_common.grpc_server import GrpcServer
from quorum_gateway.backends import BALANCED


async def test_calls_are_spread_over_every_address_of_the_target() -> None:
    calls = {0: 0, 1: 0}
    servers = []
    for replica in calls:

        async def answer(request: bytes, context: Any, replica: int = replica) -> bytes:
            calls[replica] += 1
            return b""

        server = GrpcServer("127.0.0.1", 0, ["test.Replica"])
        server.server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "test.Replica", {"Call": grpc.unary_unary_rpc_method_handler(answer)}
                ),
            )
        )
        await server.start()
        servers.append(server)
    # The form a headless Service resolves to: one address per replica.
    target = "ipv4:" + ",".join(f"127.0.0.1:{s.port}" for s in servers)
    try:
        async with grpc.aio.insecure_channel(target, options=BALANCED) as channel:
            call: Any = channel.unary_unary("/test.Replica/Call")
            for _ in range(20):
                await call(b"", timeout=5, wait_for_ready=True)
    finally:
        for server in servers:
            await server.stop(0)
    assert calls[0] > 0, calls
    assert calls[1] > 0, calls


async def test_reflection_answers_under_v1_and_v1alpha() -> None:
    from grpc_reflection.v1alpha import reflection_pb2

    server = GrpcServer("127.0.0.1", 0, ["quorum.ideas.v1.IdeasService"])
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            for version in ("v1", "v1alpha"):
                call: Any = channel.stream_stream(
                    f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                    request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                    response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
                )
                stream = call(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
                )
                answer = await stream.read()
                names = {s.name for s in answer.list_services_response.service}
                assert "quorum.ideas.v1.IdeasService" in names, version
                assert "grpc.reflection.v1.ServerReflection" in names, version
    finally:
        await server.stop(0)
