"""What this build of Atrium was written against, and the check ``atrium doctor``/``serve`` run.

Version facts that need no import of the (slow) proxy module are checked first, so
``atrium doctor`` answers quickly; then every internal of every concern module (their
``INTERNALS``) and every reviewed raw statement (``_sql``) against the installed source.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from extensions.errors import CompatibilityError
from extensions.litellm import (
    _app,
    _auth,
    _budgets,
    _catalog,
    _gateway,
    _limits,
    _lists,
    _observability,
    _prisma,
    _roles,
    _router,
    _secrets,
    _ui,
    _usage,
    _users,
)
from extensions.litellm._base import Internal, package_dir, resolve
from extensions.litellm._sql import statement_problems

__all__ = [
    "CONTRACT",
    "INTERNALS",
    "Contract",
    "assert_compatible",
    "compatibility_problems",
    "litellm_schema_path",
    "shipped_migrations_dir",
]


@dataclass(frozen=True)
class Contract:
    """What this build of Atrium was written and tested against."""

    versions: Mapping[str, str]
    schema_sha256: str
    newest_migration: str


CONTRACT = Contract(
    versions={"litellm": "1.108.7", "litellm-proxy-extras": "0.4.110", "prisma": "0.15.0"},
    schema_sha256="873f78ae1d36e62145d5d67933146e63b80991fd2f000c21bfa32ffa68b17ac0",
    newest_migration="20261015000000_managed_object_end_user_id",
)

INTERNALS: tuple[Internal, ...] = (
    *_app.INTERNALS,
    *_auth.INTERNALS,
    *_ui.INTERNALS,
    *_roles.INTERNALS,
    *_router.INTERNALS,
    *_secrets.INTERNALS,
    *_prisma.INTERNALS,
    *_usage.INTERNALS,
    *_lists.INTERNALS,
    *_users.INTERNALS,
    *_catalog.INTERNALS,
    *_gateway.INTERNALS,
    *_budgets.INTERNALS,
    *_limits.INTERNALS,
    *_observability.INTERNALS,
)


def litellm_schema_path() -> Path:
    """LiteLLM's Prisma schema as shipped with the migrations we apply."""
    return package_dir("litellm_proxy_extras") / "schema.prisma"


def shipped_migrations_dir() -> Path:
    return package_dir("litellm_proxy_extras") / "migrations"


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _internal_problem(internal: Internal) -> str | None:
    where = f"{internal.module}.{internal.attribute}"
    try:
        target = resolve(internal)
    except (ImportError, AttributeError) as exc:
        return f"{where} is missing ({exc})"
    if internal.value is not None:
        found_value = getattr(target, "value", target)
        if found_value != internal.value:
            return f"{where} changed: expected {internal.value!r}, found {found_value!r}"
    if internal.parameters is None:
        return None
    try:
        found = tuple(inspect.signature(target).parameters)
    except (TypeError, ValueError) as exc:
        return f"{where} has no inspectable signature ({exc})"
    if found != internal.parameters:
        return f"{where} signature changed: expected {internal.parameters}, found {found}"
    return None


def compatibility_problems(contract: Contract = CONTRACT, *, check_internals: bool = True) -> list[str]:
    """Every way the installed LiteLLM differs from ``contract``; empty when compatible."""
    problems: list[str] = []
    for distribution, pinned in contract.versions.items():
        installed = _installed_version(distribution)
        if installed != pinned:
            problems.append(f"{distribution}: pinned {pinned}, installed {installed or 'nothing'}")
    try:
        schema = litellm_schema_path()
        digest = hashlib.sha256(schema.read_bytes()).hexdigest()
        if digest != contract.schema_sha256:
            problems.append(
                f"litellm schema {schema} changed: sha256 {digest}, expected {contract.schema_sha256} "
                "(re-run scripts/sync_schema.py and review the diff)"
            )
        migrations = sorted(p.name for p in shipped_migrations_dir().iterdir() if p.is_dir())
        newest = migrations[-1] if migrations else "none"
        if newest != contract.newest_migration:
            problems.append(f"newest shipped litellm migration is {newest}, expected {contract.newest_migration}")
    except CompatibilityError as exc:
        problems.append(str(exc))
    if check_internals and not problems:
        problems.extend(p for p in map(_internal_problem, INTERNALS) if p)
        problems.extend(statement_problems())
    return problems


def assert_compatible(contract: Contract = CONTRACT) -> None:
    problems = compatibility_problems(contract)
    if problems:
        raise CompatibilityError(
            "installed LiteLLM does not match the version Atrium was built for:\n  - " + "\n  - ".join(problems),
            hint="install the pinned versions (`make install`) or update extensions/litellm/ "
            "after reviewing the upgrade",
        )
