"""``openpush serve`` (API and pipeline) and ``openpush worker`` (pipeline only).

Both stop gracefully on SIGTERM or SIGINT and then exit 0:

1. ``serve`` stops accepting connections at once (the listening socket closes) and lets the
   requests in flight finish, for at most ``GRACEFUL_HTTP_SECONDS``;
2. the indexing worker finishes the round or the batch chunk it is applying, commits it and
   gives the rest back to the queue (a batch resumes at its next chunk on the next start);
   a worker that has not reached such a boundary after 30 s is abandoned, and what it had
   not committed is redone at the next start, as after a crash;
3. the index and the state store are closed.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click

from openpush.cli.commands._options import blobs_option, data_dir_option, database_option
from openpush.settings import Settings, load_settings

__all__ = ["serve", "worker"]

#: How long requests in flight may take to finish once a stop signal arrived.
GRACEFUL_HTTP_SECONDS = 30
# How long an idle keep-alive connection stays open. Connectors reuse one connection for a
# whole run; uvicorn's 5 s default closes it between two pushes a few seconds apart, and a
# request sent as the server closes fails on the client with "connection reset". Longer
# than the 60 s idle timeout of common load balancers, so they close first.
KEEP_ALIVE_SECONDS = 75
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@click.command()
@click.option("--host", default=None, help="Bind address [env OPENPUSH_HOST; default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env OPENPUSH_PORT; default 8000].")
@data_dir_option
@database_option
@blobs_option
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
    database: str | None,
    blobs: str | None,
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
            "database": database,
            "blobs": blobs,
            "bootstrap_org": bootstrap_org,
            "bootstrap_api_key": bootstrap_api_key,
            "log_level": log_level,
            "worker": False if no_worker else None,
        }
    )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = _StopSignals()
    runtime = Runtime.open(settings)
    app = create_app(runtime, close_runtime=True)
    tune_gc()
    if stop.event.is_set():  # a stop signal arrived while opening
        runtime.close()
        return
    click.echo(f"openpush listening on http://{settings.host}:{settings.port} ({where(settings)})")
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_HTTP_SECONDS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    # uvicorn handles the signals while it runs (stop accepting, drain, lifespan shutdown,
    # which closes the runtime and so stops the worker) and then re-raises the signal it
    # caught: it reaches the handler installed above, so the process exits 0, not -SIGTERM.
    stop.server = uvicorn.Server(config)
    stop.server.run()
    click.echo("openpush stopped")


class _StopSignals:
    """Records SIGTERM/SIGINT instead of dying; uvicorn installs its own while it serves.

    A signal that arrives after the server object exists but before uvicorn took the
    signals over still stops it (``should_exit``), right after its start-up.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self.server: Any = None
        for sig in _STOP_SIGNALS:
            signal.signal(sig, self)

    def __call__(self, *_: Any) -> None:
        self.event.set()
        if self.server is not None:
            self.server.should_exit = True


def where(settings: Settings) -> str:
    """Where this process keeps its state, for the start-up line; no password is shown."""
    if not settings.database:
        return f"data in {settings.data_dir.resolve()}"
    parts = urlsplit(settings.database)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username}:***@{host}")
    return f"state in {urlunsplit(parts)}"


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
@data_dir_option
@database_option
@blobs_option
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve GET /metrics and /health on this port [default: none].",
)
@click.option(
    "--metrics-host", default="127.0.0.1", show_default=True, help="Bind address of --metrics-port."
)
@click.option("--log-level", default=None, help="Log level [default info].")
def worker(
    data_dir: Path | None,
    database: str | None,
    blobs: str | None,
    metrics_port: int | None,
    metrics_host: str,
    log_level: str | None,
) -> None:
    """Run the indexing pipeline only (the API runs with `serve --no-worker`)."""
    from openpush import metrics
    from openpush.runtime import Runtime

    settings = load_settings(
        {"data_dir": data_dir, "database": database, "blobs": blobs, "log_level": log_level}
    )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = _StopSignals()
    runtime = Runtime.open(settings, worker=True)
    tune_gc()
    exporter = None
    if metrics_port is not None:
        worker_ = runtime.worker
        assert worker_ is not None

        def exposition() -> bytes:
            return metrics.render(metrics.read_queue_depth(runtime.store.queue), worker_.running)

        exporter = metrics.serve_metrics(
            metrics_host, metrics_port, exposition, lambda: worker_.running
        )
        host, port = exporter.server_address[:2]
        click.echo(f"openpush worker metrics on http://{host}:{port}/metrics")
    click.echo(f"openpush worker running ({where(settings)})")
    stop.event.wait()
    if exporter is not None:
        exporter.shutdown()
    runtime.close()
    click.echo("openpush worker stopped")
