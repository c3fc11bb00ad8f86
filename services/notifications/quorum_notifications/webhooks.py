"""Webhook delivery: a signed JSON POST that succeeds on a 2xx within the timeout.

Every host name is resolved through `GuardedResolver`, which refuses link-local and
metadata addresses (and private ones unless allowed) at connection time, so the
address checked is the address called. Redirects are not followed: a 3xx would
otherwise lead the request anywhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from quorum_notifications import signatures
from quorum_notifications.addresses import check_url, refused_address, refused_host_name
from quorum_notifications.domain import AttemptResult, Outcome, http_result

log = logging.getLogger(__name__)

USER_AGENT = "Quorum-Webhooks/1"
# Enough of a refusal's body to tell an operator why, not enough to store a page.
DETAIL_BYTES = 200
# A subscription's host must resolve this quickly when it is created.
RESOLVE_SECONDS = 5.0


@dataclass(frozen=True)
class Signing:
    """How one attempt is signed: its subscription's scheme and every secret valid now."""

    scheme: signatures.Scheme
    secrets: tuple[str, ...]


class AddressRefused(Exception):
    """The host resolves to an address Quorum never calls."""


class GuardedResolver(AbstractResolver):
    def __init__(self, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        reason = refused_host_name(host)
        if reason is not None:
            raise AddressRefused(reason)
        found = await self._inner.resolve(host, port, family)
        for entry in found:
            why = refused_address(ipaddress.ip_address(entry["host"]), self._allow_private)
            if why is not None:
                raise AddressRefused(f"{host.rstrip('.')} resolves to {why}")
        return found

    async def close(self) -> None:
        await self._inner.close()


async def check_resolves(url: str, allow_private: bool) -> str | None:
    """What is wrong with a webhook URL, its host's current addresses included.

    A host that does not resolve (yet) is accepted; a host that resolves to a
    refused address is not.
    """
    problem = check_url(url, allow_private)
    if problem is not None:
        return problem
    host = urlsplit(url).hostname or ""
    if not host or _is_ip(host):
        return None
    resolver = GuardedResolver(allow_private)
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            await resolver.resolve(host, 0, socket.AF_UNSPEC)
    except AddressRefused as refused:
        return str(refused)
    except (OSError, TimeoutError):
        # Not (yet) in DNS is no danger: every attempt resolves and checks again.
        return None
    finally:
        await resolver.close()
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class WebhookSender:
    def __init__(self, timeout_seconds: float, allow_private: bool, connections: int) -> None:
        self._timeout = timeout_seconds
        self._allow_private = allow_private
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self._allow_private),
            limit=self._connections,
            family=socket.AF_UNSPEC,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            # Never through a proxy from the environment: it would see past the guard.
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        url: str,
        signing: Signing,
        body: bytes,
        notification_id: str,
        event_type: str,
    ) -> AttemptResult:
        problem = check_url(url, self._allow_private)
        if problem is not None:
            return AttemptResult(Outcome.REFUSED, 0, f"refused: {problem}")
        assert self._session is not None, "start() the sender first"
        stamp = int(time.time())
        headers: dict[str, Any] = {
            "Content-Type": "application/json",
            # Both schemes carry Quorum's own id and type headers: receivers may rely on
            # them whatever the scheme.
            signatures.EVENT_ID_HEADER: notification_id,
            signatures.EVENT_TYPE_HEADER: event_type,
            **signatures.headers(signing.scheme, signing.secrets, notification_id, stamp, body),
        }
        try:
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                detail = ""
                if not 200 <= response.status < 300:
                    raw = await response.content.read(DETAIL_BYTES)
                    detail = " ".join(raw.decode(errors="replace").split())
                return http_result(response.status, detail)
        except AddressRefused as refused:
            return AttemptResult(Outcome.REFUSED, 0, f"refused: {refused}")
        except TimeoutError:
            return AttemptResult(Outcome.TIMED_OUT, 0, f"no answer within {self._timeout:g}s")
        except (aiohttp.ClientError, OSError) as error:
            return AttemptResult(Outcome.FAILED, 0, f"{type(error).__name__}: {error}")
