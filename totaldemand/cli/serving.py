"""`totaldemand serve` and `totaldemand up`: the HTTP API, and the default model end to end."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from totaldemand.cli.common import configure_logging, fail, open_services, out, user_errors
from totaldemand.settings import load_settings

commands = typer.Typer()  # merged into the top-level app (totaldemand.cli)


def _check_listen(host: str, port: int) -> None:
    """Fail now, with a message, where uvicorn would fail later with a traceback."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as exc:
        fail(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})")


@commands.command()
@user_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    model_path: Annotated[
        Path | None, typer.Option("--model", help="Register this posterior file and serve it.")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Uvicorn worker processes; each loads the active model's draws.")
    ] = 1,
) -> None:
    """Serve the HTTP API (Litestar under uvicorn) on the database in $TOTALDEMAND_HOME.

    Settings come from TOTALDEMAND_* environment variables and the file in $TOTALDEMAND_CONFIG
    (docs/cli.md). SIGTERM or Ctrl-C shuts down gracefully: requests in flight finish, fit workers stop
    and their jobs are marked failed. Bad arguments or settings (a model file that is not a posterior,
    a database that cannot be opened, a port in use) end with a message and exit code 2."""
    import uvicorn

    from bayes.model import DemandModel

    config = load_settings()
    if model_path is not None:
        status = DemandModel.load(model_path).status  # every draw readable, before any worker starts
        if status != "ok":
            fail(f"{model_path} has status {status!r}; a failed fit is never served")
    _check_listen(host, port)
    open_services(config, model_path).engine.dispose()  # migrated, seeded, the model registered and active
    from service.logs import log_config

    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config(config.log_format, config.log_level.upper()),
        access_log=config.access_log,
        timeout_graceful_shutdown=30,
    )


def default_model_report(data: Path, path: Path, log_level: int) -> list[str]:
    """The default model at ``path`` made current (fitted where none valid is stored), and its
    diagnostics' lines; run in a child process by :func:`up`."""
    from bayes.fitting import ensure_default_model

    configure_logging(log_level)
    return ensure_default_model(data, path).diagnostics.lines()


@commands.command()
@user_errors
def up(host: str = "127.0.0.1", port: int = 8000) -> None:
    """The embedded default end to end: database seeded, the default model fitted if no valid one is
    stored, an admin key on first start (printed once), then serve."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from service import registry
    from service.auth import create_key, has_keys

    config = load_settings()
    _check_listen(host, port)
    services = open_services(config)
    # The fit runs in a child process: its memory (several GB on the real panel) goes back to the system
    # when it ends, rather than staying in the server's heap for as long as it serves.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        try:
            level = logging.getLogger().level
            report = pool.submit(default_model_report, config.seed_dataset(), config.model_path, level)
            lines = report.result()
        except RuntimeError as exc:  # the default fit failed its gates: say so, serve nothing
            fail(str(exc), code=1)
    record = registry.register_file(services.engine, config.model_path)
    if registry.active_id(services.engine) is None:
        registry.activate(services.engine, record.id)
    for line in lines:
        out.print(line)
    token = None
    if not has_keys(services.engine):
        token = create_key(services.engine, "admin (created by `totaldemand up`)", "admin").token
    out.print(
        f"\nServing on http://{host}:{port}  (planner page: http://{host}:{port}/planner;"
        f" OpenAPI: http://{host}:{port}/schema).",
        highlight=False,
    )
    if token:
        out.print(
            f"\nAdmin API key (shown once; create more with POST /v1/keys or `totaldemand keys create`):\n"
            f"  {token}\n",
            highlight=False,
            soft_wrap=True,
        )
    out.print(
        "Try:\n"
        f"  curl -s -X POST http://{host}:{port}/v1/forecasts -H 'content-type: application/json' \\\n"
        "       -H 'authorization: Bearer <key>' \\\n"
        '       -d \'{"horizon": 2, "levels": [0.8], "partners": ["japan"], "families": ["sam"]}\'\n',
        soft_wrap=True,
        highlight=False,
    )
    serve(host=host, port=port, model_path=None, workers=1)
