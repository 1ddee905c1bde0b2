"""Load through `POST /sms/twilio` on both stores against a bare aiohttp baseline, Redis
memory per idle session, and KB search latency as the KB grows (issue 7, "Performance").

    .venv/bin/python bench/load_bench.py [--levels 50,500] [--think 2] [--json]
    .venv/bin/python bench/load_bench.py --quick        # a smoke run, seconds
    .venv/bin/python bench/load_bench.py --profile      # + cProfile of the Redis server

Each target is a separate server process on a free 127.0.0.1 port; the load generator
(one aiohttp client, keep-alive, in this process) is the same for all of them:
- `baseline`: a bare aiohttp handler that parses the form and returns a fixed TwiML;
- `embedded`: `residentbot serve` on the embedded store in a temporary data directory;
- `redis`: `residentbot serve` with REDIS_URL on a redis-server of our own (AOF on,
  fsync every second, as bench/store_bench.py starts it);
- `redis-x2`: two such workers on the same Redis, residents shared between them in turn
  as a reverse proxy would (docs/DEPLOY.md, "Workers"): what adding a worker buys.
The bot's requests are signed as Twilio signs them (HMAC-SHA1 of RESIDENTBOT_PUBLIC_URL
+ path + sorted form, twilio's RequestValidator) with a TWILIO_AUTH_TOKEN set for the run.

At each level N of `--levels`, N residents (distinct `From` numbers) talk at once; each
sends a conversation of `CONVERSATION` one message after the other, the next as soon as
the answer is read (closed loop, no think time: the most a server can take, where by
Little's law latency ≈ N / throughput). Each worker plays `--rounds` residents in turn.
With `--think S`, the top level is run once more with each resident pausing a random
0.5·S–1.5·S between messages, as people do: the latency at that offered load.

Then: Redis memory per resident left idle mid-questionnaire (INFO used_memory before and
after, and MEMORY USAGE of every key by namespace), and bench/search_bench.py run as it
is for the KB sizes. Nothing is written into the repository.

Goals (issue 7): with Redis at least 40 % of the baseline's messages per second; p99 under
50 ms at 500 concurrent residents; an idle session at most 2 KB in Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import redis  # noqa: E402
from aiohttp import web  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bench.store_bench import free_port, redis_server  # noqa: E402

# A resident's conversation: the menu, a KB question, the screening, its first answers.
CONVERSATION = ("菜单", "吃低保要什么条件", "测一测", "奉节县", "农村", "没有", "67", "都没有")
TOKEN = "bench-twilio-auth-token-0123456789"
PUBLIC_URL = "https://residentbot.example.test"  # the URL the signatures are made for
PATH = "/sms/twilio"
BARE_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>收到</Message></Response>'
GOAL_RATIO, GOAL_P99_MS, GOAL_SESSION_BYTES = 0.40, 50.0, 2048
DEPLOYMENT_VARIABLES = ("TELEGRAM_", "TWILIO_", "SMS_", "RESIDENTBOT_", "REDIS_URL")


# --- requests ------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    body: bytes  # the urlencoded form
    signature: str


def conversation(number: str, first_sid: int, validator: RequestValidator) -> list[Message]:
    """One resident's messages, signed in advance so that the client does little work."""
    out = []
    for i, text in enumerate(CONVERSATION):
        form = {
            "MessageSid": f"SM{first_sid + i:032x}",
            "AccountSid": "AC" + "0" * 32,
            "From": number,
            "To": "+8610690000",
            "Body": text,
            "NumSegments": "1",
        }
        signature = validator.compute_signature(PUBLIC_URL + PATH, form)
        out.append(Message(urlencode(form).encode(), signature))
    return out


def residents(count: int, first: int) -> list[list[Message]]:
    """`count` residents with distinct numbers from `first` on."""
    validator = RequestValidator(TOKEN)
    return [
        conversation(f"+86139{first + n:08d}", (first + n) * len(CONVERSATION), validator)
        for n in range(count)
    ]


# --- the load generator --------------------------------------------------------------


@dataclass
class Run:
    target: str
    residents: int
    think: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int | str] = field(default_factory=Counter)
    seconds: float = 0.0
    server_cpu_s: float | None = None  # the server process's user + system CPU time
    client_cpu_s: float = 0.0  # this process's, the load generator's

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        ok = self.statuses.get(200, 0)
        return {
            "target": self.target,
            "residents": self.residents,
            "think_s": self.think,
            "messages": len(ordered),
            "seconds": round(self.seconds, 2),
            "msgs_per_s": round(ok / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(statistics.median(ordered), 2) if ordered else None,
            "p99_ms": round(percentile(ordered, 99), 2) if ordered else None,
            "max_ms": round(ordered[-1], 2) if ordered else None,
            "errors": {str(k): v for k, v in self.statuses.items() if k != 200},
            "server_cpu_ms_per_msg": (
                round(self.server_cpu_s * 1000 / len(ordered), 3)
                if self.server_cpu_s is not None and ordered
                else None
            ),
            "server_cpu_pct": (
                round(100 * self.server_cpu_s / self.seconds)
                if self.server_cpu_s is not None and self.seconds
                else None
            ),
            "client_cpu_pct": round(100 * self.client_cpu_s / self.seconds)
            if self.seconds
            else None,
        }


def percentile(ordered: Sequence[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def servers_cpu_seconds(pids: Sequence[int]) -> float | None:
    """The CPU time of all the server processes together; None when unknown."""
    times = [cpu_seconds(pid) for pid in pids]
    return None if not times or None in times else sum(t for t in times if t is not None)


async def drive(
    urls: Sequence[str],
    people: list[list[Message]],
    workers: int,
    run: Run,
    think: float = 0.0,
    pids: Sequence[int] = (),
) -> Run:
    """`workers` residents at once; each worker plays its share of `people` in turn,
    worker i talking to `urls[i % len(urls)]`. `pids`: the server processes, whose CPU
    time the run records."""
    connector = aiohttp.TCPConnector(limit=workers, limit_per_host=workers)
    timeout = aiohttp.ClientTimeout(total=60)
    pending = iter(people)
    rng = random.Random(7)

    async def worker(session: aiohttp.ClientSession, url: str) -> None:
        for messages in pending:
            for n, message in enumerate(messages):
                if think:  # the first message too: residents do not all start at once
                    await asyncio.sleep(
                        rng.uniform(0.5, 1.5) * think if n else rng.uniform(0, think)
                    )
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": message.signature,
                }
                began = time.perf_counter()
                try:
                    async with session.post(url, data=message.body, headers=headers) as answer:
                        body = await answer.read()
                        status: int | str = answer.status
                        if status == 200 and b"<Response" not in body:
                            status = "not TwiML"
                except (aiohttp.ClientError, TimeoutError) as error:
                    status = type(error).__name__
                run.latencies_ms.append((time.perf_counter() - began) * 1000)
                run.statuses[status] += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        server_before = servers_cpu_seconds(pids)
        client_before, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(session, urls[i % len(urls)]) for i in range(workers)))
        run.seconds = time.perf_counter() - started
        run.client_cpu_s = time.process_time() - client_before
        server_after = servers_cpu_seconds(pids)
        if server_before is not None and server_after is not None:
            run.server_cpu_s = server_after - server_before
    return run


# --- server processes ----------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    store: str  # baseline | embedded | redis
    redis_query: str = ""  # added to REDIS_URL (redis-py reads pool options from it)
    workers: int = 1  # server processes, sharing the residents in turn


TARGETS = (
    Target("baseline", "baseline"),
    Target("embedded", "embedded"),
    Target("redis", "redis"),  # its pool of 50 connections waits for a free one
    Target("redis-x2", "redis", workers=2),
)
REDIS_TARGETS = tuple(t.name for t in TARGETS if t.store == "redis")


@dataclass
class Server:
    base: str
    log: Path
    pid: int


def clean_environment() -> dict[str, str]:
    """This shell's environment without any deployment setting of its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith(DEPLOYMENT_VARIABLES)}


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited ({process.returncode}):\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(base + "/healthz", timeout=1):
            return
        time.sleep(0.1)
    process.kill()
    sys.exit(f"the server did not answer /healthz within 60 s:\n{log.read_text()[-2000:]}")


@contextlib.contextmanager
def server(
    target: Target, workdir: Path, redis_url: str | None = None, profile: Path | None = None
) -> Iterator[Server]:
    """A server process for `target` on a free port. Stopped with SIGTERM (a profile is
    written then)."""
    port = free_port()
    env = clean_environment()
    if target.store == "baseline":
        command = [sys.executable, str(Path(__file__).resolve()), "--bare-server", str(port)]
    else:
        env |= {
            "RESIDENTBOT_HOST": "127.0.0.1",
            "RESIDENTBOT_PORT": str(port),
            "RESIDENTBOT_DATA_DIR": str(workdir / f"data-{port}"),
            "RESIDENTBOT_PUBLIC_URL": PUBLIC_URL,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "RESIDENTBOT_LOG_LEVEL": "WARNING",
        }
        if target.store == "redis" and redis_url:
            env["REDIS_URL"] = redis_url + target.redis_query
        command = [sys.executable, "-m", "bot", "serve"]
        if profile is not None:
            command = [sys.executable, "-m", "cProfile", "-o", str(profile), *command[1:]]
    log = workdir / f"server-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, log)
        yield Server(base, log, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def servers(target: Target, workdir: Path, redis_url: str | None = None) -> Iterator[list[Server]]:
    """`target.workers` server processes for `target`, each on its own port."""
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(server(target, workdir, redis_url)) for _ in range(target.workers)
        ]


def log_summary(log: Path) -> dict[str, int]:
    """The server's WARNING and ERROR lines, counted with their time stripped."""
    found: Counter[str] = Counter()
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[2].startswith(("WARNING", "ERROR", "CRITICAL")):
            found[parts[2][:160]] += 1
    return dict(found.most_common(5))


def serve_bare(port: int) -> None:
    """The baseline: parse the form, answer a fixed TwiML; nothing else."""

    async def handle(request: web.Request) -> web.Response:
        form = await request.post()
        if not form.get("Body"):
            return web.Response(status=400)
        return web.Response(text=BARE_TWIML, content_type="application/xml")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post(PATH, handle)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# --- one target ------------------------------------------------------------------------


@dataclass
class Plan:
    levels: list[int]
    messages: int  # at least this many messages at each level (whole residents per worker)
    think: float  # mean pause of the paced run at the top level; 0: no paced run
    warmup: int  # residents talking before anything is measured


@dataclass
class Residents:
    """Hands out residents with numbers never used before in this run."""

    next: int = 0

    def take(self, count: int) -> list[list[Message]]:
        people = residents(count, self.next)
        self.next += count
        return people


async def load(
    target: Target, running: Sequence[Server], plan: Plan, pool: Residents, paced: bool
) -> list[Run]:
    """Warm-up, then each level, then (if `paced`) the paced run at the top level."""
    urls, pids = [s.base + PATH for s in running], [s.pid for s in running]
    warm = max(plan.warmup, len(urls))
    await drive(urls, pool.take(warm), min(warm, 20), Run(target.name, 0))
    runs = []
    for level in plan.levels:
        rounds = max(1, -(-plan.messages // (level * len(CONVERSATION))))
        people = pool.take(level * rounds)
        runs.append(await drive(urls, people, level, Run(target.name, level), pids=pids))
    if paced and plan.think:
        top = max(plan.levels)
        people = pool.take(top)
        run = Run(target.name, top, plan.think)
        runs.append(await drive(urls, people, top, run, plan.think, pids))
    return runs


def redis_memory(client: redis.Redis, before: int) -> dict[str, Any]:
    """Per resident left idle: used_memory growth, and MEMORY USAGE of every key by
    namespace; the residents are those with a session."""
    after = int(client.info("memory")["used_memory"])
    by_namespace: dict[str, list[int]] = {}
    names = [name.decode() for name in client.scan_iter(match="rb:*", count=1000)]
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.memory_usage(name, samples=0)
    for name, size in zip(names, pipe.execute(), strict=True):
        by_namespace.setdefault(name.split(":")[1], []).append(int(size or 0))
    sessions = by_namespace.get("session", [])
    count = max(len(sessions), 1)
    sample = next(iter(client.scan_iter(match="rb:session:*", count=1000)), None)
    raw = client.get(sample) if sample else None
    return {
        "residents": len(sessions),
        "used_memory_growth_per_resident_b": round((after - before) / count),
        "session_memory_usage_mean_b": round(statistics.mean(sessions)) if sessions else None,
        "session_memory_usage_max_b": max(sessions) if sessions else None,
        "session_json_b": len(raw) if isinstance(raw, bytes) else None,
        "by_namespace": {
            ns: {"keys": len(sizes), "bytes_per_resident": round(sum(sizes) / count)}
            for ns, sizes in sorted(by_namespace.items())
        },
    }


def kb_search(sizes: str) -> list[dict[str, Any]]:
    """bench/search_bench.py as it is, one round, as JSON."""
    script = str(ROOT / "bench" / "search_bench.py")
    done = subprocess.run(
        [sys.executable, script, "--sizes", sizes, "--rounds", "1", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=clean_environment(),
    )
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


# --- profiling -----------------------------------------------------------------------

PROJECT = ("bot/", "dialogues/", "knowledge/", "integrations/")


def profile_rows(loaded: Path, idle: Path) -> dict[str, list[dict[str, Any]]]:
    """The load's own profile: the dump of start-up + warm-up + load minus the dump of
    start-up + warm-up alone. The functions with most time of their own, and the
    project's functions with most time in total."""
    import pstats

    def entries(path: Path) -> dict[Any, Any]:
        return pstats.Stats(str(path)).stats  # type: ignore[attr-defined]

    before = entries(idle)
    rows = []
    for key, (_cc, calls, own, total, _callers) in entries(loaded).items():
        _c0, calls0, own0, total0, _ = before.get(key, (0, 0, 0.0, 0.0, None))
        filename, line, name = key
        rows.append(
            {
                "function": f"{shorten(filename)}:{line}({name})",
                "calls": calls - calls0,
                "own_s": round(own - own0, 3),
                "total_s": round(total - total0, 3),
            }
        )
    own = sorted(rows, key=lambda r: r["own_s"], reverse=True)[:20]
    project = [r for r in rows if r["function"].startswith(PROJECT) and r["calls"] > 0]
    project.sort(key=lambda r: r["total_s"], reverse=True)
    return {"own": own, "project_total": project[:25]}


def shorten(filename: str) -> str:
    for marker in (str(ROOT) + "/", "site-packages/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


async def profile_redis(
    workdir: Path, url: str, client: redis.Redis, plan: Plan, pool: Residents
) -> dict[str, Any]:
    """cProfile of the redis server: once warm-up only, once warm-up + top level."""
    target = TARGETS[2]  # one redis worker
    idle, loaded = workdir / "idle.prof", workdir / "loaded.prof"
    warm_only = Plan([], plan.messages, 0.0, plan.warmup)
    client.flushall()
    with server(target, workdir, url, profile=idle) as running:
        await load(target, [running], warm_only, pool, paced=False)
    client.flushall()
    top = Plan([max(plan.levels)], plan.messages, 0.0, plan.warmup)
    with server(target, workdir, url, profile=loaded) as running:
        run = (await load(target, [running], top, pool, paced=False))[0]
    return {"run": run.summary(), **profile_rows(loaded, idle)}


# --- the whole run ---------------------------------------------------------------------


async def run_all(plan: Plan, kb_sizes: str, profile: bool) -> dict[str, Any]:
    results: dict[str, Any] = {
        "conversation": list(CONVERSATION),
        "levels": plan.levels,
        "think_s": plan.think,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "runs": [],
        "server_logs": {},
    }
    pool = Residents()
    with (
        tempfile.TemporaryDirectory(prefix="residentbot-load-") as tmp,
        redis_server() as url,
    ):
        workdir = Path(tmp)
        client = redis.Redis.from_url(url)
        try:
            for target in TARGETS:
                client.flushall()
                with servers(target, workdir, url) as running:
                    before = int(client.info("memory")["used_memory"])
                    paced = target.store != "baseline"
                    runs = await load(target, running, plan, pool, paced)
                    if target.name == "redis":
                        results["redis_memory"] = redis_memory(client, before)
                results["runs"] += [r.summary() for r in runs]
                for one in running:
                    found = results["server_logs"].setdefault(target.name, {})
                    for line, count in log_summary(one.log).items():
                        found[line] = found.get(line, 0) + count
            if profile:
                results["profile"] = await profile_redis(workdir, url, client, plan, pool)
        finally:
            client.close()
    results["kb_search"] = kb_search(kb_sizes)
    results["goals"] = goals(results["runs"], results["redis_memory"], plan)
    return results


def goals(runs: list[dict[str, Any]], memory: dict[str, Any], plan: Plan) -> dict[str, Any]:
    closed = {(r["target"], r["residents"]): r for r in runs if not r["think_s"]}
    paced = {r["target"]: r for r in runs if r["think_s"]}
    out: dict[str, Any] = {}
    for level in plan.levels:
        base = closed[("baseline", level)]["msgs_per_s"]
        for target in TARGETS[1:]:
            row = closed[(target.name, level)]
            row["vs_baseline"] = round(row["msgs_per_s"] / base, 3) if base else None
        for name in REDIS_TARGETS:
            ratio = closed[(name, level)]["vs_baseline"]
            out[f"{name} msg/s vs baseline, {level}"] = {
                "value": ratio,
                "goal": f">= {GOAL_RATIO}",
                "met": ratio is not None and ratio >= GOAL_RATIO,
            }
    top = max(plan.levels)
    for target in TARGETS[1:]:
        rows = [("", closed[(target.name, top)])]
        if target.name in paced:
            rows.append((" paced", paced[target.name]))
        for kind, row in rows:
            p99, errors = row["p99_ms"], sum(row["errors"].values())
            out[f"{target.name} p99 ms, {top}{kind}"] = {
                "value": p99,
                "goal": f"< {GOAL_P99_MS:g}, no errors",
                "met": p99 is not None and p99 < GOAL_P99_MS and not errors,
                # with no pause, the bare handler's own p99: the queue, not the work
                **({} if kind else {"baseline": closed[("baseline", top)]["p99_ms"]}),
            }
    session = memory.get("session_memory_usage_mean_b")
    out["redis idle session bytes"] = {
        "value": session,
        "goal": f"<= {GOAL_SESSION_BYTES}",
        "met": session is not None and session <= GOAL_SESSION_BYTES,
    }
    return out


# --- output ------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    lines = [
        f"POST {PATH}, each resident {len(CONVERSATION)} messages in turn "
        f"({' / '.join(CONVERSATION)}); {results['cpus']} CPUs, Python {results['python']}",
        "think 0: the next message as soon as the answer is read; think S: a pause of "
        "0.5·S-1.5·S first",
        "",
        f"{'target':<11}{'residents':>10}{'think s':>8}{'msgs':>6}{'msg/s':>8}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'vs base':>8}{'srv ms/msg':>11}{'srv cpu':>8}"
        f"{'client cpu':>11}  errors",
    ]
    for r in results["runs"]:
        ratio = r.get("vs_baseline")
        lines.append(
            f"{r['target']:<11}{r['residents']:>10}{r['think_s']:>8g}{r['messages']:>6}"
            f"{r['msgs_per_s']:>8}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['max_ms']:>9}"
            f"{'' if ratio is None else f'{ratio:.1%}':>8}"
            f"{_maybe(r['server_cpu_ms_per_msg']):>11}{_maybe(r['server_cpu_pct'], '%'):>8}"
            f"{_maybe(r['client_cpu_pct'], '%'):>11}  "
            f"{', '.join(f'{k}: {v}' for k, v in r['errors'].items()) or '-'}"
        )
    lines += ["", "goals:"]
    for name, goal in results["goals"].items():
        verdict = "met" if goal["met"] else "NOT met"
        base = f"  (baseline {goal['baseline']})" if "baseline" in goal else ""
        lines.append(f"  {name:<34}{goal['value']!s:>9}  (goal {goal['goal']})  {verdict}{base}")
    logged = {name: found for name, found in results["server_logs"].items() if found}
    if logged:
        lines += ["", "server warnings and errors (most frequent):"]
        for name, found in logged.items():
            for line, count in found.items():
                lines.append(f"  {name:<11}{count:>6} x {line}")
    memory = results["redis_memory"]
    lines += [
        "",
        f"redis memory, {memory['residents']} residents left idle mid-questionnaire:",
        f"  one session: MEMORY USAGE mean {memory['session_memory_usage_mean_b']} B, "
        f"max {memory['session_memory_usage_max_b']} B (its JSON {memory['session_json_b']} B)",
        f"  everything a resident leaves (sessions, delivery records for 7 days): used_memory "
        f"+{memory['used_memory_growth_per_resident_b']} B; MEMORY USAGE by namespace:",
    ]
    for ns, row in memory["by_namespace"].items():
        lines.append(f"    {ns:<10}{row['keys']:>7} keys {row['bytes_per_resident']:>7} B/resident")
    lines += [
        "",
        "KB search (bench/search_bench.py --rounds 1):",
        f"  {'kb':<18}{'entries':>8}{'p50 ms':>9}{'p99 ms':>9}{'base p99':>10}",
    ]
    for row in results["kb_search"]:
        lines.append(
            f"  {row['kb']:<18}{row['entries']:>8}{row['p50_ms']:>9}{row['p99_ms']:>9}"
            f"{row['baseline_p99_ms']:>10}"
        )
    if "profile" in results:
        prof = results["profile"]
        lines += [
            "",
            f"cProfile of redis at {prof['run']['residents']} residents "
            f"({prof['run']['msgs_per_s']} msg/s under the profiler; start-up and warm-up "
            "subtracted). Most time of their own:",
        ]
        lines += [_profile_line(row, "own_s") for row in prof["own"]]
        lines += ["", "the project's functions, most time in total:"]
        lines += [_profile_line(row, "total_s") for row in prof["project_total"]]
    return "\n".join(lines)


def _maybe(value: object, unit: str = "") -> str:
    return "-" if value is None else f"{value}{unit}"


def _profile_line(row: dict[str, Any], key: str) -> str:
    return f"  {row[key]:>8.3f} s {row['calls']:>8} calls  {row['function']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--levels", default="50,500", help="concurrent residents, e.g. 50,500")
    parser.add_argument("--messages", type=int, default=2000, help="at least, per level")
    parser.add_argument("--think", type=float, default=2.0, help="paced run's mean pause, s")
    parser.add_argument("--kb-sizes", default="100,1000,10000")
    parser.add_argument("--quick", action="store_true", help="tiny numbers: a smoke run")
    parser.add_argument("--profile", action="store_true", help="cProfile the redis server")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(args.bare_server)
        return
    plan = Plan([int(n) for n in args.levels.split(",")], args.messages, args.think, 20)
    kb_sizes = args.kb_sizes
    if args.quick:
        plan, kb_sizes = Plan([3, 10], 40, 0.05, 3), "100"
    results = asyncio.run(run_all(plan, kb_sizes, args.profile))
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        print(table(results))


if __name__ == "__main__":
    main()
