"""Local receivers for Quorum's notifications: an SMTP sink and a webhook receiver.

`make run` starts both (in a thread of its own) and prints what they receive, so
a newcomer sees deliveries without a mail server or a public URL. The tests use
the same classes as real servers (with a scripted answer for the webhook).

The webhook receiver checks Quorum's signature independently of the service's
code: HMAC-SHA256 with the subscription's secret over "<Quorum-Timestamp>.<body>",
sent as "Quorum-Signature: v1=<hex>".

    python -m quorum_devtools.sinks --smtp-port 8025 --webhook-port 8090 --secret S
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import hashlib
import hmac
import json
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

SMTP_PORT = int(os.environ.get("QUORUM_SMTP_SINK_PORT", "8025"))
WEBHOOK_PORT = int(os.environ.get("QUORUM_WEBHOOK_SINK_PORT", "8090"))
WEBHOOK_SECRET = os.environ.get("QUORUM_WEBHOOK_SINK_SECRET", "quorum-local-webhook-secret")
TOLERANCE_SECONDS = 300


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> bool:
    """Quorum's webhook signature check, as a receiver would write it."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    expected = "v1=" + mac.hexdigest()
    return any(hmac.compare_digest(expected, s.strip()) for s in signature.split(","))


Printer = Callable[[str], None]


@dataclass(frozen=True)
class ReceivedMail:
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return str(body.get_content()) if body is not None else ""


class _MailHandler:
    def __init__(self, sink: MailSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        mail = ReceivedMail(
            str(envelope.mail_from or ""), tuple(str(r) for r in envelope.rcpt_tos), message
        )
        self._sink.messages.append(mail)
        if self._sink.printer is not None:
            self._sink.printer(f"mail to {', '.join(mail.recipients)}: {mail.subject}")
        return "250 Message accepted for delivery"


class MailSink:
    """An SMTP server that accepts every message and keeps it."""

    def __init__(self, printer: Printer | None = None) -> None:
        self.printer = printer
        self.messages: list[ReceivedMail] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        handler = _MailHandler(self)
        self._server = await loop.create_server(
            lambda: SMTP(handler, hostname="quorum-sink", enable_SMTPUTF8=True, loop=loop),
            host,
            port,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    # Lower-cased names.
    headers: dict[str, str]
    body: bytes
    # None when the sink has no secret to check with.
    signature_ok: bool | None
    received_at: float = field(default_factory=time.time)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.headers.get("quorum-event-id", "")


# Decides the answer to one request: a status code (the tests script failures).
Responder = Callable[[ReceivedWebhook], Awaitable[int]]


async def _accept(request: ReceivedWebhook) -> int:
    return 204


class WebhookSink:
    """An HTTP server that accepts POSTs on any path, keeps them and checks signatures.

    `secrets` maps a path to its subscription's secret; `secret` applies to every
    other path.
    """

    def __init__(
        self,
        secret: str | None = None,
        secrets: dict[str, str] | None = None,
        respond: Responder = _accept,
        printer: Printer | None = None,
    ) -> None:
        self._secret = secret
        self._secrets = dict(secrets or {})
        self._respond = respond
        self.printer = printer
        self.requests: list[ReceivedWebhook] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[ReceivedWebhook]:
        return [r for r in self.requests if r.path == path]

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        # Header names are case-insensitive; keep them lower-cased.
        headers = {k.lower(): v for k, v in request.headers.items()}
        secret = self._secrets.get(request.path, self._secret)
        ok = None
        if secret is not None:
            ok = verify_signature(
                secret,
                headers.get("quorum-timestamp", ""),
                body,
                headers.get("quorum-signature", ""),
            )
        received = ReceivedWebhook(request.path, headers, body, ok)
        self.requests.append(received)
        status = await self._respond(received)
        if self.printer is not None:
            verdict = {True: "signature ok", False: "SIGNATURE MISMATCH", None: "unchecked"}[ok]
            self.printer(
                f"webhook POST {request.path} {headers.get('quorum-event-type', '?')} "
                f"id={received.event_id} ({verdict}) -> {status}: {body.decode(errors='replace')}"
            )
        return web.Response(status=status)


async def serve(
    smtp_port: int,
    webhook_port: int,
    secret: str,
    stop: asyncio.Event,
    printer: Printer = print,
    ready: Callable[[], None] | None = None,
) -> None:
    mail = MailSink(printer)
    hook = WebhookSink(secret=secret, printer=printer)
    await mail.start(port=smtp_port)
    try:
        await hook.start(port=webhook_port)
        try:
            if ready is not None:
                ready()
            await stop.wait()
        finally:
            await hook.stop()
    finally:
        await mail.stop()


class BackgroundSinks:
    """Both sinks on an event loop in a daemon thread (for the `make run` supervisor)."""

    def __init__(self, smtp_port: int, webhook_port: int, secret: str, printer: Printer) -> None:
        self.smtp_port = smtp_port
        self.webhook_port = webhook_port
        self.secret = secret
        self._printer = printer
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sinks", daemon=True)

    def start(self, timeout: float = 10.0) -> bool:
        """True once both listen; False (see `error`) when they could not start."""
        self._thread.start()
        self._ready.wait(timeout)
        return self.error is None and self._ready.is_set()

    def _run(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            await serve(
                self.smtp_port,
                self.webhook_port,
                self.secret,
                self._stop,
                self._printer,
                self._ready.set,
            )

        try:
            self._loop.run_until_complete(main())
        except BaseException as error:
            self.error = error
            self._ready.set()
        finally:
            self._loop.close()

    def stop(self) -> None:
        if self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=5)


def service_env(smtp_port: int) -> dict[str, str]:
    """Settings that point the notifications service at the sinks.

    A variable already set in the environment wins (to try a real mail server).
    """
    wanted = {
        "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
        "NOTIFICATIONS_SMTP_PORT": str(smtp_port),
        # The receiver listens on loopback, which production refuses.
        "NOTIFICATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    }
    return {name: value for name, value in wanted.items() if name not in os.environ}


def announcement(sinks: BackgroundSinks) -> str:
    """Where a newcomer sees deliveries, and how to subscribe to them (public API, a key)."""
    hook = f"http://127.0.0.1:{sinks.webhook_port}"
    return (
        f"  notifications: e-mail goes to the SMTP sink on 127.0.0.1:{sinks.smtp_port}, webhooks\n"
        f"    to {hook}/<any path> (checked with secret {sinks.secret!r}); both print\n"
        "    what they receive here, as 'sinks'. Subscribe the product team, e.g.:\n"
        f"    quorum notifications subscribe --team product --webhook {hook}/product "
        f"--secret {sinks.secret}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smtp-port", type=int, default=SMTP_PORT)
    parser.add_argument("--webhook-port", type=int, default=WEBHOOK_PORT)
    parser.add_argument("--secret", default=WEBHOOK_SECRET, help="webhook secret to check")
    args = parser.parse_args()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        print(
            f"SMTP sink on 127.0.0.1:{args.smtp_port}, webhook receiver on "
            f"http://127.0.0.1:{args.webhook_port}/<any path> (secret {args.secret!r})",
            flush=True,
        )
        await serve(args.smtp_port, args.webhook_port, args.secret, stop)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
