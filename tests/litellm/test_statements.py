"""The reviewed raw statements, checked against the LiteLLM source actually installed.

``extensions/litellm/_sql.py`` claims each reviewed statement is issued by named LiteLLM
functions in a shape its pattern matches; these tests read that text out of the installed
source and hold the claim to it, and show that an edited copy of LiteLLM fails the check
with the statement's name.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from extensions import litellm
from extensions.tenancy.data.raw_sql import SAFE_STATEMENTS

REPO = Path(__file__).resolve().parents[2]
SITES = [(statement, site) for statement in litellm.REVIEWED_STATEMENTS for site in statement.sites]


@pytest.mark.parametrize(("statement", "site"), SITES, ids=[f"{st.name}@{site.function}" for st, site in SITES])
def test_reviewed_pattern_matches_the_installed_statement(
    statement: litellm.ReviewedStatement, site: litellm.SqlSite
) -> None:
    texts = litellm.issued_sql(site)
    assert texts, f"{statement.name}: {site} issues nothing"
    for text in texts:
        assert statement.pattern.match(litellm.normalise_sql(text)), (
            f"reviewed statement {statement.name!r} changed at {site}: {litellm.normalise_sql(text)!r}"
        )


def test_contract_check_reports_no_statement_problem() -> None:
    assert litellm.statement_problems() == []


def test_the_raw_sql_guard_admits_exactly_the_reviewed_statements() -> None:
    assert [s.name for s in SAFE_STATEMENTS] == [s.name for s in litellm.REVIEWED_STATEMENTS]
    assert all(
        guard.pattern is reviewed.pattern
        for guard, reviewed in zip(SAFE_STATEMENTS, litellm.REVIEWED_STATEMENTS, strict=True)
    )


def test_extraction_follows_locals_fstrings_and_concatenations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The forms LiteLLM writes statements in, read the way the contract check reads them."""
    package = tmp_path / "fake_sql_source"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "consts.py").write_text('BASE = "SELECT a FROM t"\nWHERE = " WHERE a = $1"\n')
    (package / "mod.py").write_text(
        "from fake_sql_source.consts import BASE, WHERE\n"
        "LOCKED = BASE + WHERE + ' FOR UPDATE'\n"
        "class Repo:\n"
        "    async def run(self, db, table):\n"
        "        sql = 'unused'\n"
        "        await db.query_raw(sql)\n"
        "        sql = f'SELECT * FROM {table} -- note\\n WHERE x = $1'\n"
        "        await db.query_raw(sql, 1)\n"
        "async def lock(db):\n"
        "    await db.execute_raw(LOCKED, 1)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    run = litellm.issued_sql(litellm.SqlSite("fake_sql_source.mod", "Repo.run", "query_raw", "sql"))
    assert [litellm.normalise_sql(t) for t in run] == ["unused", "SELECT * FROM {table} WHERE x = $1"]
    lock = litellm.issued_sql(litellm.SqlSite("fake_sql_source.mod", "lock", "execute_raw", "LOCKED"))
    assert lock == ["SELECT a FROM t WHERE a = $1 FOR UPDATE"]
    with pytest.raises(litellm.StatementSourceError, match="no longer calls query_raw"):
        litellm.issued_sql(litellm.SqlSite("fake_sql_source.mod", "lock", "query_raw", "LOCKED"))
    with pytest.raises(litellm.StatementSourceError, match=r"function Repo\.gone is missing"):
        litellm.issued_sql(litellm.SqlSite("fake_sql_source.mod", "Repo.gone", "query_raw", "sql"))


# -- an edited copy of the installed LiteLLM fails the check, naming the statement -------------


def _shadow_litellm(root: Path, module: str, edit: tuple[str, str] | None) -> Path:
    """``root/litellm``: the installed package, symlinked, except ``module``: a real copy, edited.

    Only the directories on the way to ``module`` are real; every other entry is a symlink to the
    installed file or directory, so Python imports the installed code except for that one file.
    """
    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.submodule_search_locations
    installed = Path(next(iter(spec.submodule_search_locations)))
    origin = importlib.util.find_spec(module)
    assert origin is not None and origin.origin
    relative = Path(origin.origin).relative_to(installed)
    shadow = root / "litellm"
    here, source = shadow, installed
    for part in relative.parts:
        here.mkdir(exist_ok=True)
        for entry in source.iterdir():
            if entry.name != part and entry.name != "__pycache__":
                (here / entry.name).symlink_to(entry)
        here, source = here / part, source / part
    text = source.read_text(encoding="utf-8")
    if edit is not None:
        assert edit[0] in text, f"the statement to edit is not in {source}"
        text = text.replace(edit[0], edit[1])
    here.write_text(text, encoding="utf-8")
    return shadow


_CHECK = """
import sys
from pathlib import Path
import litellm
from extensions.litellm import statement_problems
assert Path(litellm.__file__).parent == Path(sys.argv[1]), litellm.__file__
problems = statement_problems()
print("\\n".join(problems))
sys.exit(1 if problems else 0)
"""


def _check(root: Path, shadow: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{REPO}", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run(
        [sys.executable, "-c", _CHECK, str(shadow)], env=env, capture_output=True, text=True, timeout=180
    )


@pytest.mark.parametrize("edited", [False, True], ids=["unmodified-shadow-passes", "edited-statement-fails"])
def test_an_edited_statement_in_a_shadow_litellm_fails_the_check_by_name(tmp_path: Path, edited: bool) -> None:
    # LiteLLM widening the user-row lock to every row of the table: the pattern must stop matching.
    module = "litellm.proxy.management_helpers.access_group_team_sync"
    edit = ("WHERE user_id = ANY($1::text[]) ORDER BY", "WHERE user_id = ANY($1::text[]) OR true ORDER BY")
    shadow = _shadow_litellm(tmp_path, module, edit if edited else None)
    result = _check(tmp_path, shadow)
    output = result.stdout + result.stderr
    if not edited:
        assert result.returncode == 0, output
        return
    assert result.returncode == 1, output
    assert "reviewed LiteLLM statement 'user_rows_lock' changed" in result.stdout, output
    assert "OR true" in result.stdout
    # Only the edited statement is reported: the others still match their installed text.
    assert all("'user_rows_lock'" in line for line in result.stdout.splitlines() if line)
