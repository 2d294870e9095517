"""What can go wrong talking to a vendor or the PSA, as types a caller can act on.

Messages are for people: they name the vendor and say what to do. They never contain a secret:
every message passes through `redact`, and these exceptions are raised `from None` so httpx's
own exceptions (with request details) do not ride along in tracebacks.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

_secrets: set[str] = set()
_lock = threading.Lock()
MASK = "********"


class Secret:
    """A credential that prints as ******** in reprs, f-strings, logs and tracebacks.
    `reveal()` is the one way to the value, used only where it goes on the wire."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a secret cannot be empty")
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):  # never pickled with its value by accident
        raise TypeError("secrets are not picklable")


def register_secret(value: str) -> None:
    """Make `redact` (and so every log line and adapter error) mask this value."""
    if len(value) >= 4:
        with _lock:
            _secrets.add(value)


# user:password@ in a URL, and query parameters that carry a credential
_URL_USERINFO = re.compile(r"(?<=://)[^/\s@]+@")
_URL_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:api[_-]?key|key|token|access_token|secret|password|passwd|pwd)=)[^&\s#]+"
)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """`text` with every registered secret (in every form it is sent in), the user and password
    of a URL, and credential query parameters replaced by ********."""
    with _lock:
        values = sorted(_secrets.union(extra), key=len, reverse=True)
    for value in values:
        if value and value in text:
            text = text.replace(value, MASK)
    text = _URL_USERINFO.sub(MASK + "@", text)
    return _URL_QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)


class RedactingFilter(logging.Filter):
    """Masks every registered secret in a log record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingFormatter(logging.Formatter):
    """Masks secrets in the whole formatted record: the message, and the traceback too."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class AdapterError(Exception):
    """A vendor or PSA call failed; `str()` is a sentence a person can act on."""

    def __init__(self, vendor: str, message: str, status: int | None = None) -> None:
        self.vendor = vendor
        self.status = status
        super().__init__(redact(message))


class AuthenticationError(AdapterError):
    """The credentials were refused (401)."""


class PermissionDenied(AdapterError):
    """The credentials are valid but may not do this (403)."""


class NotFound(AdapterError):
    """The thing asked for does not exist (404)."""


class RateLimited(AdapterError):
    """Still rate limited (429) after waiting as asked."""

    def __init__(self, vendor: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(vendor, message, 429)
        self.retry_after = retry_after


class VendorError(AdapterError):
    """The other side answered with an error; the message carries what it said."""


class ConnectionFailed(AdapterError):
    """No answer: DNS, TLS, refused connection or timeout. `kind` says which."""

    def __init__(self, vendor: str, message: str, kind: str) -> None:
        super().__init__(vendor, message)
        self.kind = kind


class MalformedResponse(AdapterError):
    """An answer we cannot read (not JSON, or not the shape the API documents)."""
