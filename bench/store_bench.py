"""Store speed on both backends, and Redis memory per idle session.

    .venv/bin/python bench/store_bench.py [--ops 2000] [--json]

- get / put / add_once: ops/s and p50 / p99 one at a time, and ops/s with 50 tasks at
  once (a mixed get+put+add_once per task round), on the embedded store (synchronous
  FULL, the default, and NORMAL for comparison) and on Redis.
- dispatch: how the embedded store should reach its blocking sqlite3 connection, one
  dedicated thread vs `asyncio.to_thread` (the choice in bot/store/embedded.py).
- Redis memory: `MEMORY USAGE` of one realistic idle session (ten answers), and the
  growth of `used_memory` per session over 1,000 of them (goal: <= 2 KB a session).

It starts its own redis-server on a free 127.0.0.1 port in a temporary directory (AOF
on, fsync every second, as in the test suite) and stops it by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bot.store import Store  # noqa: E402
from bot.store.embedded import EmbeddedStore  # noqa: E402
from bot.store.redis import RedisStore  # noqa: E402
from dialogues.engine import Session  # noqa: E402

TASKS = 50


def realistic_session() -> dict[str, Any]:
    """An idle session in the middle of the questionnaire: ten answers, their history."""
    answers: dict[str, Any] = {
        "district": "奉节县",
        "township": "永安街道",
        "area": "rural",
        "members": 3,
        "ages": [67, 64, 35],
        "wages": 1200,
        "farming": 150,
        "pension": 180,
        "financial_assets": 3000,
        "legal_supporter": "unable",
    }
    return Session(
        flow="screening",
        state="ask_vehicle",
        answers=answers,
        history=[[name, 0] for name in answers],
        hint="例如：没有，或者 一辆三万元的车",
        offer={"1": "dibao.conditions", "2": "dibao.apply", "3": "tekun.conditions"},
        last_seen=time.time(),
    ).to_dict()


# --- a redis-server of our own -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", directory, "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        process = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL)
        try:
            client = redis.Redis(port=port)
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            client.close()
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


# --- measuring -----------------------------------------------------------------------


def summary(latencies_ms: Sequence[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies_ms)
    return {
        "ops_s": round(len(ordered) / seconds),
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 3),
    }


async def timed(call: Callable[[int], Awaitable[object]], ops: int) -> dict[str, float]:
    latencies = []
    start = time.perf_counter()
    for i in range(ops):
        began = time.perf_counter_ns()
        await call(i)
        latencies.append((time.perf_counter_ns() - began) / 1e6)
    return summary(latencies, time.perf_counter() - start)


async def measure(store: Store, ops: int) -> dict[str, Any]:
    session = realistic_session()
    keys = [f"sms:+86138{i:08d}" for i in range(ops)]
    out: dict[str, Any] = {
        "put": await timed(lambda i: store.put("session", keys[i], session, ttl=3600), ops),
        "get": await timed(lambda i: store.get("session", keys[i]), ops),
        "add_once": await timed(lambda i: store.add_once("delivery", keys[i], ttl=3600), ops),
    }

    async def worker(task: int) -> None:
        for i in range(task, ops, TASKS):
            await store.get("session", keys[i])
            await store.put("session", keys[i], session, ttl=3600)
            await store.add_once("delivery", f"again:{keys[i]}", ttl=3600)

    start = time.perf_counter()
    await asyncio.gather(*(worker(t) for t in range(TASKS)))
    out["mixed_concurrent_ops_s"] = round(3 * ops / (time.perf_counter() - start))
    return out


async def dispatch(ops: int) -> dict[str, Any]:
    """A one-row read on one sqlite3 connection: dedicated thread vs asyncio.to_thread."""
    with tempfile.TemporaryDirectory() as directory:
        db = sqlite3.connect(Path(directory) / "d.sqlite3", check_same_thread=False)
        db.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT INTO kv VALUES ('k', '{}')")
        guard = threading.Lock()  # to_thread may use any pool thread: serialise them

        def read() -> object:
            with guard:
                return db.execute("SELECT value FROM kv WHERE key = 'k'").fetchone()

        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(max_workers=1)
        ways: dict[str, Callable[[int], Awaitable[object]]] = {
            "dedicated_thread": lambda _: loop.run_in_executor(executor, read),
            "to_thread": lambda _: asyncio.to_thread(read),
        }
        out: dict[str, Any] = {}
        for name, call in ways.items():
            alone = await timed(call, ops)
            start = time.perf_counter()
            await asyncio.gather(*(call(i) for i in range(ops)))
            out[name] = {**alone, "concurrent_ops_s": round(ops / (time.perf_counter() - start))}
        executor.shutdown()
        db.close()
        return out


def redis_memory(url: str, sessions: int = 1000) -> dict[str, Any]:
    client = redis.Redis.from_url(url)
    try:
        client.flushall()
        value = json.dumps(realistic_session(), ensure_ascii=False, separators=(",", ":"))
        before = int(client.info("memory")["used_memory"])
        for i in range(sessions):
            client.set(f"rb:session:sms:+86138{i:08d}", value.encode(), px=8 * 24 * 3600 * 1000)
        after = int(client.info("memory")["used_memory"])
        return {
            "json_bytes": len(value.encode()),
            "memory_usage_one_key": int(client.memory_usage("rb:session:sms:+8613800000000") or 0),
            "used_memory_per_session": round((after - before) / sessions),
        }
    finally:
        client.close()


async def run(ops: int) -> dict[str, Any]:
    results: dict[str, Any] = {"ops": ops, "tasks": TASKS}
    for synchronous in ("FULL", "NORMAL"):
        with tempfile.TemporaryDirectory() as directory:
            store = EmbeddedStore(Path(directory), synchronous=synchronous)
            results[f"embedded_{synchronous.lower()}"] = await measure(store, ops)
            await store.close()
    results["dispatch"] = await dispatch(ops)
    with redis_server() as url:
        redis_store = RedisStore(url)
        results["redis"] = await measure(redis_store, ops)
        await redis_store.close()
        results["redis_memory"] = redis_memory(url)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(run(args.ops))
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return
    print(f"{args.ops} ops each, {TASKS} concurrent tasks for the mixed run")
    for backend in ("embedded_full", "embedded_normal", "redis"):
        row = results[backend]
        print(f"\n{backend}: mixed concurrent {row['mixed_concurrent_ops_s']} ops/s")
        for op in ("get", "put", "add_once"):
            r = row[op]
            print(
                f"  {op:9} {r['ops_s']:>7} ops/s"
                f"  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms"
            )
    print("\nsqlite dispatch (one-row read):")
    for name, r in results["dispatch"].items():
        print(
            f"  {name:17} alone {r['ops_s']:>6} ops/s p50 {r['p50_ms']:.3f} ms;"
            f" concurrent {r['concurrent_ops_s']} ops/s"
        )
    memory = results["redis_memory"]
    print(
        f"\nredis memory per idle session: JSON {memory['json_bytes']} B,"
        f" MEMORY USAGE {memory['memory_usage_one_key']} B,"
        f" used_memory growth {memory['used_memory_per_session']} B/session (goal <= 2048)"
    )


if __name__ == "__main__":
    main()
