"""``atrium``: serve the gateway, apply migrations, check the installation."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from extensions import litellm
from extensions.errors import AtriumError
from extensions.logs import configure_logging
from extensions.settings import DEV_MASTER_KEY, ENV_VARS, Settings

__all__ = ["main"]

log = logging.getLogger("atrium.cli")


def _env_help() -> str:
    width = max(map(len, ENV_VARS))
    return "environment variables:\n" + "\n".join(f"  {k.ljust(width)}  {v}" for k, v in ENV_VARS.items())


def _run_migrations(dsn: str, ours: Path | None = None) -> None:
    from extensions.db.migrate import atrium_migrations_dir, discover, migrate

    ours = ours or atrium_migrations_dir()
    migrations = discover(litellm.shipped_migrations_dir(), ours)
    report = asyncio.run(migrate(dsn, migrations))
    print(f"migrations: {len(report.applied)} applied, {report.skipped} already applied", file=sys.stderr)
    # A first run applies hundreds; list them only when few (the log keeps each one).
    if len(report.applied) <= 20:
        for name in report.applied:
            print(f"  applied {name}", file=sys.stderr)


def cmd_migrate(args: argparse.Namespace) -> int:
    dsn = args.database_url or Settings().database_url
    if not dsn:
        raise AtriumError("no database to migrate", hint="set DATABASE_URL or pass --database-url")
    _run_migrations(dsn, args.migrations_dir)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    problems = litellm.compatibility_problems()
    versions = ", ".join(f"{k}=={v}" for k, v in litellm.CONTRACT.versions.items())
    print(f"pinned: {versions}")
    try:
        from extensions.prisma_engine import default_schema, describe, engine_problems

        print(f"prisma engine: {describe()}")
        problems += [f"prisma engine: {p}" for p in engine_problems()]
        schema = default_schema()
        print(f"schema: {schema}")
        if not schema.is_file():
            problems.append(f"schema {schema} does not exist (set ATRIUM_SCHEMA or reinstall the package)")
    except AtriumError as exc:
        problems.append(f"prisma engine: {exc}")
    except ImportError:
        problems.append("prisma engine support (extensions.prisma_engine) is not installed")
    try:
        from extensions.db.migrate import atrium_migrations_dir, discover

        ours = atrium_migrations_dir()
        print(f"migrations: {len(discover(ours))} in {ours}")
    except AtriumError as exc:
        problems.append(f"migrations: {exc}")
    if problems:
        print("atrium doctor: FAILED", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("atrium doctor: OK")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from extensions.audit.sink_config import SinkSettings
    from extensions.config import write_effective_config

    settings = Settings()
    litellm.assert_compatible()
    SinkSettings.from_env()  # a bad sink setting stops here, not in every worker's start-up
    embedded = None
    if not settings.database_url:
        from extensions.db.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(settings.data_dir)
        settings.database_url = embedded.start()
        os.environ["DATABASE_URL"] = settings.database_url
    if not settings.master_key:
        if embedded is None:
            raise AtriumError(
                "LITELLM_MASTER_KEY is not set", hint="set LITELLM_MASTER_KEY to a secret starting with sk-"
            )
        settings.master_key = DEV_MASTER_KEY
        os.environ["LITELLM_MASTER_KEY"] = DEV_MASTER_KEY
        log.warning("using the development master key", extra={"master_key": DEV_MASTER_KEY})
    if args.migrate:
        _run_migrations(settings.database_url)
    from extensions.prisma_engine import engine_env, select_engine

    os.environ.update(engine_env(select_engine()))
    config_path = write_effective_config(args.config or settings.config, settings.data_dir)
    os.environ.update(
        CONFIG_FILE_PATH=str(config_path.resolve()),
        DISABLE_SCHEMA_UPDATE="true",
        STORE_MODEL_IN_DB="True",
    )
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    print(f"atrium: serving on http://{host}:{port} with {workers} worker(s)", file=sys.stderr)
    try:
        # A worker imports all of LiteLLM before it answers the supervisor's health ping; on a busy
        # host that takes longer than uvicorn's 5 s default, and the supervisor would kill and
        # respawn it forever.
        uvicorn.run(
            "extensions.asgi:app",
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            timeout_worker_healthcheck=settings.worker_healthcheck_timeout,
        )
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    import asyncpg

    from extensions.audit.anchors import check_anchors, read_anchors
    from extensions.audit.retention import prune
    from extensions.audit.verify import verify_all

    dsn = args.database_url or Settings().database_url
    if not dsn:
        raise AtriumError("no database to read the audit log from", hint="set DATABASE_URL or pass --database-url")
    anchors_file = getattr(args, "anchors", None)
    anchors = read_anchors(anchors_file, args.account) if anchors_file is not None else None

    async def run() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            if args.audit_command == "prune":
                print(f"atrium audit prune: {await prune(conn)} entries removed")
                return 0
            checked, problems = await verify_all(conn, args.account)
            anchored = await check_anchors(conn, anchors) if anchors is not None else None
        finally:
            await conn.close()
        if anchored is not None:
            problems += anchored[2]
        for problem in problems:
            print(f"atrium audit verify: {problem}", file=sys.stderr)
        if problems:
            return 1
        found = f" and {anchored[0]} anchor(s), {anchored[1]} pruned" if anchored is not None else ""
        print(f"atrium audit verify: OK ({checked} chain(s){found})")
        return 0

    return asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atrium",
        description="Atrium: the multi-tenant enterprise layer around the unmodified LiteLLM proxy.",
        epilog=_env_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="run the gateway",
        description="Run LiteLLM with Atrium installed. With no DATABASE_URL an embedded PostgreSQL "
        "under ATRIUM_DATA_DIR is started and migrated.",
        epilog=_env_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", help="listen address (env ATRIUM_HOST, default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="listen port (env ATRIUM_PORT, default 4000)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (env ATRIUM_WORKERS, default 1)")
    serve.add_argument("--config", type=Path, help="LiteLLM config.yaml (env ATRIUM_CONFIG; default: demo model)")
    serve.add_argument(
        "--no-migrate",
        dest="migrate",
        action="store_false",
        help="skip applying migrations at start (the deploy script's `migrate` step does it)",
    )
    serve.set_defaults(func=cmd_serve)
    migrate = sub.add_parser(
        "migrate",
        help="apply LiteLLM's and Atrium's migrations",
        description="Apply litellm-proxy-extras' shipped migrations, then Atrium's, under Prisma's advisory "
        "lock; record them in _prisma_migrations. Safe to re-run.",
    )
    migrate.add_argument("--database-url", help="DSN to migrate (default: env DATABASE_URL)")
    migrate.add_argument(
        "--migrations-dir",
        type=Path,
        help="Atrium's migrations folder (env ATRIUM_MIGRATIONS_DIR; default: the installed package's copy, "
        "or prisma/migrations of a checkout)",
    )
    migrate.set_defaults(func=cmd_migrate)
    doctor = sub.add_parser(
        "doctor",
        help="check installed versions, LiteLLM schema and hooks, Prisma engine",
        description="Exit 1 with what is wrong: the installed LiteLLM differs from the pinned contract, the "
        "Prisma engine cannot run (e.g. the wasm engine's node_modules are missing), or the schema or "
        "migrations are not found.",
    )
    doctor.set_defaults(func=cmd_doctor)
    audit = sub.add_parser("audit", help="verify or prune the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify",
        help="check every account's hash chain",
        description="Exit 0 when every chain is intact; 1 naming the first altered, inserted or deleted entry "
        "of each broken chain.",
    )
    verify.add_argument("--account", help="only this account's chain (account id; '' for global actions)")
    verify.add_argument(
        "--anchors",
        type=Path,
        help="also check each anchor of this JSONL file (ATRIUM_AUDIT_ANCHOR_FILE, or a sink's export): the entry "
        "at (account_id, seq) must still have the anchored hash, else history was rewritten",
    )
    prune_cmd = audit_sub.add_parser("prune", help="remove entries older than each account's retention now")
    for command in (verify, prune_cmd):
        command.add_argument("--database-url", help="DSN (default: env DATABASE_URL)")
        command.set_defaults(func=cmd_audit)
    return parser


def apply_env_defaults() -> None:
    """What LiteLLM reads from the environment at import, as Atrium serves it unless the operator
    set it; before anything imports LiteLLM (a uvicorn worker inherits it)."""
    # The cost map pinned with LiteLLM; no egress at start-up (and no 7 s stall offline).
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    for name, value in litellm.process_env_defaults().items():
        os.environ.setdefault(name, value)


def main(argv: list[str] | None = None) -> int:
    apply_env_defaults()
    configure_logging(os.environ.get("ATRIUM_LOG_LEVEL", "INFO"))
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except AtriumError as exc:
        print(f"atrium {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
