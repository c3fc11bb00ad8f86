"""The bare server the gateway is compared with: grpc.aio answering GetIdea from memory.

`python -m quorum_devtools.bench_echo --port PORT --response FILE` serves the public
IdeasService with every GetIdea answered by the serialized GetIdeaResponse in FILE (a
real answer of the gateway, so both send the same bytes). No auth, no backends, no
database: what is left is gRPC and protobuf in one Python process, the floor for the
gateway's GetIdea. Runs in its own process, as the gateway does, so it does not share
the load generator's event loop. Prints "ready" once it listens; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

import grpc

from quorum.gateway.v1 import gateway_pb2
from quorum_common.runtime import loop_factory

SERVICE = "quorum.gateway.v1.IdeasService"


def echo_handler(response: gateway_pb2.GetIdeaResponse) -> grpc.GenericRpcHandler:
    """IdeasService with GetIdea only; (de)serialization as generated servicers do it."""

    async def get_idea(
        request: gateway_pb2.GetIdeaRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> gateway_pb2.GetIdeaResponse:
        return response

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "GetIdea": grpc.unary_unary_rpc_method_handler(
                get_idea,
                request_deserializer=gateway_pb2.GetIdeaRequest.FromString,
                response_serializer=gateway_pb2.GetIdeaResponse.SerializeToString,
            )
        },
    )


async def serve(port: int, response: gateway_pb2.GetIdeaResponse) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((echo_handler(response),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await server.stop(grace=1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--response", type=Path, required=True)
    parser.add_argument("--event-loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    response = gateway_pb2.GetIdeaResponse.FromString(args.response.read_bytes())
    with asyncio.Runner(loop_factory=loop_factory(args.event_loop)) as runner:
        runner.run(serve(args.port, response))


if __name__ == "__main__":
    main()
