"""The ``totaldemand`` command line: data, simulate, fit, forecast, backtest, serve, up.

One module per command group; this one assembles them. Bad input exits with code 2 and a message naming
the file, row, field or value (:func:`totaldemand.cli.common.user_errors`); never a traceback.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from totaldemand.cli import answers, data, keys, models, priors, serving, text, validation
from totaldemand.cli.common import configure_logging

app = typer.Typer(help="Bayesian forecasts of partner procurement demand (LORs).", no_args_is_help=True)
app.add_typer(data.data_app, name="data")
app.add_typer(priors.priors_app, name="priors")
app.add_typer(keys.keys_app, name="keys")
for group in (text, models, answers, validation, serving):
    app.registered_commands.extend(group.commands.registered_commands)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    configure_logging(logging.DEBUG if verbose else logging.INFO)


__all__ = ["app"]
