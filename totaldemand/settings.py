"""Where things live, from environment variables (documented in docs/cli.md)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "TOTALDEMAND_HOME"  # data directory: models, database (default ./var)
DATA_ENV = "TOTALDEMAND_DATA"  # dataset directory (default: the embedded SIPRI panel)
MODEL_ENV = "TOTALDEMAND_MODEL"  # posterior file to serve (default: $TOTALDEMAND_HOME/models/default.nc)


def home() -> Path:
    return Path(os.environ.get(HOME_ENV, "var"))


def dataset_path() -> Path:
    from evidence.loaders import default_dataset_path

    return Path(os.environ[DATA_ENV]) if os.environ.get(DATA_ENV) else default_dataset_path()


def model_path() -> Path:
    return Path(os.environ[MODEL_ENV]) if os.environ.get(MODEL_ENV) else home() / "models" / "default.nc"
