"""Settings: defaults < config file < environment; a bad setting is refused with its name and source."""

from __future__ import annotations

from pathlib import Path

import pytest

from totaldemand.settings import CONFIG_ENV, ConfigError, load_settings


def test_file_then_environment_override_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "totaldemand.toml"
    config.write_text('[service]\nhome = "/srv/td"\nfit_workers = 2\nlog_format = "json"\n')
    settings = load_settings({CONFIG_ENV: str(config), "TOTALDEMAND_FIT_WORKERS": "3"})
    assert settings.home == Path("/srv/td") and settings.fit_workers == 3 and settings.log_format == "json"
    assert settings.db_url == "sqlite:////srv/td/totaldemand.db"
    assert load_settings({}).home == Path("var")
    url = "postgresql+psycopg://u@db/td"
    assert load_settings({"TOTALDEMAND_DATABASE_URL": url}).db_url == url


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ("[service]\ncolour = 1\n", {}, "unknown setting 'colour'"),
        ("[service]\nfit_workers = 'many'\n", {}, "fit_workers"),
        ("[service\n", {}, "cannot read config file"),
        ("", {"TOTALDEMAND_MAX_BODY_BYTES": "-5"}, "TOTALDEMAND_MAX_BODY_BYTES"),
        ("", {"TOTALDEMAND_LOG_FORMAT": "xml"}, "log_format"),
        ("", {"TOTALDEMAND_FIT_WORKERS": "0"}, "fit_workers"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, text: str, env: dict, needle: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_settings({CONFIG_ENV: str(config), **env})
