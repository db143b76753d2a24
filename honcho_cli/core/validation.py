"""Checks on what users type, done before anything is written."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from honcho_cli.errors import InvalidInput

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
MAX_CONTENT_CHARS = 25_000


def check_id(kind: str, value: Any) -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):  # fullmatch: `$` lets "id\n" through
        raise InvalidInput(
            f"invalid {kind} id {value!r}: use 1-100 characters of letters, digits, '_' or '-'",
            field=f"{kind}_id",
            value=value if isinstance(value, str) else repr(value),
        )
    return value


def check_content(content: Any, *, where: str = "content") -> str:
    if not isinstance(content, str):
        raise InvalidInput(f"{where} must be a string", field="content")
    try:
        content.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{where} is not valid UTF-8 text", field="content") from None
    if not content.strip():
        raise InvalidInput(f"{where} is empty", field="content")
    if len(content) > MAX_CONTENT_CHARS:
        raise InvalidInput(
            f"{where} has {len(content):,} characters; the limit is {MAX_CONTENT_CHARS:,}",
            field="content",
            length=len(content),
        )
    return content


def parse_metadata(raw: str | dict[str, Any] | None, *, where: str = "metadata") -> dict[str, Any]:
    """Metadata is always a JSON object; a string is parsed, None means empty."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidInput(f"{where} is not valid JSON: {exc}", field="metadata") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be a JSON object, got {type(raw).__name__}", field="metadata")
    try:  # what the store and a strict JSON reader accept: no NaN, no unpaired surrogates
        json.dumps(raw, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{where} cannot be stored as JSON: {exc}", field="metadata") from None
    return raw


def parse_timestamp(raw: Any, *, where: str = "created_at") -> datetime:
    """ISO 8601 in, naive UTC out (the store keeps UTC without a zone)."""
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise InvalidInput(f"{where} {raw!r} is not an ISO 8601 date-time", field="created_at") from None
    else:
        raise InvalidInput(f"{where} must be an ISO 8601 string", field="created_at")
    if value.tzinfo is not None:
        try:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:
            raise InvalidInput(f"{where} {raw!r} is out of range", field="created_at") from None
    return value


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def check_range(name: str, value: float | int | None, low: float, high: float) -> None:
    if value is not None and not (low <= value <= high):
        raise InvalidInput(f"{name} must be between {low} and {high}, got {value}", field=name, value=value)
