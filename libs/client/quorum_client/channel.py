"""Where and how the client reaches the gateway: the channel, the key, the deadline.

Every call of the public API goes through `Connection._call` (one deadline, one
`authorization` header, one translation of failures into `QuorumError`); the calls of
each public service (quorum_client.calls) build on it, and `Client` is all of them.
A unary call is declared with `@unary` (a listing's every page with `@paged`): its
signature and docstring are the public API, and its parameters are the request's
fields, so no call spells its request out.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar, overload

import grpc
from google.protobuf.message import Message

from quorum.gateway.v1 import gateway_pb2
from quorum_client.errors import QuorumError

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT = 10.0
ADDRESS_ENV = "QUORUM_ADDRESS"
API_KEY_ENV = "QUORUM_API_KEY"
CA_FILE_ENV = "QUORUM_TLS_CA_FILE"

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
_Sent = TypeVar("_Sent", bound=Message)
_Received = TypeVar("_Received", bound=Message)
_Returned = TypeVar("_Returned")
_Item = TypeVar("_Item")
_Connection = TypeVar("_Connection", bound="Connection")
_Arguments = ParamSpec("_Arguments")


def open_channel(address: str, *, tls: bool = False, ca_file: str | None = None) -> grpc.Channel:
    """Plaintext (local runs), or TLS checked against `ca_file` or the system's CAs.

    Raises OSError when the CA file cannot be read."""
    if not tls:
        return grpc.insecure_channel(address)
    root = Path(ca_file).read_bytes() if ca_file else None
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=root))


class Closing:
    """Closed by `close()` or by leaving its `with` block: the client and its streams."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Connection(Closing):
    """One channel to one gateway, authenticated by one API key.

    `timeout` (seconds) bounds every unary call; the gateway propagates it to the
    services behind it. Use as a context manager, or call `close()`.
    """

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        tls: bool = False,
        ca_file: str | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        self.address = address
        self.timeout = timeout
        # A CA to check the gateway's certificate against (else QUORUM_TLS_CA_FILE)
        # implies TLS; TLS without one trusts the system's CAs. "" means none, whatever
        # the environment says.
        self.ca_file = (ca_file if ca_file is not None else os.environ.get(CA_FILE_ENV)) or None
        self.tls = tls or self.ca_file is not None
        if channel is None:
            channel = open_channel(address, tls=self.tls, ca_file=self.ca_file)
        self._channel = channel
        self._methods: dict[str, grpc.UnaryUnaryMultiCallable[Any, Any]] = {}
        # No key, no header: the gateway then answers UNAUTHENTICATED with its own
        # words, which is clearer than anything guessed here.
        self._metadata: tuple[tuple[str, str | bytes], ...] = (
            (("authorization", f"Bearer {api_key}"),) if api_key else ()
        )

    def close(self) -> None:
        self._channel.close()

    def _call(
        self, method: grpc.UnaryUnaryMultiCallable[_Request, _Response], request: _Request
    ) -> _Response:
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise QuorumError.from_rpc_error(
                error, address=self.address, timeout=self.timeout
            ) from error

    def _unary(
        self, path: str, request: type[_Sent], response: type[_Received]
    ) -> grpc.UnaryUnaryMultiCallable[_Sent, _Received]:
        """The channel's callable for one RPC, made once per connection."""
        if path not in self._methods:
            self._methods[path] = self._channel.unary_unary(
                path,
                request_serializer=request.SerializeToString,
                response_deserializer=response.FromString,
            )
        return self._methods[path]


# The public RPC each request message belongs to: buf lint gives every RPC a request
# of its own, so the request's type names the RPC.
_RPC_PATHS = {
    method.input_type.full_name: f"/{service.full_name}/{method.name}"
    for service in gateway_pb2.DESCRIPTOR.services_by_name.values()
    for method in service.methods
}

_Declared = Callable[Concatenate[_Connection, _Arguments], _Returned]


@overload
def unary(
    request: type[_Sent], response: type[_Received]
) -> Callable[
    [_Declared[_Connection, _Arguments, _Received]],
    _Declared[_Connection, _Arguments, _Received],
]: ...


@overload
def unary(
    request: type[_Sent], response: type[_Received], answer: Callable[[_Received], _Returned]
) -> Callable[
    [_Declared[_Connection, _Arguments, _Returned]],
    _Declared[_Connection, _Arguments, _Returned],
]: ...


def unary(
    request: type[_Sent],
    response: type[_Received],
    answer: Callable[[_Received], Any] | None = None,
) -> Callable[[_Declared[_Connection, _Arguments, Any]], _Declared[_Connection, _Arguments, Any]]:
    """Make a declared method one unary RPC of the public API.

    The method's parameters (after `self`) are the fields of `request`, by name, so its
    signature says what the request carries; an iterable fills a repeated field and None
    leaves a message field unset. The call returns the `response`, or what `answer`
    takes from it. The method's body is never run: the declaration is the whole call.
    """
    path = _RPC_PATHS[request.DESCRIPTOR.full_name]

    def declare(
        declared: _Declared[_Connection, _Arguments, Any],
    ) -> _Declared[_Connection, _Arguments, Any]:
        fields_of = _fields_of(declared)

        @functools.wraps(declared)
        def call(
            connection: _Connection, /, *args: _Arguments.args, **kwargs: _Arguments.kwargs
        ) -> Any:
            method = connection._unary(path, request, response)
            received = connection._call(method, request(**fields_of(connection, args, kwargs)))
            return received if answer is None else answer(received)

        return call

    return declare


def paged(
    request: type[_Sent], response: type[_Received], items: Callable[[_Received], Iterable[_Item]]
) -> Callable[
    [_Declared[_Connection, _Arguments, Iterator[_Item]]],
    _Declared[_Connection, _Arguments, Iterator[_Item]],
]:
    """Make a declared method every item of a listing RPC, fetching pages as needed.

    As with `unary`, the parameters are the request's fields; the page token is not
    among them: each page's `next_page_token` asks for the next, until one has none.
    """
    path = _RPC_PATHS[request.DESCRIPTOR.full_name]

    def declare(
        declared: _Declared[_Connection, _Arguments, Iterator[_Item]],
    ) -> _Declared[_Connection, _Arguments, Iterator[_Item]]:
        fields_of = _fields_of(declared)

        @functools.wraps(declared)
        def call(
            connection: _Connection, /, *args: _Arguments.args, **kwargs: _Arguments.kwargs
        ) -> Iterator[_Item]:
            method = connection._unary(path, request, response)
            fields = fields_of(connection, args, kwargs)
            token = ""
            while True:
                page: Any = connection._call(method, request(**fields, page_token=token))
                yield from items(page)
                token = page.next_page_token
                if not token:
                    return

        return call

    return declare


def _fields_of(
    declared: Callable[..., Any],
) -> Callable[[Connection, tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """How a call's arguments become the request's fields: by the declared parameter
    names, defaults filled in, `self` left out."""
    signature = inspect.signature(declared)
    connection_name = next(iter(signature.parameters))

    def fields_of(
        connection: Connection, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        bound = signature.bind(connection, *args, **kwargs)
        bound.apply_defaults()
        return {k: v for k, v in bound.arguments.items() if k != connection_name}

    return fields_of
