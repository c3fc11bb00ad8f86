"""Secrets a service must use again (webhook signing keys), encrypted at rest.

Such a secret cannot be hashed like an API key: it signs or verifies every request.
So it is stored as a Fernet token (AES-128-CBC with HMAC-SHA256, from the
`cryptography` library) under a key from the service's settings, prefixed so a value
written before encryption existed is still told apart (and read as it is).

The setting holds one Fernet key or several, comma separated: the first encrypts,
every one decrypts, so the key itself can be rotated: put the new key first and keep
the old one after it while secrets sealed with it remain.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "fernet:"
# Public on purpose: used only when no key is configured (`make run`, tests), and a
# service using it says so at start. It keeps secrets out of plain sight in a
# development database, no more.
DEVELOPMENT_KEY = (
    "cXVvcnVtLWRldmVsb3BtZW50LWtleS1ub3Qtc2VjcmU="  # b"quorum-development-key-not-secre"
)


class SecretUnreadable(Exception):
    """A stored secret was sealed under a key this service no longer has."""


def check_keys(value: str) -> str:
    """The setting's value when every comma-separated entry is a Fernet key."""
    for index, key in enumerate(k.strip() for k in value.split(",") if value.strip()):
        try:
            Fernet(key)
        except ValueError:
            raise ValueError(
                f"entry {index + 1} is not a Fernet key (32 url-safe base64-encoded bytes; "
                'make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())")'
            ) from None
    return value


class SecretBox:
    def __init__(self, keys: str) -> None:
        entries = [k.strip() for k in keys.split(",") if k.strip()]
        self.development = not entries
        self._fernet = MultiFernet([Fernet(k) for k in entries or [DEVELOPMENT_KEY]])

    def seal(self, secret: str) -> str:
        return PREFIX + self._fernet.encrypt(secret.encode()).decode()

    @staticmethod
    def is_sealed(stored: str) -> bool:
        return stored.startswith(PREFIX)

    def open(self, stored: str) -> str:
        """The secret; a value stored before encryption is returned as it is."""
        if not self.is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "a stored secret does not decrypt with any configured key"
            ) from None
