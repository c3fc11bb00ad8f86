"""Public calls that are a backend's own, field by field: declared in one line each.

Many public calls add nothing to the internal call of the same name but the caller's
tenant (which the backends name anyway): the public request's fields are the internal
request's, the internal answer's the public answer's. A servicer declares such a call
as a class attribute named for the RPC,

    GetPipeline = forwarded("policies", gateway_pb2.GetPipelineResponse)

and `also` names what the gateway adds or puts instead, from the principal and the
request (an acting organization, the caller's scope); `after_ledger`, that the answer
comes from the ledger's evidence, so it waits for the caller's writes to be folded in.
A call that does more (hides names, forgets a cache entry) stays a method of its own.
tests/unit/test_gateway_forwarding.py holds every forwarded call against the
contracts: no public field may lack its namesake on the other side.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, Literal, Protocol, TypeVar, overload

from google.protobuf.message import Message

from quorum_common.grpc_server import Context
from quorum_gateway.api import Servicer
from quorum_gateway.auth import current_principal
from quorum_gateway.principals import Principal

Answer = TypeVar("Answer", bound=Message)
Answer_co = TypeVar("Answer_co", bound=Message, covariant=True)
# The Backends stubs a call can go to.
Backend = Literal["ideas", "gates", "directory", "policies", "insights", "peers", "notifications"]
Also = Callable[[Principal, Any], dict[str, Any]]


class Rpc(Protocol[Answer_co]):
    """What grpc calls for one RPC: the servicer's method, bound."""

    def __call__(self, request: Any, context: Context) -> Awaitable[Answer_co]: ...


class forwarded(Generic[Answer]):  # noqa: N801 - read as a declaration, like a decorator
    """A servicer's RPC forwarded to the backend's RPC of the same name."""

    def __init__(
        self,
        backend: Backend,
        answer: type[Answer],
        *,
        also: Also | None = None,
        after_ledger: bool = False,
    ):
        self.backend = backend
        self.answer = answer
        self.also = also
        # Answered from the ledger's evidence: only once the ledger has folded every
        # acknowledged write to the request's idea (consistency.py).
        self.after_ledger = after_ledger
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, servicer: None, owner: type | None = None) -> forwarded[Answer]: ...

    @overload
    def __get__(self, servicer: Servicer, owner: type | None = None) -> Rpc[Answer]: ...

    def __get__(self, servicer: Servicer | None, owner: type | None = None) -> Any:
        if servicer is None:  # asked of the class (the servicer's ABC does): the declaration
            return self
        # Bound once, when the servicer is added to the server: no cost per call.
        backends, ledger = servicer._backends, servicer._gateway.ledger
        method = getattr(getattr(backends, self.backend), self.name)
        answer, also, after_ledger = self.answer, self.also, self.after_ledger

        async def rpc(request: Any, context: Context) -> Answer:
            extra = also(current_principal(), request) if also is not None else {}
            if after_ledger:
                await ledger.caught_up(request.idea_id, context)
            return await backends.forward(method, request, answer, context, **extra)

        return rpc
