"""Gateway overhead: ``atrium serve`` against vanilla LiteLLM on the same fake upstream.

    .venv/bin/python scripts/bench_overhead.py [--concurrency 32] [--duration 15] [--rounds 5]

Both proxies run at the same time, from the same config (model list pointing at one fake
upstream process, same master key), on the same freshly created and migrated PostgreSQL
database, with the same Prisma engine and worker count. Load comes from a separate
process (httpx, HTTP/1.1 keep-alive, fixed concurrency) driving non-streaming
``/v1/chat/completions`` with a virtual key generated on each proxy (on Atrium, a key of an
account created for the run: the tenant path); rounds alternate vanilla, atrium, vanilla, ...
so machine noise hits both alike. Only 200 responses count.

``--observability`` turns on LiteLLM's own ``otel`` (OTLP/HTTP to a loopback receiver that only
counts) and ``prometheus`` callbacks on both proxies: Atrium with its audit log, spans and account
labels against vanilla with the same callbacks (docs/observability.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from extensions import litellm
from extensions.prisma_engine import select_engine
from extensions.testing.fake_upstream import free_port
from extensions.testing.otlp import OtlpReceiver
from extensions.testing.processes import ProcessExited, stop_process, wait_until_answering
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.services import create_migrated_database, drop_database
from extensions.testing.vanilla import COMMON_ENV, vanilla_proxy

ROOT = Path(__file__).resolve().parents[1]
MASTER_KEY = "sk-bench-master-0123456789"
DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
SINGLE_MODEL = "bench-model"
ROUND_SETTLE_S = 1.0  # each round opens its connections during this uncounted second
RELOAD_INTERVAL_S = 30  # LiteLLM's default PROXY_CONFIG_RELOAD_INTERVAL_SECONDS
PROXIES = ("vanilla", "atrium")


# -- load generation (runs in its own process) ---------------------------------------------
@dataclass(frozen=True)
class RoundSpec:
    base_url: str
    targets: tuple[tuple[str, str], ...]  # (virtual key, model), used round-robin
    concurrency: int
    duration: float
    settle: float = ROUND_SETTLE_S


@dataclass
class RoundResult:
    ok: int  # 200 responses inside the measured window
    seconds: float
    latencies_ms: list[float]
    errors: dict[str, int]
    ok_all: int  # 200 responses of the whole round (settle second included), for CPU per request

    @property
    def rps(self) -> float:
        return self.ok / self.seconds


def run_round(spec: RoundSpec) -> RoundResult:
    """Entry point of the load process: one round against one proxy."""
    return asyncio.run(_drive(spec))


async def _drive(spec: RoundSpec) -> RoundResult:
    bodies = [
        (
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            json.dumps({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 16}),
        )
        for key, model in spec.targets
    ]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    ok_all = 0
    limits = httpx.Limits(max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency)
    async with httpx.AsyncClient(base_url=spec.base_url, limits=limits, timeout=60.0) as client:
        begin = time.perf_counter() + spec.settle
        end = begin + spec.duration

        async def worker(n: int) -> None:
            nonlocal ok_all
            # Open the connections one by one over the settle second: a burst of connects lands
            # mostly on one worker of a multi-worker proxy (they share one listening socket).
            await asyncio.sleep(n * spec.settle / (2 * spec.concurrency))
            while (t0 := time.perf_counter()) < end:
                headers, body = bodies[n % len(bodies)]
                n += spec.concurrency
                try:
                    status = str((await client.post("/v1/chat/completions", content=body, headers=headers)).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                t1 = time.perf_counter()
                ok_all += status == "200"
                if not begin <= t1 <= end:
                    continue  # completed during the settle second or after the window
                if status == "200":
                    latencies.append((t1 - t0) * 1000)
                else:
                    errors[status] += 1

        await asyncio.gather(*(worker(i) for i in range(spec.concurrency)))
    return RoundResult(len(latencies), spec.duration, latencies, dict(errors), ok_all)


# -- proxy CPU accounting (Linux /proc; None elsewhere) --------------------------------------
def _processes() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, user+system CPU seconds) of every process."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return found


def proxy_pid(port: int) -> int | None:
    """Our child process serving ``port`` (both proxies are started with ``--port <port>``)."""
    try:
        for pid, (ppid, _) in _processes().items():
            if ppid == os.getpid():
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if b"--port" in argv and str(port).encode() in argv:
                    return pid
    except OSError:
        pass
    return None


def tree_cpu_seconds(root_pid: int | None) -> float | None:
    """CPU of a process and all its descendants (uvicorn workers, the Prisma engine)."""
    if root_pid is None:
        return None
    try:
        procs = _processes()
    except (OSError, ValueError):
        return None
    return sum(procs.get(pid, (0, 0.0))[1] for pid in tree_pids(root_pid, procs))


def tree_pids(root_pid: int | None, procs: dict[int, tuple[int, float]] | None = None) -> list[int]:
    """A process and all its descendants (in ``procs``, a snapshot of ``_processes()``; default: now)."""
    if root_pid is None:
        return []
    procs = _processes() if procs is None else procs
    found: list[int] = []
    todo = [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(child for child, (ppid, _) in procs.items() if ppid == pid)
    return found


def _is_python(pid: int) -> bool:
    try:
        return b"python" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False


def pin_proxies(pids: list[int | None]) -> str:
    """Give the proxies' Python processes (server, uvicorn workers) every CPU but the first, and the
    first to everything else (this script, the load generator, the fake upstream, the Prisma
    engines): a proxy under load then never shares its core with the load it is measured under.
    Only one proxy is loaded at a time, so both get the same cores. Returns a line for the report."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return "not pinned (one CPU)"
    rest, proxy_cpus = {cpus[0]}, set(cpus[1:])
    proxies = {pid for root in pids for pid in tree_pids(root)}
    for pid in tree_pids(os.getpid()):  # the load process, spawned later, inherits this script's
        try:
            os.sched_setaffinity(pid, proxy_cpus if pid in proxies and _is_python(pid) else rest)
        except OSError:
            continue  # gone meanwhile
    return f"proxies on CPU {','.join(map(str, sorted(proxy_cpus)))}, load, upstream and engines on CPU {cpus[0]}"


def wait_until_idle(pids: list[int | None], timeout: float = 180.0) -> None:
    """Wait for the proxies to finish booting: two seconds in a row under 10% of a core each.

    With several workers, the first one answering the liveness probe says nothing of the others.
    """
    deadline, quiet = time.monotonic() + timeout, 0
    last = [tree_cpu_seconds(pid) for pid in pids]
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(1.0)
        now = [tree_cpu_seconds(pid) for pid in pids]
        idle = all(b is None or a is None or b - a < 0.1 for a, b in zip(last, now, strict=True))
        quiet, last = quiet + 1 if idle else 0, now
    if quiet < 2:
        print("warning: the proxies still use CPU after start-up; measuring anyway", file=sys.stderr)


# -- set-up --------------------------------------------------------------------------------
@dataclass
class Workload:
    config: dict[str, Any]
    key_models: list[list[str]]  # models of each virtual key to generate
    upstream_base: str
    per_account: bool  # Atrium's deployments come from its accounts, not from the config

    @property
    def atrium_config(self) -> dict[str, Any]:
        return {**self.config, "model_list": []} if self.per_account else self.config


def build_workload(upstream_base: str, accounts: int, models_per_account: int) -> Workload:
    """One model and one key; or ``accounts`` accounts, each with ``models_per_account`` models.

    Vanilla LiteLLM gets the N*M deployments in its config and one key per would-be account
    allowed its M models. Atrium gets the same N*M deployments the way tenants make them:
    N accounts, each adding its M models through ``/model/new`` (same public names in every
    account, so all N share names and only Atrium's per-account routing tells them apart).
    """
    if accounts <= 0:
        groups = [[SINGLE_MODEL]]
    else:
        groups = [[f"acct{a:03d}-m{m:02d}" for m in range(models_per_account)] for a in range(accounts)]
    config = {
        "model_list": [deployment(upstream_base, name) for group in groups for name in group],
        "general_settings": {"master_key": MASTER_KEY},
    }
    return Workload(config, groups, upstream_base, per_account=accounts > 0)


# Priced like a small hosted model, so every request is costed and, with --budgets, really reserved
# (an unpriced model would reserve nothing and make the budget path look cheaper than it is).
INPUT_COST_PER_TOKEN = 1.5e-7
OUTPUT_COST_PER_TOKEN = 6e-7


def deployment(upstream_base: str, name: str) -> dict[str, Any]:
    params = {
        "model": f"openai/{name}",
        "api_base": upstream_base,
        "api_key": "sk-bench-upstream",
        "input_cost_per_token": INPUT_COST_PER_TOKEN,
        "output_cost_per_token": OUTPUT_COST_PER_TOKEN,
    }
    return {"model_name": name, "litellm_params": params}


def start_upstream(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "extensions.testing.fake_upstream", "--port", str(port), "--name", "bench"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if wait_until_answering(f"http://127.0.0.1:{port}/v1/models", proc, 30):
            return proc
    except ProcessExited as exc:
        raise RuntimeError(f"fake upstream {exc}") from exc
    stop_process(proc)
    raise RuntimeError("fake upstream did not start")


def observed(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with LiteLLM's own OpenTelemetry and Prometheus callbacks on."""
    settings = dict(config.get("litellm_settings") or {})
    settings["callbacks"] = [*(settings.get("callbacks") or []), "otel", "prometheus"]
    return {**config, "litellm_settings": settings}


def otel_env(sink: OtlpReceiver | None) -> dict[str, str]:
    return {} if sink is None else {"OTEL_EXPORTER": "otlp_http", "OTEL_ENDPOINT": sink.endpoint}


def make_proxies(
    workdir: Path,
    dsn: str,
    workload: Workload,
    workers: int,
    redis_url: str | None = None,
    sink: OtlpReceiver | None = None,
) -> dict[str, ProxyProcess]:
    """Both proxies; with ``sink``, both with LiteLLM's otel (exporting to it) and prometheus callbacks."""
    config, atrium_config = workload.config, workload.atrium_config
    if sink is not None:
        config, atrium_config = observed(config), observed(atrium_config)
    # The same REDIS_URL on both: LiteLLM itself uses it (spend counters, caches), in Atrium as in vanilla.
    vanilla = vanilla_proxy(
        workdir,
        database_url=dsn,
        master_key=MASTER_KEY,
        config=config,
        workers=workers,
        extra_env=otel_env(sink),
        redis_url=redis_url,
    )
    atrium = ProxyProcess(
        workdir,
        database_url=dsn,
        master_key=MASTER_KEY,
        config=atrium_config,
        # The bench's upstream is on loopback, which the egress policy refuses for account models.
        extra_env={**COMMON_ENV, "ATRIUM_EGRESS_ALLOW": "127.0.0.1", **otel_env(sink)},
        workers=workers,
        redis_url=redis_url,  # the per-account RPM/TPM windows (--budgets)
    )
    return {"vanilla": vanilla, "atrium": atrium}


def _ok(reply: httpx.Response) -> dict[str, Any]:
    if reply.status_code != 200:
        raise RuntimeError(f"{reply.request.method} {reply.request.url}: {reply.status_code} {reply.text[:300]}")
    body: dict[str, Any] = reply.json()
    return body


def _new_account(root: httpx.Client, slug: str) -> str:
    account_id: str = _ok(root.post("/account/new", json={"name": slug, "slug": slug}))["account_id"]
    return account_id


def _bench_plan(root: httpx.Client) -> str:
    """A plan whose RPM/TPM are far above the load, so the per-account limiter counts every request."""
    plan_id = f"bench-{os.getpid()}"
    if root.get("/plan/info", params={"plan_id": plan_id}).status_code != 200:
        limits = {"rpm": 10_000_000, "tpm": 1_000_000_000}
        _ok(root.post("/plan/new", json={"plan_id": plan_id, "name": "bench", "limits": limits}))
    return plan_id


def generate_keys(
    proxy: ProxyProcess, workload: Workload, *, atrium: bool, budgets: bool = False
) -> tuple[tuple[str, str], ...]:
    """(key, model) targets. On Atrium keys belong to accounts; with --accounts each account
    first adds its own models, under public names shared by every account. With --budgets each
    account gets a budget it never reaches, so every request is reserved and settled."""
    targets: list[list[tuple[str, str]]] = []
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    with httpx.Client(base_url=proxy.base_url, headers=headers, timeout=60) as root:
        for a, models in enumerate(workload.key_models):
            acting = dict(headers)
            names = models
            if atrium and (workload.per_account or a == 0):
                acting["X-Atrium-Account"] = _new_account(root, f"bench-{os.getpid()}-{a}")
                if budgets:
                    account_id = acting["X-Atrium-Account"]
                    budget = {"account_id": account_id, "max_budget": 1_000_000, "budget_duration": "calendar_month"}
                    _ok(root.post("/account/budget", json=budget))
                    assigned = {"account_id": account_id, "plan_id": _bench_plan(root)}
                    _ok(root.post("/account/plan/assign", json=assigned))
            if atrium and workload.per_account:
                names = [f"m{m:02d}" for m in range(len(models))]
                for public, internal in zip(names, models, strict=True):
                    body = deployment(workload.upstream_base, internal)
                    _ok(root.post("/model/new", headers=acting, json={**body, "model_name": public}))
            key = _ok(root.post("/key/generate", headers=acting, json={"models": names}))["key"]
            targets.append([(key, name) for name in names])
    # Interleave keys so consecutive requests use different keys (and models).
    return tuple(group[m] for m in range(len(targets[0])) for group in targets)


async def budget_ledger(dsn: str) -> dict[str, float]:
    """What Atrium's account ledger settled over the run: the proof that --budgets reserved and
    settled every request rather than skipping the path (read after the last flush)."""
    await asyncio.sleep(2.0)
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            'SELECT coalesce(sum(requests), 0) AS requests, coalesce(sum(spend), 0) AS spend FROM "Atrium_BudgetPeriod"'
        )
    finally:
        await conn.close()
    return {"requests": int(row["requests"]), "spend": float(row["spend"])}


def wait_until_served(proxy: ProxyProcess, targets: tuple[tuple[str, str], ...], workers: int) -> None:
    """Models added through the API reach the other workers on LiteLLM's next DB reload."""
    if workers > 1:
        time.sleep(RELOAD_INTERVAL_S + 5)
    with httpx.Client(base_url=proxy.base_url, timeout=60) as client:
        for key, model in targets:
            body = {"model": model, "messages": [{"role": "user", "content": "warm"}]}
            _ok(client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json=body))


# -- reporting -----------------------------------------------------------------------------
@dataclass
class ProxyStats:
    rounds: list[RoundResult] = field(default_factory=list)
    cpu_seconds: float | None = 0.0  # proxy process tree, over whole rounds; None: not measurable

    @property
    def mean_rps(self) -> float:
        return statistics.fmean(r.rps for r in self.rounds)

    def percentile(self, q: float) -> float:
        return percentile([x for r in self.rounds for x in r.latencies_ms], q)

    @property
    def errors(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for r in self.rounds:
            total.update(r.errors)
        return dict(total)

    @property
    def cpu_ms_per_request(self) -> float | None:
        ok = sum(r.ok_all for r in self.rounds)
        return None if self.cpu_seconds is None or not ok else self.cpu_seconds * 1000 / ok


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def ratios(stats: dict[str, ProxyStats]) -> dict[str, float]:
    v, a = stats["vanilla"], stats["atrium"]
    return {
        "req/s": a.mean_rps / v.mean_rps if v.mean_rps else float("nan"),
        "p50": a.percentile(0.5) / v.percentile(0.5),
        "p99": a.percentile(0.99) / v.percentile(0.99),
    }


def round_ratios(stats: dict[str, ProxyStats]) -> list[float]:
    pairs = zip(stats["vanilla"].rounds, stats["atrium"].rounds, strict=True)
    return [a.rps / v.rps if v.rps else float("nan") for v, a in pairs]


def render(
    stats: dict[str, ProxyStats], args: argparse.Namespace, deployments: int, keys: int, pinning: str = "not pinned"
) -> str:
    litellm_version = litellm.CONTRACT.versions.get("litellm", "")
    lines = [
        f"gateway overhead: atrium serve vs vanilla LiteLLM {litellm_version}",
        f"concurrency {args.concurrency}, {args.duration:g} s x {args.rounds} round(s) each, interleaved; "
        f"warm-up {args.warmup:g} s; workers {args.workers}; deployments {deployments}; keys {keys}; "
        f"{os.cpu_count()} CPU(s), Prisma engine {select_engine().kind}; {pinning}",
        "",
        f"{'round':<6}{'proxy':<9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}",
    ]
    for i in range(args.rounds):
        for name in PROXIES:
            r = stats[name].rounds[i]
            lines.append(
                f"{i + 1:<6}{name:<9}{r.rps:>9.1f}{percentile(r.latencies_ms, 0.5):>9.1f}"
                f"{percentile(r.latencies_ms, 0.99):>9.1f}{sum(r.errors.values()):>8}"
            )
    header = f"{'proxy':<9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'CPU ms/req':>12}"
    lines += ["", f"{header}  req/s per round"]
    for name in PROXIES:
        s = stats[name]
        cpu = f"{s.cpu_ms_per_request:.2f}" if s.cpu_ms_per_request is not None else "n/a"
        per_round = ", ".join(f"{r.rps:.1f}" for r in s.rounds)
        lines.append(
            f"{name:<9}{s.mean_rps:>9.1f}{s.percentile(0.5):>9.1f}{s.percentile(0.99):>9.1f}"
            f"{sum(s.errors.values()):>8}{cpu:>12}  {per_round}"
        )
        if s.errors:
            lines.append(f"  {name} errors by status: {s.errors}")
    ratio = ", ".join(f"{k} {v:.3f}x" for k, v in ratios(stats).items())
    paired = round_ratios(stats)
    lines += [
        "",
        f"ratio atrium/vanilla: {ratio}",
        # Each atrium round against the vanilla round just before it: a slow minute of the machine
        # hits a pair rather than one side, and the median ignores the odd pair it spoilt.
        f"per-round req/s ratios: {', '.join(f'{r:.3f}' for r in paired)}; median {statistics.median(paired):.3f}x",
    ]
    return "\n".join(lines)


def as_json(stats: dict[str, ProxyStats]) -> dict[str, Any]:
    paired = round_ratios(stats)
    out: dict[str, Any] = {
        "ratio_atrium_vanilla": ratios(stats),
        "round_ratios": paired,
        "median_round_ratio": statistics.median(paired),
    }
    for name, s in stats.items():
        out[name] = {
            "mean_rps": s.mean_rps,
            "p50_ms": s.percentile(0.5),
            "p99_ms": s.percentile(0.99),
            "errors": s.errors,
            "cpu_ms_per_request": s.cpu_ms_per_request,
            "rounds": [
                {
                    **{k: v for k, v in asdict(r).items() if k != "latencies_ms"},
                    "rps": r.rps,
                    "p50_ms": percentile(r.latencies_ms, 0.5),
                    "p99_ms": percentile(r.latencies_ms, 0.99),
                }
                for r in s.rounds
            ],
        }
    return out


# -- main ----------------------------------------------------------------------------------
def measure(
    proxies: dict[str, ProxyProcess],
    targets: dict[str, tuple[tuple[str, str], ...]],
    args: argparse.Namespace,
) -> dict[str, ProxyStats]:
    stats = {name: ProxyStats() for name in PROXIES}
    pids = {name: proxy_pid(proxy.port) for name, proxy in proxies.items()}

    def spec(name: str, duration: float) -> RoundSpec:
        return RoundSpec(proxies[name].base_url, targets[name], args.concurrency, duration)

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as load:
        for name in PROXIES:
            if args.warmup > 0:
                load.submit(run_round, spec(name, args.warmup)).result()
        for i in range(args.rounds):
            for name in PROXIES:
                before = tree_cpu_seconds(pids[name])
                result = load.submit(run_round, spec(name, args.duration)).result()
                after = tree_cpu_seconds(pids[name])
                s = stats[name]
                s.rounds.append(result)
                s.cpu_seconds = (
                    None if s.cpu_seconds is None or before is None or after is None else s.cpu_seconds + after - before
                )
                print(f"round {i + 1} {name}: {result.rps:.1f} req/s", file=sys.stderr, flush=True)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if min(args.concurrency, args.rounds, args.workers) < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--concurrency, --rounds and --workers must be >= 1, --duration > 0, --warmup >= 0")
    server_dsn = args.database_url or os.environ.get("DATABASE_URL") or DEFAULT_SERVER_DSN
    dsn = asyncio.run(create_migrated_database(server_dsn, "bench_overhead"))
    upstream: subprocess.Popen[bytes] | None = None
    proxies: dict[str, ProxyProcess] = {}
    ledger: dict[str, float] | None = None
    pinning = "not pinned"
    sink = OtlpReceiver(keep=False).start() if args.observability else None
    tmp = tempfile.TemporaryDirectory(prefix="bench-overhead-")
    try:
        port = free_port()
        upstream = start_upstream(port)
        workload = build_workload(f"http://127.0.0.1:{port}/v1", args.accounts, args.models_per_account)
        redis_url = (args.redis_url or os.environ.get("REDIS_URL")) if args.budgets else None
        proxies = make_proxies(Path(tmp.name), dsn, workload, args.workers, redis_url, sink)
        print(f"starting both proxies (database {dsn.rsplit('/', 1)[1]})", file=sys.stderr, flush=True)
        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(p.start) for p in proxies.values()]:
                future.result()
        started = time.monotonic()
        wait_until_idle([proxy_pid(proxy.port) for proxy in proxies.values()])
        print(f"proxies idle {time.monotonic() - started:.0f} s after start", file=sys.stderr)
        pinning = pin_proxies([proxy_pid(proxy.port) for proxy in proxies.values()]) if args.pin else "not pinned"
        targets = {
            name: generate_keys(proxy, workload, atrium=name == "atrium", budgets=args.budgets)
            for name, proxy in proxies.items()
        }
        if workload.per_account:
            wait_until_served(proxies["atrium"], targets["atrium"], args.workers)
        stats = measure(proxies, targets, args)
        ledger = asyncio.run(budget_ledger(dsn)) if args.budgets else None
    finally:
        for proxy in proxies.values():
            proxy.stop()
        if upstream is not None:
            upstream.terminate()
            upstream.wait(timeout=10)
        asyncio.run(drop_database(server_dsn, dsn))
        tmp.cleanup()
        if sink is not None:
            sink.stop()
    print(render(stats, args, len(workload.config["model_list"]), len(workload.key_models), pinning))
    if sink is not None:
        print(f"observability: otel + prometheus on both; {sink.count} OTLP export batches received")
    if ledger is not None:
        print(f"budgets: the account ledger settled {ledger['requests']} requests, ${ledger['spend']:.4f}")
    if args.json:
        payload = {"settings": vars(args), "cpus": os.cpu_count(), "pinning": pinning, "results": as_json(stats)}
        if ledger is not None:
            payload["budget_ledger"] = ledger
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Results go to stdout; progress to stderr. The database is dropped at the end.",
    )
    add = parser.add_argument
    add("--concurrency", type=int, default=32, help="requests in flight (keep-alive connections), default 32")
    add("--duration", type=float, default=15.0, help="measured seconds per round, default 15")
    add("--rounds", type=int, default=5, help="rounds per proxy, interleaved vanilla/atrium, default 5")
    add(
        "--warmup",
        type=float,
        default=15.0,
        # 5 s left Atrium's first round up to 40 % slow with otel on (lazy start-up work under load).
        help="uncounted load per proxy before round 1, seconds, default 15",
    )
    add("--workers", type=int, default=1, help="uvicorn workers of each proxy, default 1")
    add(
        "--accounts",
        type=int,
        default=0,
        help="0 (default): one model, one key. N>0: N accounts with --models-per-account models each: "
        "N*M deployments in vanilla's config, and on Atrium added by each account through /model/new "
        "under the same public names in every account; one key per account",
    )
    add(
        "--models-per-account",
        type=int,
        default=5,
        help="models (deployments) per account with --accounts, default 5",
    )
    add(
        "--database-url",
        help="DSN of the PostgreSQL server to use (any database on it, e.g. .../postgres); a fresh "
        "database is created there, migrated and dropped at the end "
        f"(default: env DATABASE_URL, else {DEFAULT_SERVER_DSN})",
    )
    add(
        "--budgets",
        action="store_true",
        help="give each Atrium account a budget and a plan with RPM/TPM limits (never reached)",
    )
    add("--redis-url", help="with --budgets: the Redis of Atrium's RPM/TPM windows (default: env REDIS_URL)")
    add(
        "--observability",
        action="store_true",
        help="both proxies with LiteLLM's otel (OTLP/HTTP to a local sink) and prometheus callbacks; "
        "Atrium adds its spans and account labels (its audit log is always on)",
    )
    add(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with 2+ CPUs, run the proxies on all CPUs but the first and everything else on the first "
        "(default on; --no-pin leaves placement to the kernel)",
    )
    add("--json", metavar="PATH", help="also write the results as JSON to PATH")
    return parser


if __name__ == "__main__":
    sys.exit(main())
