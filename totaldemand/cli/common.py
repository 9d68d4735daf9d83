"""What every command group shares: the consoles, logging, the settings, the service's database, and
the one place a user's error becomes a message and exit code 2."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from totaldemand.errors import UserError
from totaldemand.settings import Settings, load_settings

console = Console(stderr=True)
# Tables piped to a file or another program keep every column whole (rich would assume 80 columns).
out = Console(width=None if sys.stdout.isatty() else 200)
log = logging.getLogger("totaldemand")

DataOpt = Annotated[
    Path | None, typer.Option("--data", help="Dataset directory (default: embedded SIPRI panel).")
]


def configure_logging(level: int) -> None:
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("jax", "pytensor", "arviz", "matplotlib", "h5py"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fail(message: str, code: int = 2) -> NoReturn:
    """``error: <message>`` on stderr, and exit with ``code`` (2: the user's input or settings)."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


def user_errors(fn: Callable) -> Callable:
    """A command whose :class:`~totaldemand.errors.UserError` (or missing file) ends in its message and
    exit code 2, never a traceback."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (UserError, FileNotFoundError) as exc:
            fail(str(exc))

    return wrapper


def posterior_file(model_path: Path | None) -> Path:
    """``--model``, or the configured model file; an error naming the option where there is no file."""
    path = model_path or load_settings().model_path
    if not path.is_file():
        raise FileNotFoundError(f"--model: no posterior file at {path}; run `totaldemand fit` first")
    return path


def open_services(config: Settings, model_path: Path | None = None):  # -> service.state.Services
    """The service's database migrated and seeded (and ``model_path`` registered and activated), or a
    message and exit code 2 naming the setting at fault."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.state import build_services

    try:
        return build_services(config, model_path)
    except SQLAlchemyError as exc:
        fail(f"database {config.db_url}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    except OSError as exc:
        fail(f"TOTALDEMAND_HOME={config.home}: {exc}")
    except RuntimeError as exc:  # a model that failed its gates
        fail(str(exc))
