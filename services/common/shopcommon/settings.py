"""Settings read from environment variables, checked once when a service starts.

A service declares its settings as a frozen dataclass whose fields name their variable
(env_setting); read_settings() fills it from a mapping, the environment with a test's overrides
on top. A bad value is a SettingError whose message is one line, `NAME='value': reason`, never a
traceback. Number is the one parser of numbers, for variables and command-line arguments alike.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, Callable, Optional, TypeVar, Union, get_type_hints

T = TypeVar("T")
_VARIABLE = "shopcommon.variable"  # the key of a field's metadata
_WHOLE = re.compile(r"[+-]?[0-9]+")
_SHOWN_LENGTH = 60  # a value quoted in a message is cut to this many characters


class SettingError(ValueError):
    """A setting the service cannot run with; the message names the variable and the reason."""


@dataclass(frozen=True)
class Number:
    """Text to a number within bounds; raises ValueError with the reason (no value, no name).

    Number(whole=True, low=1)("3") == 3; Number(low=0, low_open=True, unit="seconds")("0")
    raises "must be more than 0 seconds". NaN is never within bounds.
    """

    whole: bool = False
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    unit: str = ""

    def __call__(self, raw: str) -> Union[int, float]:
        text = raw.strip()
        value: Union[int, float]
        if self.whole:
            # int() would take '3_0' and other spellings no one means.
            if not _WHOLE.fullmatch(text):
                raise ValueError("not a whole number")
            value = int(text)
        else:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"not a number{' of ' + self.unit if self.unit else ''}") from None
        if not self._within(value):
            raise ValueError(f"must be {self.bounds()}{' ' + self.unit if self.unit else ''}")
        return value

    def _within(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def bounds(self) -> str:
        """The allowed range in words, such as "from 1 to 99" or "more than 0 and at most 30"."""
        if self.low is not None and self.high is not None and not (self.low_open or self.high_open):
            return f"from {_written(self.low)} to {_written(self.high)}"
        parts = []
        if self.low is not None:
            parts.append(f"{'more than' if self.low_open else 'at least'} {_written(self.low)}")
        if self.high is not None:
            parts.append(f"{'less than' if self.high_open else 'at most'} {_written(self.high)}")
        return " and ".join(parts) or "a number"


@dataclass(frozen=True)
class OneOf:
    """Text to one of a few words (compared in lower case); ValueError with reason otherwise."""

    choices: tuple[str, ...]
    reason: str = ""  # default: "use a, b or c"

    def __call__(self, raw: str) -> str:
        value = raw.strip().lower()
        if value not in self.choices:
            raise ValueError(self.reason or f"use {_listed(self.choices)}")
        return value


def flag(raw: str) -> bool:
    """true/1 or false/0, as the DD_* variables read them; anything else is refused."""
    value = raw.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ValueError("use true or false")


def text(raw: str) -> str:
    return raw.strip()


@dataclass(frozen=True)
class Variable:
    """Where a setting comes from: the first of names set (an empty value counts as unset)."""

    names: tuple[str, ...]
    parse: Callable[[str], Any]
    secret: bool  # its value never appears in a message

    def read(self, environ: Mapping[str, str]) -> tuple[Optional[str], Any]:
        """(the variable that was set, its parsed value), or (None, None) when none is set."""
        for name in self.names:
            raw = environ.get(name, "")
            if raw.strip():
                try:
                    return name, self.parse(raw)
                except ValueError as error:
                    shown = "" if self.secret else f"={_shown(raw)}"
                    raise SettingError(f"{name}{shown}: {error}") from None
        return None, None


def env_setting(
    name: str,
    parse: Callable[[str], Any] = text,
    default: Any = None,
    *,
    fallback: tuple[str, ...] = (),
    secret: bool = False,
) -> Any:
    """A dataclass field read from variable name (else the first of fallback that is set) by parse.

    parse takes the text and raises ValueError with the reason for a bad one. secret keeps the
    value out of messages (a password inside DATABASE_URL).
    """
    variable = Variable(names=(name, *fallback), parse=parse, secret=secret)
    return field(default=default, metadata={_VARIABLE: variable})


def read_settings(cls: type[T], environ: Optional[Mapping[str, str]] = None, **defaults: Any) -> T:
    """cls filled from environ (the environment by default); SettingError for a bad value.

    Each field comes from its variable; a nested settings dataclass is read the same way unless
    defaults gives it. defaults replace the declared defaults of fields whose variable is unset.
    """
    environ = os.environ if environ is None else environ
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in fields(cls):  # type: ignore[arg-type]
        variable = item.metadata.get(_VARIABLE)
        if variable is not None:
            found, value = variable.read(environ)
            if found is not None:
                values[item.name] = value
            elif item.name in defaults:
                values[item.name] = defaults[item.name]
        elif item.name in defaults:
            values[item.name] = defaults[item.name]
        elif is_dataclass(hints[item.name]) and item.default is MISSING:
            values[item.name] = read_settings(hints[item.name], environ)
    try:
        return cls(**values)
    except ValueError as error:  # a check across fields, in __post_init__
        raise SettingError(str(error)) from None


def setting_variables(cls: type) -> list[str]:
    """Every variable cls reads, nested settings included, in field order."""
    hints = get_type_hints(cls)
    names: list[str] = []
    for item in fields(cls):
        variable = item.metadata.get(_VARIABLE)
        if variable is not None:
            names.extend(variable.names)
        elif is_dataclass(hints[item.name]):
            names.extend(setting_variables(hints[item.name]))
    return names


def environ_with(overrides: Optional[Mapping[str, Any]], cls: type) -> dict[str, str]:
    """The environment with the entries of overrides that name a variable of cls on top.

    For an app factory's config argument: a test sets ADS_URL or DATABASE_URL there, not in
    the process environment. None values are left out.
    """
    names = set(setting_variables(cls))
    given = {key: str(value) for key, value in (overrides or {}).items()
             if key in names and value is not None}
    return {**os.environ, **given}


def _written(bound: float) -> str:
    """1000000 rather than 1e+06, 0.5 rather than 0.500000."""
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _listed(words: tuple[str, ...]) -> str:
    *first, last = words
    return f"{', '.join(first)} or {last}" if first else last


def _shown(raw: str) -> str:
    shown = repr(raw)
    return shown if len(shown) <= _SHOWN_LENGTH else shown[: _SHOWN_LENGTH - 3] + "..."
