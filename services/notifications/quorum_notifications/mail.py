"""E-mail over SMTP (aiosmtplib): one conversation per message, bounded by a timeout."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Literal

import aiosmtplib

from quorum_notifications.domain import AttemptResult, Outcome
from quorum_notifications.signatures import EVENT_ID_HEADER, EVENT_TYPE_HEADER

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "tls"]


class EmailSender:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        security: Security = "none",
        username: str = "",
        password: str = "",
        timeout_seconds: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._security = security
        self._username = username
        self._password = password
        self._timeout = timeout_seconds

    async def send(
        self, address: str, subject: str, text: str, notification_id: str, event_type: str
    ) -> AttemptResult:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = address
        message["Subject"] = subject
        # A Message-ID per notification lets mail systems drop a retried duplicate.
        message["Message-ID"] = make_msgid(idstring=notification_id, domain="quorum")
        message[EVENT_ID_HEADER] = notification_id
        message[EVENT_TYPE_HEADER] = event_type
        message.set_content(text)
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                timeout=self._timeout,
                use_tls=self._security == "tls",
                start_tls=self._security == "starttls",
                username=self._username or None,
                password=self._password or None,
            )
        except aiosmtplib.SMTPTimeoutError as error:
            return AttemptResult(Outcome.TIMED_OUT, 0, f"SMTP timed out: {error}")
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [r.code for r in error.recipients]
            detail = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
            return AttemptResult(Outcome.FAILED, codes[0] if codes else 0, f"refused: {detail}")
        except aiosmtplib.SMTPResponseException as error:
            return AttemptResult(Outcome.FAILED, error.code, f"SMTP {error.code}: {error.message}")
        except (aiosmtplib.SMTPException, OSError) as error:
            return AttemptResult(Outcome.FAILED, 0, f"SMTP: {error!r}")
        # aiosmtplib raises unless the server answered the message with 250.
        return AttemptResult(Outcome.SUCCEEDED, 250)
