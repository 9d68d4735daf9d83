"""Settings, the one object the command line and the service read: defaults, overridden by a TOML
config file, overridden by environment variables.

Every setting has an environment variable ``TOTALDEMAND_<NAME>`` (upper case) and a key of the same
name (lower case) in the ``[service]`` table of the file named by ``TOTALDEMAND_CONFIG``. docs/cli.md
lists them; :data:`FIELDS` is the one place they are defined.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from totaldemand.errors import UserError

CONFIG_ENV = "TOTALDEMAND_CONFIG"


class ConfigError(UserError):
    """A setting that cannot be used; the message names the setting, its source and the reason."""


@dataclass(frozen=True)
class Settings:
    home: Path = Path("var")  # data directory: database, models, job logs, dataset snapshots
    database_url: str = ""  # default: sqlite:///<home>/totaldemand.db
    data: Path | None = None  # seed dataset for an empty database (default: the embedded SIPRI panel)
    model: Path | None = None  # posterior the CLI reads and `up` fits (default: <home>/models/default.nc)
    max_body_bytes: int = 20_000_000  # request size limit (uploads included)
    max_rows: int = 500_000  # rows per upload
    fit_workers: int = 1  # fit jobs that run at once (each in its own process)
    fit_nice: int = 19  # niceness of fit worker processes: a fit takes the CPU that serving leaves
    # and, on Linux, the idle scheduling class: even niceness 19 keeps ~1.5% of a busy core and delays the
    # server's wake-ups; an idle-class fit runs only where the server does not want the CPU
    fit_idle: bool = True
    reload_seconds: float = 2.0  # how often a worker checks the registry for a newly activated model
    log_format: str = "text"  # "text" or "json"
    log_level: str = "INFO"
    # One log line per request costs a cached answer ~15% more CPU; the request counts and latencies are
    # in /metrics either way (gunicorn leaves its access log off by default for the same reason).
    access_log: bool = False

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'totaldemand.db').resolve()}"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def model_path(self) -> Path:
        return self.model or self.models_dir / "default.nc"

    def seed_dataset(self) -> Path:
        from evidence.loaders import default_dataset_path

        return self.data or default_dataset_path()


FIELDS = {f.name: f for f in fields(Settings)}


def _coerce(name: str, value: Any, source: str) -> Any:
    default = getattr(Settings(), name)
    try:
        if name in ("home", "data", "model"):
            return Path(value)
        if isinstance(default, bool):
            return str(value).lower() in ("1", "true", "yes")
        if isinstance(default, int):
            number = int(value)
            if number < 0:
                raise ValueError("must not be negative")
            return number
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: setting {name!r} = {value!r}: {exc}") from None


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the config file and the environment; keyword overrides win over both."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
        try:
            table = tomllib.loads(path.read_text()).get("service", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{CONFIG_ENV}={path}: cannot read config file: {exc}") from None
        for key, value in table.items():
            if key not in FIELDS:
                raise ConfigError(f"{path}: unknown setting {key!r} (known: {sorted(FIELDS)})")
            values[key] = _coerce(key, value, str(path))
    for name in FIELDS:
        var = f"TOTALDEMAND_{name.upper()}"
        if env.get(var):
            values[name] = _coerce(name, env[var], var)
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = replace(Settings(), **values)
    if settings.log_format not in ("text", "json"):
        raise ConfigError(f"setting 'log_format' = {settings.log_format!r}: must be 'text' or 'json'")
    if settings.fit_workers < 1:
        raise ConfigError("setting 'fit_workers' must be at least 1")
    return settings
