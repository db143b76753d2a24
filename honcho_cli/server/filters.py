"""The reference's list `filters`, applied to the JSON records a route is about to return.

Supported: field equality (`{"peer_id": "alice"}`), `"*"` for anything, nested
`metadata` matching, the operators gt/gte/lt/lte/ne/in/contains/icontains, and the
logical AND/OR/NOT over lists of filters. Anything else is a 422 naming what was not
understood, never a silent match-all. This is presentation (which records of a list
to show), not memory logic: the lists come from the same client calls the CLI uses.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from honcho_cli.errors import InvalidInput

MAX_DEPTH = 8
LOGICAL = ("AND", "OR", "NOT")


def _coerce(value: Any, arg: Any) -> tuple[Any, Any]:
    """Compare datetimes with ISO strings; anything else as is."""
    if isinstance(value, datetime) and isinstance(arg, str):
        try:
            parsed = datetime.fromisoformat(arg)
        except ValueError:
            raise InvalidInput(f"filter value {arg!r} is not an ISO 8601 date-time", field="filters") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return value, parsed
    return value, arg


def _compare(op: str, value: Any, arg: Any) -> bool:
    if value is None or isinstance(value, (dict, list)) or isinstance(arg, (dict, list)) or arg is None:
        raise InvalidInput(f"filter operator {op!r} needs a number, text or date on both sides", field="filters")
    value, arg = _coerce(value, arg)
    try:
        if op == "gt":
            return value > arg
        if op == "gte":
            return value >= arg
        if op == "lt":
            return value < arg
        return value <= arg
    except TypeError:
        raise InvalidInput(f"filter operator {op!r} cannot compare {type(value).__name__} with {type(arg).__name__}",
                           field="filters") from None


def _equal(value: Any, arg: Any) -> bool:
    value, arg = _coerce(value, arg)
    if isinstance(value, bool) or isinstance(arg, bool):
        return type(value) is type(arg) and value == arg
    return value == arg


def _contains(value: Any, arg: Any, *, fold: bool = False) -> bool:
    if isinstance(value, str) and isinstance(arg, str):
        return arg.lower() in value.lower() if fold else arg in value
    if isinstance(value, list):
        return any(_equal(v, arg) for v in value)
    return False


OPERATORS = {
    "gt": lambda v, a: _compare("gt", v, a),
    "gte": lambda v, a: _compare("gte", v, a),
    "lt": lambda v, a: _compare("lt", v, a),
    "lte": lambda v, a: _compare("lte", v, a),
    "ne": lambda v, a: not _equal(v, a),
    "in": lambda v, a: _in(v, a),
    "contains": lambda v, a: _contains(v, a),
    "icontains": lambda v, a: _contains(v, a, fold=True),
}


def _in(value: Any, arg: Any) -> bool:
    if not isinstance(arg, list):
        raise InvalidInput("filter operator 'in' needs a list", field="filters")
    return any(_equal(value, a) for a in arg)


def _match_value(value: Any, cond: Any, depth: int) -> bool:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"filters nest deeper than {MAX_DEPTH} levels", field="filters")
    if cond == "*":
        return True
    if isinstance(cond, dict) and cond and all(k in OPERATORS for k in cond):
        return all(OPERATORS[op](value, arg) for op, arg in cond.items())
    if isinstance(cond, dict) and isinstance(value, dict):
        return all(key in value and _match_value(value[key], sub, depth + 1) for key, sub in cond.items())
    return _equal(value, cond)


def matches(record: dict[str, Any], filters: dict[str, Any], *, aliases: dict[str, str] | None = None, depth: int = 0) -> bool:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"filters nest deeper than {MAX_DEPTH} levels", field="filters")
    if not isinstance(filters, dict):
        raise InvalidInput("filters must be a JSON object", field="filters")
    for key, cond in filters.items():
        if key in LOGICAL:
            if not isinstance(cond, list) or not all(isinstance(f, dict) for f in cond):
                raise InvalidInput(f"filter {key} needs a list of filter objects", field="filters")
            results = [matches(record, f, aliases=aliases, depth=depth + 1) for f in cond]
            ok = all(results) if key == "AND" else any(results) if key == "OR" else not any(results)
            if not ok:
                return False
            continue
        field = (aliases or {}).get(key, key)
        if field not in record:
            known = sorted(set(record) | set(aliases or {}))
            raise InvalidInput(f"unknown filter field {key!r}; known: {', '.join(known)}", field="filters")
        if not _match_value(record[field], cond, depth + 1):
            return False
    return True


def apply(records: list[dict[str, Any]], filters: dict[str, Any] | None, *, aliases: dict[str, str] | None = None) -> list[dict[str, Any]]:
    if not filters:
        return records
    if not isinstance(filters, dict):
        raise InvalidInput("filters must be a JSON object", field="filters")
    return [r for r in records if matches(r, filters, aliases=aliases)]


def pop(filters: dict[str, Any] | None, *names: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split plain-equality filters on `names` (passed to the client) from the rest."""
    rest = dict(filters or {})
    taken: dict[str, Any] = {}
    for name in names:
        if name in rest and isinstance(rest[name], str) and rest[name] != "*":
            taken[name] = rest.pop(name)
    return taken, rest
