"""A bounded, seeded fuzz of every Atrium route from the served OpenAPI schema: no 5xx, one error format.

Bodies and query strings are generated from the operation's own schema (so most requests get
past validation and reach the handler and the database), then mutated: NUL characters, lone
surrogates, 5,000-character strings, wrong types, nulls, missing required fields, unknown
fields, bodies that are not objects or not JSON. Each case runs as the super admin, an account
admin and anonymous. ``schemathesis`` would be the better tool (schema-aware shrinking, stateful
links); it is not a dependency yet, so this is a small generator of its own.

``ATRIUM_FUZZ_SEED`` and ``ATRIUM_FUZZ_CASES`` replay or widen a run; a failure prints the seed,
operation, principal and the request that broke.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.smtp import MailCatcher

SEED = int(os.environ.get("ATRIUM_FUZZ_SEED", "12"))
CASES = int(os.environ.get("ATRIUM_FUZZ_CASES", "14"))
KEYS = {"code", "message", "hint", "type", "request_id"}
MISSING = object()

# Routes Atrium serves but keeps out of the schema (a browser form): fuzzed too.
FORM = "application/x-www-form-urlencoded"
HIDDEN = [("post", "/atrium/login", {FORM: {"properties": {"email": {"type": "string"}}}})]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    parameters: list[dict[str, Any]]
    content: dict[str, Any]  # media type -> schema

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def atrium_operations(spec: dict[str, Any]) -> list[Operation]:
    """Every operation of Atrium's routers (their tags start with "Atrium")."""
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or not any(str(t).startswith("Atrium") for t in op.get("tags", [])):
                continue
            content = {
                media: body.get("schema", {}) for media, body in op.get("requestBody", {}).get("content", {}).items()
            }
            ops.append(Operation(method, path, op.get("parameters", []), content))
    ops += [Operation(m, p, [], c) for m, p, c in HIDDEN]
    return ops


class Generator:
    """Values for a JSON schema (OpenAPI 3.1 as FastAPI writes it), valid or mutated."""

    def __init__(self, spec: dict[str, Any], rng: random.Random, known: list[str]) -> None:
        self.spec = spec
        self.rng = rng
        self.known = known  # real ids and slugs, so some requests find rows

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.spec
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def mutant(self) -> Any:
        return self.rng.choice(
            [
                "nul\u0000inside",
                "\u0000",
                "x" * 5000,
                "\ud800lone surrogate",
                "\u202eRTL \U0001f680 \u00e9\u0301 \ufeff",
                "' OR 1=1 --",
                "../../etc/passwd",
                "%00",
                None,
                -1,
                2**70,
                1.5,
                True,
                [],
                ["a", {"b": None}],
                {"nested": {"deep": ["\u0000"]}},
            ]
        )

    def string(self, schema: dict[str, Any]) -> str:
        pool = [
            f"fz-{uuid.UUID(int=self.rng.getrandbits(128)).hex[:8]}",
            "",
            "user@fuzz-account.example",
            "http://127.0.0.1:9/issuer",
            "admin",
            "member",
            "viewer",
            "active",
            "suspended",
            "Fuzz Name \u00e9",
            *self.known,
        ]
        value = self.rng.choice(pool)
        limit = schema.get("maxLength")
        return value[:limit] if isinstance(limit, int) else value

    def value(self, schema: dict[str, Any], p: float, depth: int = 0) -> Any:
        schema = self.resolve(schema)
        if self.rng.random() < p:
            return self.mutant()
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            return self.value(self.rng.choice(options), p, depth)
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        kind = schema.get("type")
        if kind == "string":
            return self.string(schema)
        if kind == "integer":
            return self.rng.randint(0, 100)
        if kind == "number":
            return self.rng.random() * 100
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        if kind == "array":
            if depth > 3:
                return []
            return [self.value(schema.get("items", {}), p, depth + 1) for _ in range(self.rng.randint(0, 3))]
        if kind == "object" or "properties" in schema:
            return self.object(schema, p, depth)
        return self.rng.choice(["any", 1, None, {"k": "v"}])  # untyped (Any)

    def object(self, schema: dict[str, Any], p: float, depth: int = 0) -> dict[str, Any]:
        if depth > 3:
            return {}
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        out: dict[str, Any] = {}
        for name, sub in properties.items():
            if name in required or self.rng.random() < 0.6:
                out[name] = self.value(sub, p, depth + 1)
        if not properties and schema.get("additionalProperties", True) is not False:
            out.update({f"k{i}": self.value({}, p, depth + 1) for i in range(self.rng.randint(0, 3))})
        if required and self.rng.random() < p:
            out.pop(self.rng.choice(sorted(required)), None)  # a required field missing
        if self.rng.random() < p:
            out["unexpected_field\u0000" if self.rng.random() < 0.5 else "unexpected_field"] = "x"
        return out


@dataclass
class Case:
    params: dict[str, Any]
    content: bytes | None
    media: str | None

    def describe(self) -> str:
        body = (self.content or b"")[:300]
        return f"params={str(self.params)[:300]} media={self.media} body={body!r}"


def urlencode(values: dict[str, str]) -> str:
    """Query/form encoding that sends a lone surrogate as the invalid UTF-8 it becomes, not a client error."""

    def enc(text: str) -> str:
        return quote(text.encode("utf-8", "surrogatepass"), safe="")

    return "&".join(f"{enc(k)}={enc(v)}" for k, v in values.items())


def _form(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {"field": str(value)}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def make_case(gen: Generator, op: Operation, index: int) -> Case:
    # Case 0 is plain valid input; the rest mutate more and more.
    p = 0.0 if index == 0 else min(0.15 + 0.05 * index, 0.6)
    params: dict[str, Any] = {}
    for param in op.parameters:
        if param.get("in") not in {"query", "path"}:
            continue
        if param.get("required") or gen.rng.random() < 0.6:
            value = gen.value(param.get("schema", {}), p)
            params[param["name"]] = value if isinstance(value, str) else json.dumps(value)
    if not op.content:
        return Case(params, None, None)
    media, schema = gen.rng.choice(sorted(op.content.items()))
    shape = gen.rng.random()
    if index and shape < 0.1:
        return Case(params, gen.rng.choice([b"{not json", b"", b"\x00", b"\xff\xfe"]), media)
    if index and shape < 0.2:
        body: Any = gen.rng.choice([[1, 2], "text", None, 42, [{"\u0000": 1}]])
    else:
        body = gen.value(schema, p)
    if media == FORM:
        return Case(params, urlencode(_form(body)).encode(), media)
    return Case(params, json.dumps(body).encode(), media)


@pytest.fixture(scope="module")
def spec(proxy: ProxyProcess) -> dict[str, Any]:
    response = httpx.get(f"{proxy.base_url}/openapi.json", timeout=120)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def principals(proxy: ProxyProcess, master_key: str) -> Iterator[dict[str, tuple[dict[str, str], list[str]]]]:
    """Headers per principal, and the real ids the generator may use for each."""
    slug = f"fuzz-{uuid.uuid4().hex[:6]}"
    # The account sends mail through a catcher, so invitations reach validation and the database.
    mail = MailCatcher().start()
    smtp = {"host": "127.0.0.1", "port": mail.port, "from": f"invites@{slug}.example", "starttls": False}
    with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30) as root:
        account = root.post(
            "/account/new",
            json={"name": "Fuzz", "slug": slug, "email_domains": [f"{slug}.example"], "settings": {"smtp": smtp}},
        )
        assert account.status_code == 200, account.text
        account_id = account.json()["account_id"]
        admin_user = f"{slug}-admin"
        assert (
            root.post("/account/admin/add", json={"account_id": account_id, "user_id": admin_user}).status_code == 200
        )
        key = root.post("/key/generate", json={"user_id": admin_user}, headers={"X-Atrium-Account": account_id}).json()[
            "key"
        ]
    known = [slug, account_id, admin_user, f"someone@{slug}.example"]
    # The account admin first: the super admin's run may suspend or delete the fuzz account.
    yield {
        "account_admin": ({"Authorization": f"Bearer {key}"}, known),
        "anonymous": ({}, known),
        "super_admin": ({"Authorization": f"Bearer {master_key}"}, known),
    }
    mail.stop()


def test_schema_lists_every_atrium_router(spec: dict[str, Any]) -> None:
    paths = {op.path for op in atrium_operations(spec)}
    # One route of each Atrium router: if the tag filter stopped matching, the fuzz would test nothing.
    for expected in (
        "/account/new",
        "/atrium/status",
        "/v2/login/resolve",
        "/atrium/sso/config",
        "/atrium/invitation/new",
    ):
        assert expected in paths, sorted(paths)


@pytest.mark.parametrize("who", ["account_admin", "anonymous", "super_admin"])
def test_no_5xx_and_one_error_format(
    proxy: ProxyProcess, spec: dict[str, Any], principals: dict[str, tuple[dict[str, str], list[str]]], who: str
) -> None:
    headers, known = principals[who]
    failures: list[str] = []
    sent = 0
    with httpx.Client(base_url=proxy.base_url, headers=headers, timeout=60, follow_redirects=False) as client:
        for op in atrium_operations(spec):
            gen = Generator(spec, random.Random(f"{SEED}:{who}:{op}"), known)
            for index in range(CASES):
                case = make_case(gen, op, index)
                path = op.path
                for name, value in case.params.items():
                    path = path.replace("{" + name + "}", str(value))
                query = {k: v for k, v in case.params.items() if "{" + k + "}" not in op.path}
                response = client.request(
                    op.method.upper(),
                    f"{path}?{urlencode(query)}" if query else path,
                    content=case.content,
                    headers={"content-type": case.media} if case.media else None,
                )
                sent += 1
                problem = _problem(response)
                if problem:
                    failures.append(f"{op} case {index} (seed {SEED}, {who}): {problem}; {case.describe()}")
    assert sent >= CASES * 10
    assert not failures, "\n".join(failures[:20])


def _problem(response: httpx.Response) -> str | None:
    if response.status_code >= 500:
        return f"{response.status_code} {response.text[:300]}"
    if response.status_code < 400 or "json" not in response.headers.get("content-type", ""):
        return None
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not KEYS <= set(error):
        return f"{response.status_code} not in Atrium's error format: {response.text[:300]}"
    if len(response.content) > 4000:
        return f"{response.status_code} error body of {len(response.content)} bytes: input echoed?"
    return None
