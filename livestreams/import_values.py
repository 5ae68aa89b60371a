"""The import's value checks: a line parsed, and each kind of value checked against its rule.

Each check returns the clean value or raises ``RecordError`` naming the field path
(``products[2].gmv``) and the reason; ``livestreams.import_records`` applies them to a whole line.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

INT_MAX = 2_147_483_647  # PositiveIntegerField
BIGINT_MAX = 9_223_372_036_854_775_807  # PositiveBigIntegerField
SHARE_TOLERANCE = 0.01
FLOAT_SLACK = 1e-9

_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# Money that is certainly good for a 14-digit column (at most 12 digits before the point, at most
# two after, no sign): what check_money() accepts, checked in one regex (the per-minute fast path).
PLAIN_MONEY = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?").fullmatch
_PLAIN_MONEY_OF = {14: PLAIN_MONEY, 12: re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?").fullmatch}
_SHARE_QUANTUM = Decimal("0.0001")
# Livestreams happen in this century; outside it a timestamp is a data error (and year 1 or 9999
# would overflow once converted to UTC for storage).
EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
LATEST = datetime.datetime(2100, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)


class RecordError(ValueError):
    """A rule broken by a record: ``field`` is the path (``products[2].gmv``), ``reason`` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_line(line: bytes | str) -> Any:
    """The JSON value of one line, or RecordError("record", ...); a key given twice in one object is
    refused, naming it (``title: duplicate key``), where plain JSON would keep the last value."""
    repeated: list[_Repeated] = []

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict:
        value = dict(pairs)
        if len(value) != len(pairs):
            value = _Repeated(value, _first_repeated(pairs))
            repeated.append(value)
        return value

    try:
        data = json.loads(line, object_pairs_hook=unique_keys)
    except UnicodeDecodeError:
        raise RecordError("record", "not valid UTF-8") from None
    except json.JSONDecodeError as error:
        raise RecordError("record", f"invalid JSON ({error.msg} at column {error.colno})") from None
    if repeated:
        raise RecordError(field_path(_path_to(data, repeated[0], "") or "", repeated[0].key), "duplicate key")
    # JSON may spell a lone surrogate (\ud800): valid JSON, but no text a database can store. Only a
    # line that could hold one (an escape \uD800-\uDFFF, or in a str a surrogate itself) is walked.
    maybe = _MAYBE_SURROGATE_BYTES if isinstance(line, bytes | bytearray) else _MAYBE_SURROGATE_TEXT
    if maybe.search(line):
        where = _lone_surrogate(data, "")
        if where is not None:
            raise RecordError(where or "record", "contains invalid Unicode (a lone surrogate)")
    return data


class _Repeated(dict):
    """An object of a parsed line that gave ``key`` more than once."""

    def __init__(self, value: dict, key: str):
        super().__init__(value)
        self.key = key


def _first_repeated(pairs: list[tuple[str, Any]]) -> str:
    seen = set()
    for key, _value in pairs:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("unreachable: a key repeats")


def _path_to(value: Any, target: dict, path: str) -> str | None:
    """The path of the object ``target`` inside ``value`` ("" for ``value`` itself), or None."""
    if value is target:
        return path
    if isinstance(value, dict):
        items = ((field_path(path, key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for item_path, item in items:
        found = _path_to(item, target, item_path)
        if found is not None:
            return found
    return None


def _lone_surrogate(value: Any, path: str) -> str | None:
    """The path of the first string (or key) holding a lone surrogate, or None."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _SURROGATE.search(key):
                return field_path(path, key.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace"))
            found = _lone_surrogate(item, field_path(path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _lone_surrogate(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")
_MAYBE_SURROGATE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_MAYBE_SURROGATE_TEXT = re.compile("[\ud800-\udfff]|\\\\u[dD][89a-fA-F]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _key(key: str) -> str:
    """A key as it may appear in a one-line message: control characters escaped, empty quoted."""
    if not key:
        return '""'
    if _CONTROL.search(key) is None:
        return key
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", key)


def field_path(parent: str, key: str) -> str:
    key = _key(key)
    return f"{parent}.{key}" if parent else key


def check_object(value: Any, path: str, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """``value`` is an object with exactly ``keys``, and perhaps some of ``optional``: an unknown
    key or a missing one is named."""
    if not isinstance(value, dict):
        raise RecordError(path or "record", "must be a JSON object")
    for key in value:
        if key not in keys and key not in optional:
            raise RecordError(field_path(path, key), "unknown key")
    for key in keys:
        if key not in value:
            raise RecordError(field_path(path, key), "required")
    return value


def check_exact_keys(value: Any, path: str, keys: Iterable[str], what: str = "keys") -> dict:
    """``value`` is an object whose keys are exactly ``keys`` (reported as one rule)."""
    keys = tuple(keys)
    if not isinstance(value, dict):
        raise RecordError(path, "must be a JSON object")
    if set(value) != set(keys) or len(value) != len(keys):
        raise RecordError(path, f"must have exactly the {what} {', '.join(keys)}")
    return value


def check_text(value: Any, path: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RecordError(path, "must be a non-empty string")
    if len(value) > max_length:
        raise RecordError(path, f"must be at most {max_length} characters")
    return value


def check_count(value: Any, path: str, maximum: int = INT_MAX) -> int:
    # bool is an int in Python; JSON's true/false are not counts.
    if type(value) is not int or value < 0:
        raise RecordError(path, "must be a non-negative integer")
    if value > maximum:
        raise RecordError(path, f"must be at most {maximum}")
    return value


def check_money(value: Any, path: str, max_digits: int) -> Decimal:
    """A decimal string, ≥ 0, at most two places, fitting ``max_digits`` (with two places)."""
    if type(value) is str and _PLAIN_MONEY_OF[max_digits](value):  # the common case, in one regex
        return Decimal(value)
    if not isinstance(value, str):
        raise RecordError(path, "must be a decimal string")
    if not _DECIMAL.fullmatch(value):
        raise RecordError(path, "not a decimal")
    amount = Decimal(value)
    if amount < 0:
        raise RecordError(path, "must be ≥ 0")
    point = value.find(".")
    if point >= 0 and len(value) - point - 1 > 2:
        raise RecordError(path, "at most two decimal places")
    if amount >= 10 ** (max_digits - 2):
        raise RecordError(path, f"too large (at most {max_digits - 2} digits before the point)")
    return amount.copy_abs()  # "-0.00" is zero, stored without its sign


def check_datetime(value: Any, path: str) -> datetime.datetime:
    if not isinstance(value, str):
        raise RecordError(path, "must be an ISO 8601 datetime string")
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(path, "not an ISO 8601 datetime") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RecordError(path, "must include a UTC offset")
    try:
        in_range = EARLIEST <= moment <= LATEST
    except OverflowError:  # year 1 or 9999 shifted by its offset falls off the calendar
        in_range = False
    if not in_range:
        raise RecordError(path, "must be between 2000-01-01 and 2100-12-31")
    return moment


def check_share(value: Any, path: str) -> float:
    if type(value) not in (int, float) or not 0 <= value <= 1:
        raise RecordError(path, "must be a share in [0, 1]")
    return value


def check_shares(value: Any, path: str, fields: dict[str, str], what: str) -> dict[str, Decimal]:
    check_exact_keys(value, path, fields, what)
    shares = {key: check_share(value[key], f"{path}.{key}") for key in fields}
    if abs(sum(shares.values()) - 1) > SHARE_TOLERANCE + FLOAT_SLACK:
        raise RecordError(path, "shares must sum to 1 (±0.01)")
    return {
        fields[key]: Decimal(repr(share)).quantize(_SHARE_QUANTUM, rounding=ROUND_HALF_EVEN)
        for key, share in shares.items()
    }


def check_places(value: Any, path: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise RecordError(path, "must be a JSON object")
    for name, share in value.items():
        if not name.strip():
            raise RecordError(path, "names must be non-empty")
        if type(share) not in (int, float) or not 0 <= share <= 1:
            check_share(share, field_path(path, name))  # raises; the path is built only then
    if sum(value.values()) > 1 + FLOAT_SLACK:
        raise RecordError(path, "shares must sum to at most 1")
    return dict(value)
