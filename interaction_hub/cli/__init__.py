"""The `ihub` command line: serve the API, run the workers, load data, rebuild the index."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # the commands import what they use only when they run
    from interaction_hub.settings import Settings

# Plain (click) help: typer's rich panels print every boolean flag as `--flag <bool>`, as if it took a
# value; plain help prints switches as `--flag` and `--flag / --no-flag`.
app = typer.Typer(
    help="Interaction Hub: TMF683 Party Interaction Management.\n\n"
    "The embedded store lives in a data directory (--data-dir, IHUB_DATA_DIR, ./data). Only serve and demo"
    " create one; the other commands need it to exist, and a dry run reads it while a server runs.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _add_sources_commands() -> None:
    from interaction_hub.cli.sources import sources_app

    app.add_typer(sources_app, name="sources")


_add_sources_commands()

Store = Annotated[str | None, typer.Option(help="embedded (SQLite) or search (Kafka + engine) [IHUB_STORE]")]
# Only serve and demo make a data directory; a command that finds none is given a wrong one.
DataDir = Annotated[
    Path | None, typer.Option(help="Embedded store directory, created if missing [IHUB_DATA_DIR, ./data]")
]
ExistingDataDir = Annotated[
    Path | None,
    typer.Option(
        help="Embedded store directory; it must exist (only serve and demo create one) [IHUB_DATA_DIR, ./data]"
    ),
]


def _settings(**flags: Any) -> Settings:
    from pydantic import ValidationError

    from interaction_hub.settings import Settings

    try:
        return Settings(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None


def _add_parties_commands() -> None:
    from interaction_hub.cli.parties import parties_app  # it takes the options above

    app.add_typer(parties_app, name="parties")


_add_parties_commands()


def _feeds(settings: Settings) -> list[str]:
    """The sources file's Kafka-fed topics (a problem in the file: one line each, exit 2)."""
    from ingest.sources import SourcesError, feed_topics, load

    if settings.sources_file is None:
        return []
    try:
        return feed_topics(load(settings.sources_file))
    except SourcesError as exc:
        for problem in exc.problems:
            typer.echo(f"ihub: {settings.sources_file}: {problem}", err=True)
        raise typer.Exit(2) from None


@app.callback()
def main() -> None:
    """Interaction Hub: TMF683 Party Interaction Management."""
    import logging

    from storage.search.engine import CLIENT_LOGGERS

    for name in CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)  # one INFO line per request


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind [IHUB_HOST, 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [IHUB_PORT, 8683]")] = None,
    data_dir: DataDir = None,
    store: Store = None,
    base_path: Annotated[str | None, typer.Option(help="TMF683 route prefix [IHUB_BASE_PATH]")] = None,
    access_log: Annotated[
        bool | None, typer.Option("--access-log/--no-access-log", help="[IHUB_ACCESS_LOG, off]")
    ] = None,
) -> None:
    """Serve the TMF683 API."""
    import signal
    import types

    import uvicorn

    from ingest.sources import SourcesError
    from interaction_hub import logs, tracing
    from interaction_hub.cli.embedded import check_free
    from interaction_hub.shutdown import arm_deadline
    from query_api.access import audit_to_stderr
    from query_api.app import create_app
    from query_api.auth import AuthConfigError, describe
    from query_api.connections import uvicorn_options

    settings = _settings(
        host=host, port=port, data_dir=data_dir, store=store, base_path=base_path, access_log=access_log
    )
    if settings.store == "embedded":
        check_free(settings.data_dir, "stop it first, or serve another directory with --data-dir")
    where = (
        settings.data_dir.resolve()
        if settings.store == "embedded"
        else f"{settings.search_url}, {settings.kafka_bootstrap}"
    )
    typer.echo(
        f"ihub: TMF683 on http://{settings.host}:{settings.port}{settings.base_path}/partyInteraction"
        f" (store: {settings.store}, {where}); pages at /ui/, docs at /docs"
    )
    logs.configure(settings.log_format)
    tracing.setup(settings, "ihub-api")
    audit_to_stderr()
    try:
        typer.echo(f"ihub: {describe(settings)}")
        application = create_app(settings)
    except AuthConfigError as exc:
        typer.echo(f"ihub: refusing to start: {exc}", err=True)
        raise typer.Exit(2) from None
    except SourcesError as exc:
        for problem in exc.problems:
            typer.echo(f"ihub: refusing to start: {settings.sources_file}: {problem}", err=True)
        raise typer.Exit(2) from None

    class Server(uvicorn.Server):
        """uvicorn's server, whose stop (SIGTERM, SIGINT) is bounded by IHUB_SHUTDOWN_TIMEOUT_S."""

        def handle_exit(self, sig: int, frame: types.FrameType | None) -> None:
            arm_deadline(settings.shutdown_timeout_s, f"ihub serve ({signal.Signals(sig).name})")
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        application,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        access_log=settings.access_log,
        **uvicorn_options(settings.header_timeout_s, settings.max_connections),
        log_level="info",
        log_config=None,  # logs.configure above: one format for every line
        # open requests get half the time to finish; the store's close has the rest
        timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout_s / 2)),
    )
    server = Server(config)
    server.run()
    if not server.started:
        raise typer.Exit(3)  # as uvicorn.run: the application did not start


@app.command()
def init() -> None:
    """Create the Kafka topics and the search indices (full mode); safe to run again."""
    from interaction_hub.provisioning import prepare

    settings = _settings()
    asyncio.run(prepare(settings, feeds=_feeds(settings)))
    typer.echo(
        f"ihub: topics on {settings.kafka_bootstrap} and index '{settings.index_alias}' on {settings.search_url} ready"
    )


@app.command()
def worker() -> None:
    """Run the stream workers (full mode): index channel events, dead-letter bad ones, notify."""
    from interaction_hub import logs, tracing
    from interaction_hub.provisioning import prepare_worker
    from stream_workers.app import create_worker, run_worker
    from stream_workers.operations import WorkerHttp

    settings = _settings()
    logs.configure(settings.log_format)
    tracing.setup(settings, "ihub-worker")
    status = WorkerHttp(settings)
    status.start()  # /health/live answers while the worker still waits for its services
    asyncio.run(prepare_worker(settings, _feeds(settings)))  # a worker waits for its services; it does not crash-loop
    run_worker(
        lambda: create_worker(settings, status=status.state),
        shutdown_timeout_s=settings.shutdown_timeout_s,
        status=status.state,
    )


@app.command()
def demo(
    events: Annotated[int, typer.Option(min=1, help="How many interactions to generate")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data")] = 1,
    parties: Annotated[int, typer.Option(min=1, help="How many customers they belong to")] = 2000,
    store: Store = None,
    data_dir: DataDir = None,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only into an empty embedded store")] = False,
) -> None:
    """Generate customer histories across all channels (into the store, or onto Kafka)."""
    from interaction_hub.cli.loading import demo as run_demo

    settings = _settings(store=store, data_dir=data_dir)
    made = asyncio.run(run_demo(settings, events, seed, parties, if_empty))
    if made is not None:
        typer.echo(f"ihub: demo: {made} interactions")


@app.command("ingest")
def ingest(
    source: Annotated[str, typer.Option(help="The source's name in the sources file")],
    files: Annotated[
        list[Path], typer.Argument(help="Files of the source's records (e.g. a Firehose export, an mbox)")
    ],
    sources_file: Annotated[Path | None, typer.Option(help="The sources file [IHUB_SOURCES_FILE]")] = None,
    media_type: Annotated[
        str | None, typer.Option(help="The files' media type (default: the format's first, e.g. application/json)")
    ] = None,
    store: Store = None,
    data_dir: ExistingDataDir = None,
) -> None:
    """Replay files of a source's records through its ingress path: into the embedded store, or
    onto the raw topic (full mode), as its webhook would."""
    from interaction_hub.cli.sources import ingest_files, load_source

    settings = _settings(sources_file=sources_file, store=store, data_dir=data_dir)
    count = ingest_files(settings, load_source(settings, source), files, media_type)
    done = "stored" if settings.store == "embedded" else "published"
    typer.echo(f"ihub: {count} record{'' if count == 1 else 's'} of {source} {done}")


@app.command("import")
def import_events(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Channel events, one JSON per line")],
) -> None:
    """Publish channel events from a JSON Lines file to Kafka (each is validated first)."""
    from interaction_hub.cli.loading import import_file

    rejected = asyncio.run(import_file(_settings(), file))
    if rejected:
        raise typer.Exit(1)


@app.command()
def reindex() -> None:
    """Rebuild the index from the Kafka log into a new index, then switch the alias (no downtime)."""
    from stream_workers.reindex import reindex as run_reindex

    typer.echo(asyncio.run(run_reindex(_settings())))


@app.command()
def retention(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would go: a count per month (reads a served store too)")
    ] = False,
    days: Annotated[
        int | None, typer.Option(min=1, help="Keep this many days [IHUB_RETENTION_DAYS; needed if that is unset]")
    ] = None,
    ids: Annotated[bool, typer.Option("--ids", help="Also print the ids, one per line")] = False,
    store: Store = None,
    data_dir: ExistingDataDir = None,
) -> None:
    """Purge now the interactions that ended more than the retention period ago (docs/privacy.md)."""
    from interaction_hub.cli.retention import retention as run_retention

    settings = _settings(store=store, data_dir=data_dir)
    kept = days or settings.retention_days
    if kept is None:
        raise typer.BadParameter("set IHUB_RETENTION_DAYS or give --days")
    asyncio.run(run_retention(settings, kept, dry_run=dry_run, show_ids=ids))
