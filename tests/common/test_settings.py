"""shopcommon.settings: settings dataclasses read from the environment, one parser for numbers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from shopcommon.settings import (
    Number,
    OneOf,
    SettingError,
    env_setting,
    environ_with,
    flag,
    read_settings,
    setting_variables,
)


@pytest.mark.parametrize(("parse", "raw", "value"), [
    (Number(whole=True, low=1), " 3 ", 3),
    (Number(whole=True), "-2", -2),
    (Number(low=0, high=1), "1", 1.0),
    (Number(low=0, high=1), "0", 0.0),
    (Number(low=0, low_open=True, high=30), "0.25", 0.25),
    (Number(), "1e3", 1000.0),
])
def test_numbers_within_bounds(parse, raw, value):
    assert parse(raw) == value and type(parse(raw)) is type(value)


@pytest.mark.parametrize(("parse", "raw", "reason"), [
    (Number(whole=True), "3_0", "not a whole number"),
    (Number(whole=True), "2.5", "not a whole number"),
    (Number(whole=True, low=1), "0", "must be at least 1"),
    (Number(whole=True, low=1, high=65535), "65536", "must be from 1 to 65535"),
    (Number(low=0, high=1_000_000), "-1", "must be from 0 to 1000000"),
    (Number(low=0, low_open=True, high=30, unit="seconds"), "0",
     "must be more than 0 and at most 30 seconds"),
    (Number(low=0, low_open=True, unit="seconds"), "soon", "not a number of seconds"),
    (Number(low=0, high=1, low_open=True, high_open=True), "1", "must be more than 0 and less than 1"),
    (Number(high=0.5), "0.75", "must be at most 0.5"),
    (Number(low=0, high=1), "nan", "must be from 0 to 1"),
    (Number(low=0), "nan", "must be at least 0"),
    (Number(low=0), "", "not a number"),
])
def test_numbers_refused_with_the_reason(parse, raw, reason):
    with pytest.raises(ValueError) as refused:
        parse(raw)
    assert str(refused.value) == reason


def test_words_and_flags():
    assert OneOf(("off", "sticky"))(" Sticky ") == "sticky"
    with pytest.raises(ValueError, match="^use debug, info or warning$"):
        OneOf(("debug", "info", "warning"))("loud")
    with pytest.raises(ValueError, match="^not one we know$"):
        OneOf(("a",), reason="not one we know")("b")
    assert [flag(word) for word in ("true", "TRUE", "1", "false", "0")] == [True, True, True, False, False]
    with pytest.raises(ValueError, match="use true or false"):
        flag("yes please")


@dataclass(frozen=True)
class Inner:
    port: int = env_setting("INNER_PORT", Number(whole=True, low=1, high=65535), 8000)


@dataclass(frozen=True)
class Outer:
    inner: Inner
    version: str = env_setting("APP_VERSION", default="1.0", fallback=("DD_VERSION",))
    url: str = env_setting("APP_DATABASE", OneOf(("sqlite://", "postgresql://")), "sqlite://", secret=True)
    low: float = env_setting("APP_LOW", Number(), 0.0)
    high: float = env_setting("APP_HIGH", Number(), 1.0)

    def __post_init__(self) -> None:
        if self.low >= self.high:
            raise ValueError("APP_LOW must stay below APP_HIGH")


def test_read_fills_fields_and_nested_settings_from_their_variables():
    assert read_settings(Outer, {}) == Outer(inner=Inner(8000))
    read = read_settings(Outer, {"INNER_PORT": "9000", "DD_VERSION": "2.0", "APP_HIGH": "5"})
    assert (read.inner.port, read.version, read.high) == (9000, "2.0", 5.0)
    # The first variable wins over its fallback; an empty one counts as unset.
    assert read_settings(Outer, {"APP_VERSION": "3.0", "DD_VERSION": "2.0"}).version == "3.0"
    assert read_settings(Outer, {"APP_VERSION": " ", "DD_VERSION": "2.0"}).version == "2.0"


def test_defaults_given_to_read_apply_only_while_the_variable_is_unset():
    assert read_settings(Outer, {}, version="9.9", inner=Inner(1)) == Outer(inner=Inner(1), version="9.9")
    assert read_settings(Outer, {"APP_VERSION": "3.0"}, version="9.9").version == "3.0"


@pytest.mark.parametrize(("environ", "line"), [
    ({"INNER_PORT": "http"}, "INNER_PORT='http': not a whole number"),
    ({"DD_VERSION": "2.0", "APP_LOW": "7"}, "APP_LOW must stay below APP_HIGH"),
    ({"APP_DATABASE": "mysql://root:hunter2@db"}, "APP_DATABASE: use sqlite:// or postgresql://"),
    ({"APP_LOW": "x" * 200}, "APP_LOW='" + "x" * 56 + "...: not a number"),
])
def test_a_bad_value_is_one_setting_error_line(environ, line):
    with pytest.raises(SettingError) as refused:
        read_settings(Outer, environ)
    assert str(refused.value) == line


def test_variables_are_listed_from_the_dataclass_and_overrides_laid_over_the_environment(monkeypatch):
    assert setting_variables(Outer) == ["INNER_PORT", "APP_VERSION", "DD_VERSION", "APP_DATABASE", "APP_LOW",
                                        "APP_HIGH"]
    monkeypatch.setenv("APP_LOW", "0.5")
    monkeypatch.setenv("APP_HIGH", "2")
    environ = environ_with({"APP_HIGH": 3, "TESTING": True, "APP_VERSION": None}, Outer)
    assert (environ["APP_LOW"], environ["APP_HIGH"]) == ("0.5", "3")
    assert "TESTING" not in environ and "APP_VERSION" not in environ
