"""Reading values out of replies that may not hold what they should, and checking the URLs an
operator gives for a PSA: small helpers every adapter shares."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def as_float(value: Any, default: float | None = None) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def as_date(value: Any) -> date | None:
    """The date of an ISO date or date-time string."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def service_url(url: str, product: str) -> str:
    """An https URL as given, without a trailing slash (plain http only for a loopback
    simulator); ValueError says what is wrong with it."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"https://{url}"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if not parsed.host:
        raise ValueError(f"not a URL: {url!r}")
    if parsed.userinfo:
        raise ValueError("the URL carries a user name or password: the keys go elsewhere")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and parsed.host in LOOPBACK_HOSTS):
        raise ValueError(f"{url}: {product} needs https (http only for 127.0.0.1)")
    return url
