"""The storefront's settings: one StorefrontSettings read from the environment; a bad value is
one line naming the variable (the line gunicorn.conf.py stops with, the error create_app raises)."""

from __future__ import annotations

import pytest
from shopcommon.settings import SettingError
from storefront.settings import AdsSettings, StorefrontSettings, load_settings


def test_defaults(tmp_path):
    settings = load_settings({}, str(tmp_path))
    assert settings.ads == AdsSettings("http://advertisements:5002", connect_timeout=0.5, read_timeout=1.5)
    assert (settings.secret_key, settings.session_cookie_secure, settings.version, settings.log_level) == (
        None, False, "1.0", "info")
    assert settings.experiment.database_url == f"sqlite:///{tmp_path / 'experiment.sqlite3'}"
    assert isinstance(settings, StorefrontSettings)


def test_values_from_the_environment(monkeypatch):
    for name, value in {"ADS_URL": "http://127.0.0.1:5002/", "ADS_READ_TIMEOUT": "2.5", "SECRET_KEY": " k ",
                        "SESSION_COOKIE_SECURE": "True", "DD_VERSION": "1.1", "LOG_LEVEL": "WARNING",
                        "AB_MODE": "sticky"}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.ads.url, settings.ads.connect_timeout, settings.ads.read_timeout) == (
        "http://127.0.0.1:5002", 0.5, 2.5)
    assert (settings.secret_key, settings.session_cookie_secure, settings.version, settings.log_level) == (
        "k", True, "1.1", "warning")
    assert settings.experiment.mode == "sticky"


@pytest.mark.parametrize(("environ", "line"), [
    ({"ADS_URL": "advertisements:5002"}, "ADS_URL='advertisements:5002': must look like http://host:port"),
    ({"ADS_URL": "ftp://ads"}, "ADS_URL='ftp://ads': must look like http://host:port"),
    ({"ADS_URL": "http://ads:99999"}, "ADS_URL='http://ads:99999': Port out of range 0-65535"),
    ({"ADS_URL": "http://ads?x=1"}, "ADS_URL='http://ads?x=1': must not carry a query or fragment"),
    ({"ADS_CONNECT_TIMEOUT": "soon"}, "ADS_CONNECT_TIMEOUT='soon': not a number of seconds"),
    ({"ADS_READ_TIMEOUT": "0"}, "ADS_READ_TIMEOUT='0': must be more than 0 and at most 30 seconds"),
    ({"ADS_READ_TIMEOUT": "-1"}, "ADS_READ_TIMEOUT='-1': must be more than 0 and at most 30 seconds"),
    ({"ADS_READ_TIMEOUT": "nan"}, "ADS_READ_TIMEOUT='nan': must be more than 0 and at most 30 seconds"),
    ({"ADS_READ_TIMEOUT": "600"}, "ADS_READ_TIMEOUT='600': must be more than 0 and at most 30 seconds"),
    ({"SESSION_COOKIE_SECURE": "yes"}, "SESSION_COOKIE_SECURE='yes': use true or false"),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud': use debug, info, warning, error or critical"),
    ({"AB_SHARE": "half"}, "AB_SHARE='half': not a number"),
    ({"AB_SHARE": "1.5"}, "AB_SHARE='1.5': must be from 0 to 1"),
    ({"AB_SHARE": "nan"}, "AB_SHARE='nan': must be from 0 to 1"),
    ({"AB_MODE": "always"}, "AB_MODE='always': use off (Istio weights) or sticky (per-customer assignment)"),
    ({"EXPERIMENT_MDE": "big"}, "EXPERIMENT_MDE='big': not a number"),
    ({"EXPERIMENT_BASELINE_CTR": "1.5"},
     "EXPERIMENT_BASELINE_CTR='1.5': must be more than 0 and less than 1"),
    ({"EXPERIMENT_BASELINE_CTR": "0.6", "EXPERIMENT_MDE": "0.5"},
     "EXPERIMENT_BASELINE_CTR + EXPERIMENT_MDE must stay below 1 (0.6 + 0.5)"),
    ({"EXPERIMENT_BUFFER": "0"}, "EXPERIMENT_BUFFER='0': must be from 1 to 1000000"),
    ({"EXPERIMENT_BUFFER": "2.5"}, "EXPERIMENT_BUFFER='2.5': not a whole number"),
    ({"EXPERIMENT_WRITE_INTERVAL": "soon"}, "EXPERIMENT_WRITE_INTERVAL='soon': not a number of seconds"),
    ({"DATABASE_URL": "redis://x"}, "DATABASE_URL: backend 'redis' unsupported (sqlite, postgresql)"),
    ({"DATABASE_URL": "not a url"}, "DATABASE_URL: not a database URL (sqlite:///path or postgresql://...)"),
])
def test_a_bad_value_is_one_line_naming_the_variable(environ, line):
    with pytest.raises(SettingError) as refused:
        load_settings(environ)
    assert str(refused.value) == line
