"""``python -m extensions.prisma_engine {generate,which,install,env}``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from extensions.errors import AtriumError

from . import default_schema, describe, engine_env, ensure_node_modules, generate, select_engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m extensions.prisma_engine")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="run `prisma generate` with the chosen engine (offline for wasm)")
    gen.add_argument("--schema", type=Path, help="default: the checkout's or the installed package's schema.prisma")
    sub.add_parser("which", help="print the engine in use and why")
    sub.add_parser("install", help="install the wasm engine's Node dependencies (npm ci)")
    sub.add_parser("env", help="print the environment the proxy needs, as shell exports")
    args = parser.parse_args(argv)
    try:
        if args.command == "generate":
            schema = args.schema or default_schema()
            generate(schema)
            print(f"prisma client generated from {schema.resolve()} ({select_engine().kind} engine)")
        elif args.command == "which":
            choice = select_engine()
            print(describe())
            print(f"query engine:  {choice.query_engine or '-'}")
            print(f"schema engine: {choice.schema_engine or '-'}")
        elif args.command == "install":
            ensure_node_modules()
        elif args.command == "env":
            for key, value in engine_env(select_engine()).items():
                print(f"export {key}={shlex.quote(value)}")
    except AtriumError as exc:
        print(f"prisma_engine: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
