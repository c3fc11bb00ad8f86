"""QuorumError: grpc failures and their google.rpc.Status details, made readable."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from quorum.gateway.v1 import gateway_pb2
from quorum_client import Client, FieldViolation, PreconditionViolation, QuorumError
from support.fake_gateway import bad_request, megacorp_report, packed


class FakeCall(grpc.RpcError, grpc.Call):
    """What a failed unary call raises: an RpcError that is also a Call."""

    def __init__(
        self, code: grpc.StatusCode, details: str, status: status_pb2.Status | None = None
    ) -> None:
        self._code = code
        self._details = details
        self._trailing: tuple[tuple[str, str | bytes], ...] = (
            (("grpc-status-details-bin", status.SerializeToString()),) if status else ()
        )

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailing

    def initial_metadata(self) -> Any:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return 0.0

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


def refused(
    code: grpc.StatusCode, message: str, *details: Message, address: str = ""
) -> QuorumError:
    """What the client makes of a call the gateway refused with this status and details."""
    status = status_pb2.Status(code=code.value[0], message=message, details=packed(*details))
    return QuorumError.from_rpc_error(FakeCall(code, message, status), address=address)


def test_bad_input_names_every_field() -> None:
    message = "invalid argument: title: is required, problem: is required"

    error = refused(
        grpc.StatusCode.INVALID_ARGUMENT,
        message,
        bad_request(("title", "is required"), ("problem", "is required")),
        address="gw:1",
    )

    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == message
    assert error.field_violations == (
        FieldViolation("title", "is required"),
        FieldViolation("problem", "is required"),
    )
    assert error.precondition_violations == ()
    assert error.gate_report is None
    assert str(error) == f"INVALID_ARGUMENT: {message}"


def test_a_refused_advance_carries_its_unmet_criteria_and_the_gate_report() -> None:
    error = refused(
        grpc.StatusCode.FAILED_PRECONDITION,
        "the gate into DISCOVERY does not hold: needs 2 more customers",
        error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type="GATE_CRITERION", subject="min_customers", description="requires 3"
                )
            ]
        ),
        megacorp_report(),
    )

    assert error.precondition_violations == (
        PreconditionViolation("GATE_CRITERION", "min_customers", "requires 3"),
    )
    assert error.gate_report == megacorp_report()
    assert error.field_violations == ()


def test_retry_info_says_how_long_to_wait() -> None:
    error = refused(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "rate limit of this API key reached",
        error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(seconds=1, nanos=500_000_000)
        ),
    )

    assert error.retry_delay == pytest.approx(1.5)


def test_unknown_details_are_skipped() -> None:
    error = refused(
        grpc.StatusCode.NOT_FOUND, "idea x not found", error_details_pb2.ErrorInfo(reason="NOPE")
    )

    assert (error.code, error.message) == (grpc.StatusCode.NOT_FOUND, "idea x not found")
    assert error.field_violations == ()
    assert error.precondition_violations == ()


def test_a_plain_status_without_details() -> None:
    error = QuorumError.from_rpc_error(FakeCall(grpc.StatusCode.NOT_FOUND, "idea x not found"))

    assert (error.code, error.message) == (grpc.StatusCode.NOT_FOUND, "idea x not found")
    assert error.field_violations == ()
    assert error.gate_report is None
    assert error.retry_delay is None


def test_details_that_contradict_the_code_are_ignored_not_fatal() -> None:
    # grpc_status refuses details whose code differs from the call's: a proxy rewrote
    # the status. The error must still be raised with the call's own code and words.
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="something else")

    error = QuorumError.from_rpc_error(FakeCall(grpc.StatusCode.INTERNAL, "boom", status))

    assert (error.code, error.message) == (grpc.StatusCode.INTERNAL, "boom")


def test_an_unreachable_gateway_is_said_plainly() -> None:
    grpc_words = (
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: "
        "Failed to connect to remote host: Connection refused"
    )

    error = QuorumError.from_rpc_error(
        FakeCall(grpc.StatusCode.UNAVAILABLE, grpc_words), address="127.0.0.1:1"
    )

    assert error.message == "cannot reach the Quorum gateway at 127.0.0.1:1 (Connection refused)"


def test_a_deadline_names_the_timeout() -> None:
    error = QuorumError.from_rpc_error(
        FakeCall(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"),
        address="gw:1",
        timeout=2.0,
    )

    assert error.message == "no answer from the Quorum gateway at gw:1 within 2s"


def test_an_rpc_error_that_is_not_a_call() -> None:
    class Bare(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.CANCELLED

        def details(self) -> str | None:
            return None

    error = QuorumError.from_rpc_error(Bare())

    assert (error.code, error.message) == (grpc.StatusCode.CANCELLED, "cancelled")


# --- through a real channel: what the gateway's interceptor sends arrives whole ------


@pytest.fixture
def refusing_gateway() -> Iterator[tuple[str, list[tuple[tuple[str, str | bytes], ...]]]]:
    """A gateway whose GetIdea refuses like the real one: status details in trailers."""
    seen: list[tuple[tuple[str, str | bytes], ...]] = []

    def get_idea(request: gateway_pb2.GetIdeaRequest, context: grpc.ServicerContext) -> Any:
        seen.append(tuple(context.invocation_metadata()))
        status = status_pb2.Status(
            code=code_pb2.FAILED_PRECONDITION,
            message="the gate into DISCOVERY does not hold",
            details=packed(megacorp_report()),
        )
        context.abort_with_status(rpc_status.to_status(status))

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.unary_unary_rpc_method_handler(
        get_idea,
        request_deserializer=gateway_pb2.GetIdeaRequest.FromString,
        response_serializer=gateway_pb2.GetIdeaResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "quorum.gateway.v1.IdeasService", {"GetIdea": handler}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", seen
    finally:
        server.stop(0)


def test_the_client_sends_its_key_and_unpacks_a_real_status(
    refusing_gateway: tuple[str, list[tuple[tuple[str, str | bytes], ...]]],
) -> None:
    address, seen = refusing_gateway

    with Client(address, "qk_secret", timeout=5) as client, pytest.raises(QuorumError) as raised:
        client.get_idea("b2d59959-272c-44e4-9856-c9c7d9ea9a63")

    assert raised.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert raised.value.message == "the gate into DISCOVERY does not hold"
    assert raised.value.gate_report == megacorp_report()
    assert ("authorization", "Bearer qk_secret") in seen[0]


def test_no_key_sends_no_authorization_header(
    refusing_gateway: tuple[str, list[tuple[tuple[str, str | bytes], ...]]],
) -> None:
    address, seen = refusing_gateway

    with Client(address, None, timeout=5) as client, pytest.raises(QuorumError):
        client.get_idea("x")

    assert all(key != "authorization" for key, _ in seen[0])


def test_a_closed_port_is_unavailable_with_a_readable_message() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    # The port is free now and nothing listens on it.

    with Client(address, "k", timeout=5) as client, pytest.raises(QuorumError) as raised:
        client.who_am_i()

    assert raised.value.code is grpc.StatusCode.UNAVAILABLE
    assert raised.value.message.startswith(f"cannot reach the Quorum gateway at {address}")
