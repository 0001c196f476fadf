"""LiteLLM's raw SQL statements Atrium reviewed, and where the installed LiteLLM issues each one.

The raw SQL guard (``extensions/tenancy/data/raw_sql.py``) lets a tenant context run a raw statement
over tenant tables only when it matches one of these patterns (and its arguments pass the
guard's check). A pattern is a claim about LiteLLM's source, so each statement also names the
functions that issue it and the name they pass it by; :func:`statement_problems` reads that text
out of the installed source (``ast``, no import of the module) and checks the pattern against
it. An upgrade that rewrites a reviewed statement therefore fails the contract check (doctor,
serve, ``tests/litellm``) naming the statement, instead of silently refusing (or admitting) it.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "REVIEWED_STATEMENTS",
    "ReviewedStatement",
    "SqlSite",
    "StatementSourceError",
    "issued_sql",
    "normalise_sql",
    "rendered_sql",
    "reviewed_statement",
    "sql_digest",
    "statement_problems",
]

_RAW_METHODS = frozenset({"query_raw", "execute_raw", "query_first"})


@dataclass(frozen=True)
class SqlSite:
    """One place LiteLLM issues a statement: ``function`` (a qualname in ``module``) calls
    ``<db>.<method>(<sql>, ...)`` where ``sql`` names a local, a module constant or an import."""

    module: str
    function: str
    method: str
    sql: str

    def __str__(self) -> str:
        return f"{self.module}.{self.function} ({self.method} {self.sql})"


@dataclass(frozen=True)
class ReviewedStatement:
    name: str
    pattern: re.Pattern[str]  # matched against normalise_sql(text), from the start
    reason: str
    sites: tuple[SqlSite, ...]
    # For a statement LiteLLM builds with interpolations (so a pattern would have to admit
    # anything where they stand): the sha256 of its rendered, normalised text. The guard admits
    # exactly that text, and the contract check renders it from the installed module.
    digest: str | None = None


class StatementSourceError(Exception):
    """The installed source no longer has the statement where the review found it."""


def normalise_sql(sql: str) -> str:
    """Comments dropped, whitespace collapsed: the form patterns are written against."""
    return " ".join(re.sub(r"--[^\n]*", "", sql).split())


def sql_digest(normalised: str) -> str:
    return hashlib.sha256(normalised.encode()).hexdigest()


_TEAMS = "litellm.proxy.management_endpoints.team_endpoints"
_ROSTER = "litellm.proxy.management_helpers.team_roster_sync"
_BULK_DELETE = "litellm.proxy.management_helpers.bulk_user_deletion"
_PREFETCH = "litellm.proxy.auth.auth_object_prefetch"

# The key lookup joins only LEFT JOINs on plain column equalities: no subquery, UNION or OR can
# widen it beyond the one row the presented key's hash names.
_COLUMN = r"[\w.]+(?: (?:AS|as) \w+)?"
_JOIN = r'LEFT JOIN "LiteLLM_\w+"(?: AS)? \w+ ON [\w.]+ = [\w.]+(?: AND [\w.]+ = [\w.]+)*'

REVIEWED_STATEMENTS: tuple[ReviewedStatement, ...] = (
    ReviewedStatement(
        "key_auth_combined_view",
        re.compile(
            rf"^SELECT v\.\*, (?:{_COLUMN}, )*{_COLUMN} "
            rf'FROM "LiteLLM_VerificationToken" AS v (?:{_JOIN} )*WHERE v\.token = \$1$'
        ),
        "key authentication: one row, selected by the hash of the key the caller presented",
        (SqlSite("litellm.proxy.utils", "PrismaClient.get_data", "query_first", "sql_query"),),
    ),
    ReviewedStatement(
        "user_rows_lock",
        re.compile(
            r'^SELECT user_id FROM "LiteLLM_UserTable" WHERE user_id = ANY\(\$1::text\[\]\) '
            r'ORDER BY user_id COLLATE "C" FOR UPDATE$'
        ),
        "team member changes lock the named user rows; returns only the ids it was given",
        (
            SqlSite(_TEAMS, "_lock_requested_member_rows", "query_raw", "USER_ROWS_LOCK_SQL"),
            SqlSite(_ROSTER, "sync_team_roster", "query_raw", "USER_ROWS_LOCK_SQL"),
            SqlSite(_BULK_DELETE, "_remove_members_from_team", "query_raw", "USER_ROWS_LOCK_SQL"),
            SqlSite(_BULK_DELETE, "_delete_users_tx", "query_raw", "USER_ROWS_LOCK_SQL"),
        ),
    ),
    ReviewedStatement(
        "detach_team_from_users",
        re.compile(
            r'^UPDATE "LiteLLM_UserTable" SET teams = array_remove\(teams, \$1\), '
            r"updated_at = \(NOW\(\) AT TIME ZONE 'UTC'\) WHERE user_id = ANY\(\$2::text\[\]\)$"
        ),
        "removes the account's own team from the account's own users",
        (
            SqlSite(_ROSTER, "_remove_members", "execute_raw", "DETACH_TEAM_FROM_USERS_SQL"),
            SqlSite(_BULK_DELETE, "_remove_members_from_team", "execute_raw", "DETACH_TEAM_FROM_USERS_SQL"),
        ),
    ),
    ReviewedStatement(
        "strip_deleted_teams_from_users",
        re.compile(
            r'^UPDATE "LiteLLM_UserTable" SET teams = ARRAY\( SELECT kept\.team_id FROM unnest\(teams\) '
            r"WITH ORDINALITY AS kept\(team_id, position\) WHERE kept\.team_id <> ALL\(\$1::text\[\]\) "
            r"ORDER BY kept\.position \) WHERE user_id IN \( SELECT user_id FROM \"LiteLLM_UserTable\" "
            r'WHERE teams && \$1::text\[\] ORDER BY user_id COLLATE "C" FOR UPDATE \)$'
        ),
        "team deletion removes the deleted (own) team ids from user rows",
        (
            SqlSite(_TEAMS, "_sweep_deleted_team_references", "execute_raw", "_STRIP_DELETED_TEAMS_FROM_USERS_SQL"),
            SqlSite(_TEAMS, "_sweep_deleted_team_references_tx", "execute_raw", "_STRIP_DELETED_TEAMS_FROM_USERS_SQL"),
        ),
    ),
    # Reviewed text (rendered): five scalar subqueries, each selecting one row by a parameter
    # ($1 user, $2 team, $3+$2 membership, $4 organisation, $5 project) plus rows hanging off
    # that row's own foreign keys (budget, object permission, team model aliases, org memberships).
    ReviewedStatement(
        "auth_object_prefetch",
        re.compile(r"^SELECT \( SELECT to_jsonb\(u\) \|\| jsonb_build_object\("),
        "key authentication warms the caller's own user, team, membership, organisation and project rows",
        (SqlSite(_PREFETCH, "_fetch_rows", "query_first", "_SQL"),),
        digest="076aea44c773d400195887add9b309b5bf2276a1e4956c91113f7a41656c673c",
    ),
)


def reviewed_statement(name: str) -> ReviewedStatement:
    for statement in REVIEWED_STATEMENTS:
        if statement.name == name:
            return statement
    raise KeyError(f"no reviewed LiteLLM statement named {name!r}")


# -- reading the statement out of the installed source ----------------------------------------


def _source_path(module: str) -> Path:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        raise StatementSourceError(f"module {module} cannot be found ({exc})") from exc
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise StatementSourceError(f"module {module} has no Python source installed")
    return Path(spec.origin)


@functools.cache
def _tree(module: str) -> ast.Module:
    return ast.parse(_source_path(module).read_text(encoding="utf-8"))


def _function(tree: ast.Module, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    body: list[ast.stmt] = tree.body
    parts = qualname.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        for node in body:
            if getattr(node, "name", None) != part:
                continue
            if last and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
            if not last and isinstance(node, ast.ClassDef):
                body = node.body
                break
        else:
            raise StatementSourceError(f"function {qualname} is missing")
    raise StatementSourceError(f"function {qualname} is missing")


def _assigned(nodes: list[ast.AST], name: str, before: int | None) -> ast.expr | None:
    """The value last assigned to ``name`` among ``nodes`` (above line ``before`` when given)."""
    found: ast.expr | None = None
    for node in nodes:
        if before is not None and node.lineno >= before:  # type: ignore[attr-defined]
            continue
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            found = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            found = node.value
    return found


def _imported_from(module: str, tree: ast.Module, name: str) -> tuple[str, str] | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    base = node.module or ""
                    if node.level:
                        package = module.rsplit(".", node.level)[0]
                        base = f"{package}.{base}" if base else package
                    return base, alias.name
    return None


def _module_constant(module: str, name: str, seen: frozenset[str] = frozenset()) -> str:
    if f"{module}:{name}" in seen:
        raise StatementSourceError(f"{module}.{name} is defined in a cycle")
    tree = _tree(module)
    value = _assigned(list(tree.body), name, None)
    if value is not None:
        return _text(value, module, None, seen | {f"{module}:{name}"})
    origin = _imported_from(module, tree, name)
    if origin is None:
        raise StatementSourceError(f"{module}.{name} is neither assigned nor imported")
    return _module_constant(*origin, seen | {f"{module}:{name}"})


def _text(
    node: ast.expr, module: str, scope: tuple[list[ast.AST], int] | None, seen: frozenset[str] = frozenset()
) -> str:
    """The SQL text an expression evaluates to, the way LiteLLM writes statements: literals,
    f-strings (interpolations kept as ``{expr}``), ``+`` concatenations and names of either."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
            else "{" + ast.unparse(getattr(part, "value", part)) + "}"
            for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left, module, scope, seen) + _text(node.right, module, scope, seen)
    if isinstance(node, ast.Name):
        if scope is not None:
            local = _assigned(scope[0], node.id, scope[1])
            if local is not None:
                return _text(local, module, scope, seen)
        return _module_constant(module, node.id, seen)
    raise StatementSourceError(f"cannot read SQL text from {ast.unparse(node)!r}")


def issued_sql(site: SqlSite) -> list[str]:
    """The text of every ``<db>.<method>(<sql>, ...)`` call of ``site.function``, as written."""
    function = _function(_tree(site.module), site.function)
    statements: list[ast.AST] = [n for n in ast.walk(function) if isinstance(n, ast.Assign | ast.AnnAssign)]
    found: list[str] = []
    for call in ast.walk(function):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            continue
        if call.func.attr != site.method or not call.args:
            continue
        arg = call.args[0]
        if isinstance(arg, ast.Name) and arg.id == site.sql:
            found.append(_text(arg, site.module, (statements, call.lineno)))
    if not found:
        raise StatementSourceError(f"{site.function} no longer calls {site.method}({site.sql}, ...)")
    return found


def rendered_sql(site: SqlSite) -> str:
    """The text of the module constant ``site.sql`` as the imported module rendered it."""
    try:
        value = getattr(importlib.import_module(site.module), site.sql)
    except (ImportError, AttributeError) as exc:
        raise StatementSourceError(f"{site.module}.{site.sql} cannot be rendered ({exc})") from exc
    if not isinstance(value, str):
        raise StatementSourceError(f"{site.module}.{site.sql} is not a string")
    return value


def _digest_problems(statement: ReviewedStatement, site: SqlSite) -> list[str]:
    if statement.digest is None:
        return []
    try:
        rendered = normalise_sql(rendered_sql(site))
    except StatementSourceError as exc:
        return [f"reviewed LiteLLM statement {statement.name!r} at {site}: {exc}"]
    if sql_digest(rendered) == statement.digest:
        return []
    return [
        f"reviewed LiteLLM statement {statement.name!r} changed at {site}: its rendered text "
        f"(sha256 {sql_digest(rendered)}) is not the reviewed one "
        "(review it, then update the digest in extensions/litellm/_sql.py)"
    ]


def statement_problems() -> list[str]:
    """Every reviewed statement the installed LiteLLM no longer issues as reviewed; empty when all match."""
    problems: list[str] = []
    for statement in REVIEWED_STATEMENTS:
        for site in statement.sites:
            try:
                texts = issued_sql(site)
            except (StatementSourceError, OSError, SyntaxError) as exc:
                problems.append(f"reviewed LiteLLM statement {statement.name!r} at {site}: {exc}")
                continue
            for text in texts:
                if not statement.pattern.match(normalise_sql(text)):
                    problems.append(
                        f"reviewed LiteLLM statement {statement.name!r} changed at {site}: "
                        f"{normalise_sql(text)[:160]!r} no longer matches the reviewed pattern "
                        "(review it, then update extensions/litellm/_sql.py)"
                    )
            problems.extend(_digest_problems(statement, site))
    return problems
