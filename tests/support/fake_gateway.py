"""A stand-in for the public gateway, in process, for the CLI's unit tests.

It answers every RPC of the contract with an empty response unless a test gives it an
answer, and records what it was asked, so each test checks both what the CLI sent and
what it printed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from typer.testing import CliRunner, Result

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client.cli import app

IDEA_ID = "b2d59959-272c-44e4-9856-c9c7d9ea9a63"
Answer = Callable[[Any, grpc.ServicerContext], Any]


@dataclass
class FakeGateway:
    address: str = ""
    answers: dict[str, Answer] = field(default_factory=dict)
    calls: list[tuple[str, Any, dict[str, str]]] = field(default_factory=list)

    def requests(self, method: str) -> list[Any]:
        return [request for name, request, _ in self.calls if name == method]

    def request(self, method: str) -> Any:
        found = self.requests(method)
        assert len(found) == 1, f"{method} called {len(found)} times: {self.calls}"
        return found[0]


def _handler(
    fake: FakeGateway, method: str, response_type: type[Message], streaming: bool
) -> Answer:
    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        fake.calls.append((method, request, metadata))
        answer = fake.answers.get(method)
        if answer is not None:
            return answer(request, context)
        return iter(()) if streaming else response_type()

    return handle


def serve_fake_gateway() -> Iterator[FakeGateway]:
    fake = FakeGateway()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    for service in gateway_pb2.DESCRIPTOR.services_by_name.values():
        handlers = {}
        for method in service.methods:
            request_type: type[Message] = getattr(gateway_pb2, method.input_type.name)
            response_type: type[Message] = getattr(gateway_pb2, method.output_type.name)
            behaviour = _handler(fake, method.name, response_type, method.server_streaming)
            make = (
                grpc.unary_stream_rpc_method_handler
                if method.server_streaming
                else grpc.unary_unary_rpc_method_handler
            )
            handlers[method.name] = make(
                behaviour,
                request_deserializer=request_type.FromString,
                response_serializer=response_type.SerializeToString,
            )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service.full_name, handlers),)
        )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    fake.address = f"127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.stop(0)


def quorum(gateway: FakeGateway, *args: str, key: str = "qk_test") -> Result:
    runner = CliRunner()
    return runner.invoke(
        app,
        ["--address", gateway.address, "--api-key", key, "--timeout", "5", *args],
        env={"COLUMNS": "200", "QUORUM_ADDRESS": None, "QUORUM_API_KEY": None},
    )


def refused_before_calling(gateway: FakeGateway, result: Result) -> None:
    """The command stopped at its own checks (exit code 2, a usage error) and the
    gateway never heard of it."""
    assert result.exit_code == 2, result.output
    assert gateway.calls == []


def packed(*details: Message) -> list[any_pb2.Any]:
    """Details as a google.rpc.Status carries them."""
    holders = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        holders.append(holder)
    return holders


def abort(code: int, message: str, *details: Message) -> Answer:
    def answer(request: Any, context: grpc.ServicerContext) -> Any:
        status = status_pb2.Status(code=code, message=message, details=packed(*details))
        context.abort_with_status(rpc_status.to_status(status))

    return answer


def bad_request(*violations: tuple[str, str]) -> error_details_pb2.BadRequest:
    """google.rpc.BadRequest naming each (field, description)."""
    return error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
            for field, description in violations
        ]
    )


def an_idea(**fields: Any) -> gateway_pb2.Idea:
    values: dict[str, Any] = {
        "id": IDEA_ID,
        "title": "Export gate reports to CSV",
        "problem": "Our board reviews gate decisions in spreadsheets.",
        "stage": "IDEATION",
        "status": domain_pb2.IDEA_STATUS_OPEN,
        "organization_count": 1,
        "next_stage": "DISCOVERY",
    }
    values.update(fields)
    return gateway_pb2.Idea(**values)


def megacorp_report() -> domain_pb2.GateReport:
    return domain_pb2.GateReport(
        stage="DISCOVERY",
        policy_version=1,
        holds=False,
        summary=(
            "needs 2 more customers from 1 more segment; "
            "MegaCorp holds 100% of the weight, over the 50% cap"
        ),
        criteria=[
            domain_pb2.CriterionResult(
                name="min_customers", required=3, actual=1, met=False, detail="1 of 3 customers"
            ),
            domain_pb2.CriterionResult(name="min_segments", required=2, actual=1, met=False),
            domain_pb2.CriterionResult(
                name="max_share", subject="megacorp", required=0.5, actual=1.0, met=False
            ),
        ],
        weights=[
            domain_pb2.OrganizationWeight(
                organization_id="megacorp",
                organization_name="MegaCorp",
                segment="banking",
                relationship=domain_pb2.RELATIONSHIP_ACTIVE,
                arr=480_000_000,
                importance=domain_pb2.IMPORTANCE_CRITICAL,
                weight=14400,
                share=1.0,
                eligible=True,
                sponsor=True,
            )
        ],
    )
