"""Which version the service is, and refusing to start as anything else."""

from __future__ import annotations

import pytest
from ads import create_app
from ads.settings import AdsServiceSettings
from shopcommon.settings import SettingError, read_settings


def test_version_comes_from_ads_version(monkeypatch):
    monkeypatch.setenv("ADS_VERSION", "2.0")
    monkeypatch.setenv("DD_VERSION", "1.0")
    assert create_app().config["ADS_VERSION"] == "2.0"


def test_version_falls_back_to_dd_version(monkeypatch):
    monkeypatch.setenv("DD_VERSION", "2.0")
    assert create_app().config["ADS_VERSION"] == "2.0"


def test_empty_ads_version_counts_as_unset(monkeypatch):
    monkeypatch.setenv("ADS_VERSION", "")
    monkeypatch.setenv("DD_VERSION", "2.0")
    assert read_settings(AdsServiceSettings).version == "2.0"


def test_version_defaults_to_1_0():
    assert read_settings(AdsServiceSettings).version == "1.0"
    assert create_app().config["ADS_VERSION"] == "1.0"


@pytest.mark.parametrize("variable", ["ADS_VERSION", "DD_VERSION"])
@pytest.mark.parametrize("value", ["3.0", "2", "v2", "1.0.1", "2.0; rm -rf /"])
def test_unsupported_version_refuses_to_start(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingError) as raised:
        create_app()
    message = str(raised.value)
    assert "\n" not in message
    assert variable in message and repr(value) in message
    assert "1.0" in message and "2.0" in message


def test_unsupported_version_in_config_refuses_to_start():
    with pytest.raises(SettingError, match="ADS_VERSION='9.9'"):
        create_app({"ADS_VERSION": "9.9"})


def test_version_in_config_wins_over_a_bad_environment(monkeypatch):
    monkeypatch.setenv("ADS_VERSION", "garbage")
    assert create_app({"ADS_VERSION": "2.0"}).config["ADS_VERSION"] == "2.0"
