"""Fields of parsed YAML whose shape nothing has checked yet, and how a field's place is written.

The model and the analyzer take values as written: a field meant to hold a mapping may hold a
list, a string or nothing. `as_dict` and `as_list` read such a value as empty instead of failing,
so each reader decides what a wrong shape means; `dotted` names a field in messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Union

# Keys and list indexes from the document root, e.g. ("spec", "http", 0, "route").
FieldPath = tuple[Union[str, int], ...]


def as_dict(value: Any) -> dict:
    """value if it is a mapping, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    """value if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def dotted(path: Iterable[Union[str, int]]) -> str:
    """A field path as kubectl writes it: ('spec', 'http', 0, 'mirror') -> 'spec.http[0].mirror'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
