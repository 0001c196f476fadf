#!/usr/bin/env bash
# Atrium deploy steps, the same in the Docker image, in CI and on a laptop.
#
#   scripts/deploy.sh generate   generate the Prisma client from ./schema.prisma (native engine if
#                                available, else the bundled WebAssembly engine; ATRIUM_PRISMA_ENGINE=wasm forces it)
#   scripts/deploy.sh migrate    apply LiteLLM's shipped migrations, then Atrium's (needs DATABASE_URL;
#                                advisory-locked, safe to run from several replicas at once, safe to re-run)
#   scripts/deploy.sh start      exec `atrium serve --no-migrate` (extra args are passed on)
#   scripts/deploy.sh serve      migrate (when DATABASE_URL is set), start: for a client generated before
#                                (`make run`, whose install step generates it only when the schema changed)
#   scripts/deploy.sh            generate, migrate (when DATABASE_URL is set), start
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${ATRIUM_VENV:-}" ]]; then BIN="$ATRIUM_VENV/bin/"
elif [[ -x "$ROOT/.venv/bin/atrium" ]]; then BIN="$ROOT/.venv/bin/"
else BIN=""; fi

# A checkout generates from its own schema.prisma; the image (only scripts/ copied) uses the wheel's.
step_generate() {
  local schema=()
  [[ -f "$ROOT/schema.prisma" ]] && schema=(--schema "$ROOT/schema.prisma")
  "${BIN}python" -m extensions.prisma_engine generate "${schema[@]}"
}
step_migrate() {
  if [[ -z "${DATABASE_URL:-}" ]]; then
    echo "deploy.sh migrate: DATABASE_URL is not set (set it to the PostgreSQL DSN to migrate)" >&2
    exit 2
  fi
  "${BIN}atrium" migrate
}
step_start() { exec "${BIN}atrium" serve "$@"; }
step_serve() {
  if [[ -n "${DATABASE_URL:-}" ]]; then step_migrate; step_start --no-migrate "$@"; else step_start "$@"; fi
}

command="${1:-all}"
[[ $# -gt 0 ]] && shift
case "$command" in
  generate) step_generate ;;
  migrate) step_migrate ;;
  start) step_start --no-migrate "$@" ;;
  serve) step_serve "$@" ;;
  all) step_generate; step_serve "$@" ;;
  -h|--help|help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) echo "deploy.sh: unknown step '$command' (use generate, migrate, start, serve, or nothing for all)" >&2; exit 2 ;;
esac
