"""How Django REST framework reads request fields: its messages and its coercions."""

from __future__ import annotations

import re
from typing import Any

from .errors import ApiError

REQUIRED = "This field is required."
NULL = "This field may not be null."
BLANK = "This field may not be blank."
NOT_STRING = "Not a valid string."
NOT_BOOLEAN = "Must be a valid boolean."
NOT_INTEGER = "A valid integer is required."
NO_OBJECT = "Object does not exist"
MAX_LENGTH = "Ensure this field has no more than {} characters."
# The validators DRF puts on every CharField (name, description_short, label names).
# templates and default_route are DictFields, whose contents DRF does not check: the
# real server stores a NUL there, and so does the emulator.
NUL_CHARACTERS = "Null characters are not allowed."
SURROGATES = "Surrogate characters are not allowed: U+{:X}."

# BooleanField's values (1 and 0 are True and False in a set).
_TRUE = {True, "1", "t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On"}
_FALSE = {False, "0", "f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off"}
# IntegerField drops a decimal point followed by zeros ("5.0" is 5).
_DECIMAL = re.compile(r"\.0*\s*$")
# IntegerField refuses longer strings outright.
_MAX_INTEGER_STRING = 1000


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


# An absent (or refused) field.
MISSING: Any = _Missing()


def not_a_dict(value: Any) -> dict[str, Any]:
    """A nested serializer's answer to a value that is not an object."""
    return {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind(value)}."]}


def kind(value: Any) -> str:
    return type(value).__name__


def expect_object(body: Any) -> dict[str, Any]:
    """The request body as a serializer takes it: an object, or the 400 it answers."""
    if body is None:
        raise ApiError(400, {"non_field_errors": ["No data provided"]})
    if not isinstance(body, dict):
        raise ApiError(400, not_a_dict(body))
    return body


def as_bool(value: Any) -> bool | None:
    """BooleanField's reading of `value`, or None when it is not a boolean."""
    try:
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    except TypeError:  # unhashable
        pass
    return None


def as_int(value: Any) -> int | None:
    """IntegerField's reading of `value`, or None when it is not an integer."""
    if isinstance(value, bool):
        return None  # str(True) is "True"
    if isinstance(value, str) and len(value) > _MAX_INTEGER_STRING:
        return None
    try:
        return int(_DECIMAL.sub("", str(value)))
    except ValueError:
        return None


def char_field_errors(value: str, max_length: int | None = None) -> list[str]:
    """What a CharField's validators say, in their order (all of them, as DRF does)."""
    messages = []
    if max_length is not None and len(value) > max_length:
        messages.append(MAX_LENGTH.format(max_length))
    if "\x00" in value:
        messages.append(NUL_CHARACTERS)
    surrogate = next((c for c in value if "\ud800" <= c <= "\udfff"), None)
    if surrogate is not None:
        messages.append(SURROGATES.format(ord(surrogate)))
    return messages


def char_field(
    value: Any, *, allow_null: bool, allow_blank: bool, max_length: int | None = None
) -> tuple[Any, list[str] | None]:
    """A CharField's reading of a present value: (value, None), or (MISSING, its errors).

    Numbers become strings, surrounding whitespace is trimmed.
    """
    if value is None:
        return (None, None) if allow_null else (MISSING, [NULL])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return MISSING, [NOT_STRING]
    value = value.strip()
    if not value and not allow_blank:
        return MISSING, [BLANK]
    messages = char_field_errors(value, max_length)
    return (MISSING, messages) if messages else (value, None)
