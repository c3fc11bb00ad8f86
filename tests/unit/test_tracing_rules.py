"""Which calls start a trace, without processes: the sampling rules of quorum_common.tracing."""

from __future__ import annotations

from typing import Any

import pytest

from quorum_common.errors import StartupError
from quorum_common.tracing import is_read, read_traces_ratio, traced_calls, write_traces_ratio


class Details:
    """What grpc hands an interceptor about a call."""

    def __init__(self, method: str, metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self.method = method
        self.invocation_metadata = metadata


def traced(method: str, *, read: float, write: float, traceparent: str = "") -> bool:
    metadata = (("traceparent", traceparent),) if traceparent else ()
    details: Any = Details(method, metadata)
    return traced_calls(read, write)(details)


ENDORSE = "/quorum.gateway.v1.IdeasService/EndorseIdea"
GET = "/quorum.gateway.v1.IdeasService/GetIdea"
PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("span", "read"),
    [
        ("/quorum.gateway.v1.IdeasService/GetIdea", True),
        ("/quorum.gateway.v1.IdeasService/ListEndorsements", True),
        ("/quorum.gateway.v1.EventsService/WatchEvents", True),
        ("/quorum.ideas.v1.IdeasService/FindSimilarIdeas", True),
        ("/quorum.gateway.v1.IdeasService/EndorseIdea", False),
        ("/quorum.gateway.v1.GatesService/AdvanceStage", False),
    ],
)
def test_reads_are_told_apart_from_writes_for_sampling(span: str, read: bool) -> None:
    assert is_read(span) is read


def test_the_traces_ratios_are_fractions() -> None:
    assert write_traces_ratio({}) == 0.1
    assert write_traces_ratio({"QUORUM_WRITE_TRACES_RATIO": "0"}) == 0.0
    assert read_traces_ratio({}) == 0.01
    assert read_traces_ratio({"QUORUM_READ_TRACES_RATIO": "1"}) == 1.0
    for bad in ("2", "-0.1", "some"):
        with pytest.raises(StartupError, match=r"^QUORUM_READ_TRACES_RATIO: "):
            read_traces_ratio({"QUORUM_READ_TRACES_RATIO": bad})
        with pytest.raises(StartupError, match=r"^QUORUM_WRITE_TRACES_RATIO: "):
            write_traces_ratio({"QUORUM_WRITE_TRACES_RATIO": bad})


def test_a_trace_starts_at_the_ratio_of_its_kind() -> None:
    assert traced(ENDORSE, read=0.0, write=1.0)
    assert not traced(ENDORSE, read=1.0, write=0.0)
    assert traced(GET, read=1.0, write=0.0)
    assert not traced(GET, read=0.0, write=1.0)


@pytest.mark.parametrize("flags", ["01", "03"])
def test_a_caller_sampled_is_followed_whatever_the_ratios(flags: str) -> None:
    # "03" is sampled and random (W3C level 2): what the OpenTelemetry SDK sends.
    assert traced(ENDORSE, read=0.0, write=0.0, traceparent=f"{PARENT}-{flags}")
    assert traced(GET, read=0.0, write=0.0, traceparent=f"{PARENT}-{flags}")


@pytest.mark.parametrize("traceparent", [f"{PARENT}-00", f"{PARENT}-02", "garbage-zz"])
def test_a_caller_not_sampled_is_not_traced_whatever_the_ratios(traceparent: str) -> None:
    assert not traced(ENDORSE, read=1.0, write=1.0, traceparent=traceparent)


def test_plumbing_and_watches_are_never_traced() -> None:
    for method in (
        "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/quorum.gateway.v1.EventsService/WatchEvents",
    ):
        assert not traced(method, read=1.0, write=1.0, traceparent=f"{PARENT}-01")
