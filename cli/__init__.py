"""The `ihub` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Interaction Hub: TMF683 Party Interaction Management.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Interaction Hub: TMF683 Party Interaction Management."""


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Interface to bind [IHUB_HOST, 127.0.0.1]")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port [IHUB_PORT, 8683]")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="Embedded store directory [IHUB_DATA_DIR, ./data]")] = None,
    base_path: Annotated[Optional[str], typer.Option(help="TMF683 route prefix [IHUB_BASE_PATH]")] = None,
    access_log: Annotated[Optional[bool], typer.Option("--access-log/--no-access-log", help="[IHUB_ACCESS_LOG, off]")] = None,
) -> None:
    """Serve the TMF683 API (embedded store)."""
    import uvicorn
    from pydantic import ValidationError

    from query_api.app import create_app
    from settings import Settings
    from storage.sqlite.store import StoreLocked

    flags = {"host": host, "port": port, "data_dir": data_dir, "base_path": base_path, "access_log": access_log}
    try:
        settings = Settings(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(
        f"ihub: TMF683 on http://{settings.host}:{settings.port}{settings.base_path}/partyInteraction"
        f" (store: {settings.store}, data: {settings.data_dir.resolve()}); docs at /docs"
    )
    try:
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            http="httptools",
            access_log=settings.access_log,
            log_level="info",
        )
    except StoreLocked as exc:
        typer.echo(f"ihub: {exc}", err=True)
        raise typer.Exit(1) from None
