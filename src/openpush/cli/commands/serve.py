"""``openpush serve`` (API and pipeline) and ``openpush worker`` (pipeline only)."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import click

from openpush.settings import load_settings

__all__ = ["serve", "worker"]


def _data_dir_option(fn: Any) -> Any:
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Directory holding all state [env OPENPUSH_DATA_DIR; default ./openpush-data].",
    )(fn)


@click.command()
@click.option("--host", default=None, help="Bind address [env OPENPUSH_HOST; default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env OPENPUSH_PORT; default 8000].")
@_data_dir_option
@click.option(
    "--bootstrap-org",
    default=None,
    help="Create this organization if missing [env OPENPUSH_BOOTSTRAP_ORG].",
)
@click.option(
    "--bootstrap-api-key",
    default=None,
    help="Admin API key for the bootstrap organization [env OPENPUSH_BOOTSTRAP_API_KEY].",
)
@click.option("--no-worker", is_flag=True, help="Serve the API only; run `openpush worker` apart.")
@click.option("--log-level", default=None, help="Server log level [default info].")
def serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    bootstrap_org: str | None,
    bootstrap_api_key: str | None,
    no_worker: bool,
    log_level: str | None,
) -> None:
    """Run the HTTP API and the indexing pipeline in one process."""
    import uvicorn

    from openpush.api.app import create_app
    from openpush.runtime import Runtime

    settings = load_settings(
        {
            "host": host,
            "port": port,
            "data_dir": data_dir,
            "bootstrap_org": bootstrap_org,
            "bootstrap_api_key": bootstrap_api_key,
            "log_level": log_level,
            "worker": False if no_worker else None,
        }
    )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    runtime = Runtime.open(settings)
    app = create_app(runtime, close_runtime=True)
    tune_gc()
    click.echo(
        f"openpush listening on http://{settings.host}:{settings.port} "
        f"(data in {settings.data_dir.resolve()})"
    )
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False
    )


def tune_gc() -> None:
    """Garbage-collector settings for a long-running server process.

    The pipeline allocates dozens of short-lived containers per item; with the default
    threshold (700) the collector runs every few items and, every so often, walks the whole
    heap. Objects alive after start-up (modules, the app) are frozen out of collections, and
    young collections run every 20,000 allocations: about 15% more batch throughput. Memory
    is freed by reference counting as before; only cyclic garbage waits a little longer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


@click.command()
@_data_dir_option
@click.option("--log-level", default=None, help="Log level [default info].")
def worker(data_dir: Path | None, log_level: str | None) -> None:
    """Run the indexing pipeline only (the API runs with `serve --no-worker`)."""
    from openpush.runtime import Runtime

    settings = load_settings({"data_dir": data_dir, "log_level": log_level})
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    runtime = Runtime.open(settings, worker=True)
    tune_gc()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    click.echo(f"openpush worker running (data in {settings.data_dir.resolve()})")
    stop.wait()
    runtime.close()
