"""An embedded PostgreSQL for a first run with no ``DATABASE_URL`` (pgserver ships PG 16).

The server lives under the data directory and stops with the process that started it.
It listens on a Unix socket only, so it is never reachable from the network.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from extensions.errors import ConfigurationError

__all__ = ["EmbeddedPostgres"]

log = logging.getLogger("atrium.embedded")


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, database: str = "atrium") -> None:
        self.data_dir = data_dir.resolve() / "pgdata"
        self.database = database
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server and return a DSN for ``database``."""
        try:
            import pgserver
        except ImportError as exc:
            raise ConfigurationError(
                "DATABASE_URL is unset and the embedded PostgreSQL (pgserver) is not installed",
                hint="set DATABASE_URL or `pip install pgserver`",
            ) from exc
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(str(self.data_dir), cleanup_mode="stop")
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';")
        if "1 row" not in exists:
            self._server.psql(f'CREATE DATABASE "{self.database}";')
        log.info("embedded PostgreSQL running", extra={"data_dir": str(self.data_dir)})
        # pgserver may put the socket elsewhere (socket paths are limited to 107 bytes): use its URI.
        # No host in the authority: asyncpg would prefer it over the socket directory, which
        # travels in the `host` query parameter.
        uri = urlsplit(str(self._server.get_uri()))
        dsn: str = urlunsplit(uri._replace(netloc="postgres@", path=f"/{self.database}"))
        return dsn

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
