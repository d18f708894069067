"""The experiment's settings: read once into ExperimentSettings, bad values refused in one line."""

from __future__ import annotations

import pytest
from shopcommon.settings import SettingError
from storefront.experiment.settings import ExperimentSettings, load_settings


def test_defaults(tmp_path):
    config = load_settings({}, str(tmp_path))
    assert config == ExperimentSettings(
        database_url=f"sqlite:///{tmp_path / 'experiment.sqlite3'}", mode="off", share=0.5,
        baseline=0.03, mde=0.03, buffer=10_000, write_interval=0.5,
    )
    assert (config.weights, config.srm_unit) == ({"1.0": 0.5, "2.0": 0.5}, "impressions")


def test_values_from_the_environment(tmp_path):
    config = load_settings({"AB_SHARE": " 0.3 ", "EXPERIMENT_MDE": "0.02", "AB_MODE": "Sticky",
                            "EXPERIMENT_BUFFER": "50", "EXPERIMENT_WRITE_INTERVAL": "2"}, str(tmp_path))
    assert config.weights == pytest.approx({"1.0": 0.7, "2.0": 0.3})
    assert (config.baseline, config.mde, config.buffer, config.write_interval) == (0.03, 0.02, 50, 2.0)
    assert (config.mode, config.srm_unit) == ("sticky", "customers")


@pytest.mark.parametrize(("given", "expected"), [
    ("postgres://u:p@db:5432/shop", "postgresql+psycopg://u:p@db:5432/shop"),
    ("postgresql://db/shop", "postgresql+psycopg://db/shop"),
    ("sqlite:////data/e.sqlite3", "sqlite:////data/e.sqlite3"),
])
def test_database_url_gets_the_driver_the_image_ships(given, expected):
    assert load_settings({"DATABASE_URL": given}).database_url == expected


def test_a_refused_database_url_never_shows_its_password():
    with pytest.raises(SettingError) as refused:
        load_settings({"DATABASE_URL": "mysql://shop:hunter2@db/shop"})
    assert "hunter2" not in str(refused.value) and "DATABASE_URL" in str(refused.value)
