"""Checks of free-text input, shared by every domain."""

from __future__ import annotations

from sip_service.kit.errors import Invalid

MAX_TEXT = 4000


def text(value: str, field_name: str, *, max_len: int = MAX_TEXT, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise Invalid(f"{field_name} must not be empty", field=field_name)
    if len(value) > max_len:
        raise Invalid(f"{field_name} is longer than {max_len} characters", field=field_name)
    return value
