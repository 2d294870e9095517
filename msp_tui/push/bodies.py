"""What push vendors may send: the request bodies of the Vendor API, checked before any of it
reaches the store. They also make the OpenAPI schema.

Text is storable (valid Unicode, no NUL) and printable: control characters (C0, DEL, C1) are
refused, except tab and newline in descriptions. Lengths fit what Gradient's callers send.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt

MAX_UNITS = 10**12
MAX_ID = 255
MAX_NAME = 255
MAX_DESCRIPTION = 10_000
MAX_SHORT = 255  # category, subcategory
MAX_LINK = 2048  # supportArticle, supportContact
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_BUT_TAB_AND_NEWLINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _text(pattern: re.Pattern[str]):
    def check(value: str) -> str:
        if pattern.search(value):
            raise ValueError("control characters are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud808"), which no database stores
            raise ValueError("not valid Unicode text") from None
        return value

    return AfterValidator(check)


def plain_text(value: str) -> bool:
    """Whether a path or query value is text we can look up (the same rule as ids)."""
    return not CONTROL.search(value) and 0 < len(value) <= MAX_ID


Line = _text(CONTROL)
Id = Annotated[
    Annotated[str, Field(min_length=1, max_length=MAX_ID), Line]
    | Annotated[StrictInt, Field(ge=-(2**63), lt=2**63)],
    Field(description="the vendor's own id: a non-empty string or an integer"),
]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), Line]
Short = Annotated[str, Field(max_length=MAX_SHORT), Line]
Link = Annotated[str, Field(max_length=MAX_LINK), Line]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION), _text(CONTROL_BUT_TAB_AND_NEWLINE)]


def _in_range(value: datetime) -> datetime:
    """A due date as naive UTC; one that cannot be expressed in UTC is refused."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise ValueError("dueDateTime is out of range") from None


DueDate = Annotated[datetime, AfterValidator(_in_range)]


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")  # vendors send more than we read; it is dropped


class AccountBody(Loose):
    id: Id
    name: Name
    description: Description | None = None


class AccountPatch(Loose):
    id: Id | None = None
    name: Name | None = None
    description: Description | None = None


class ServiceBody(Loose):
    id: Id
    name: Name
    description: Description | None = None


class SkuBody(Loose):
    name: Name
    description: Description | None = None
    category: Short | None = None
    subcategory: Short | None = None
    supportArticle: Link | None = None
    supportContact: Link | None = None


class CountBody(Loose):
    accountId: Id
    unitCount: Annotated[StrictInt | StrictFloat, Field(ge=0, le=MAX_UNITS, allow_inf_nan=False)]


class AlertBody(Loose):
    title: Name
    description: Description | None = None
    alertId: Id | None = None  # 0 is an id like any other
    priority: Annotated[StrictInt, Field(ge=1, le=4)] = 3
    status: Annotated[StrictInt, Field(ge=1, le=6)] | None = None
    dueDateTime: DueDate | None = None
    serviceId: Id | None = None


def last_wins(items: list[Any]) -> list[Any]:
    """A batch that names one id twice keeps the last one, in the order ids first appeared."""
    by_id: dict[str, Any] = {}
    for item in items:
        by_id[str(item.id)] = item
    return list(by_id.values())
