"""The root schema.prisma is current and a superset of the installed LiteLLM schema."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from extensions.db.schema_sync import build_root_schema
from extensions.litellm import litellm_schema_path
from extensions.tenancy.data.tables import TABLES, TableClass, litellm_models

ROOT = Path(__file__).resolve().parents[2]
ROOT_SCHEMA = ROOT / "schema.prisma"


def _blocks(text: str) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    for match in re.finditer(r"^(model|enum|view)\s+(\w+)\s*\{[^\n]*\n(.*?)^\}", text, re.MULTILINE | re.DOTALL):
        lines = [" ".join(line.split()) for line in match.group(3).splitlines()]
        blocks[f"{match.group(1)} {match.group(2)}"] = [line for line in lines if line and not line.startswith("//")]
    return blocks


def test_root_schema_is_what_the_sync_produces() -> None:
    wanted = build_root_schema(litellm_schema_path().read_text(), (ROOT / "prisma" / "atrium.prisma").read_text())
    assert ROOT_SCHEMA.read_text() == wanted, "schema.prisma is stale: run scripts/sync_schema.py"


# Prisma's own schema validator (the WebAssembly build the offline engine installs): the client
# generation of a fresh clone is otherwise the first thing to notice a merge that lost a brace.
_VALIDATE = """
const wasm = require('@prisma/prisma-schema-wasm');
const text = require('fs').readFileSync(process.argv[1], 'utf8');
try { wasm.validate(JSON.stringify({prismaSchema: [['schema.prisma', text]], noColorErrors: true})); }
catch (e) { process.stdout.write(String(e.message || e)); process.exit(1); }
"""


def _prisma_validate(schema: Path) -> str | None:
    """None when Prisma accepts ``schema``, else its error."""
    node = shutil.which("node")
    engine = ROOT / "prisma" / "engine"
    if node is None or not (engine / "node_modules" / "@prisma" / "prisma-schema-wasm").is_dir():
        pytest.skip("Node.js and prisma/engine/node_modules (make install) are needed to validate the schema")
    done = subprocess.run([node, "-e", _VALIDATE, str(schema)], cwd=engine, capture_output=True, text=True, timeout=120)
    if done.returncode == 0:
        return None
    try:
        return str(json.loads(done.stdout)["message"])
    except (ValueError, KeyError):
        return done.stdout + done.stderr


def test_root_schema_is_valid_prisma(tmp_path: Path) -> None:
    assert _prisma_validate(ROOT_SCHEMA) is None
    # The same check refuses the schema with one closing brace lost.
    broken = tmp_path / "schema.prisma"
    text = ROOT_SCHEMA.read_text()
    cut = text.index("\n}\n", text.index("model Atrium_"))
    broken.write_text(text[:cut] + "\n" + text[cut + 2 :])
    assert _prisma_validate(broken) is not None


def test_root_schema_is_a_superset_of_litellms() -> None:
    ours = _blocks(ROOT_SCHEMA.read_text())
    for name, lines in _blocks(litellm_schema_path().read_text()).items():
        assert name in ours, f"{name} missing from schema.prisma"
        missing = [line for line in lines if line not in ours[name]]
        assert not missing, f"{name} lost lines: {missing}"


def test_every_tenant_table_has_account_id_and_index() -> None:
    ours = _blocks(ROOT_SCHEMA.read_text())
    for name, (kind, _) in TABLES.items():
        if kind is TableClass.TENANT:
            assert "account_id String?" in ours[f"model {name}"]
            assert "@@index([account_id])" in ours[f"model {name}"]


def test_every_atrium_table_has_account_id_and_index() -> None:
    for name, lines in _blocks((ROOT / "prisma" / "atrium.prisma").read_text()).items():
        assert any(line.startswith("account_id String") for line in lines), name
        has_index = any("account_id" in line and ("@@index" in line or "@id" in line) for line in lines)
        assert has_index, f"{name} has no index on account_id"


def test_every_litellm_table_is_classified() -> None:
    unclassified = set(litellm_models(litellm_schema_path())) - set(TABLES)
    assert not unclassified, f"classify these in extensions/tenancy/data/tables.py: {sorted(unclassified)}"
