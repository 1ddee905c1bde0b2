"""The embedded store beyond the contract: its file, durability past kill -9, purging,
and never blocking the event loop."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.store import StoreUnavailable
from bot.store.embedded import FILENAME, DirectoryInUse, EmbeddedStore
from tests.conftest import ROOT, free_port

WRITER = """
import asyncio, sys
from pathlib import Path
from bot.store.embedded import EmbeddedStore

async def main() -> None:
    store = EmbeddedStore(Path(sys.argv[1]))
    for i in range(20):
        await store.put("session", f"sms:+86138000000{i:02d}", {"i": i, "note": "没吃的了"})
    assert await store.add_once("delivery", "twilio:SM-last", ttl=3600)
    print("stored", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def rows(directory: Path) -> int:
    with sqlite3.connect(directory / FILENAME) as db:
        return int(db.execute("SELECT count(*) FROM kv").fetchone()[0])


async def test_creates_its_directory_and_file_on_first_use(tmp_path: Path) -> None:
    directory = tmp_path / "var" / "nested"
    store = EmbeddedStore(directory)
    assert not directory.exists()
    await store.put("session", "telegram:1", {"flow": None})
    assert (directory / FILENAME).is_file()
    with sqlite3.connect(directory / FILENAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    synchronous = await store._run(lambda db: db.execute("PRAGMA synchronous").fetchone()[0])
    assert synchronous == 2  # FULL: the WAL is synced at every commit
    await store.close()


async def test_a_put_survives_sigkill_of_the_writer(tmp_path: Path) -> None:
    """A real process is killed with SIGKILL right after its put returned."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER,
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    try:
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"stored\n"
        process.send_signal(signal.SIGKILL)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    assert (tmp_path / f"{FILENAME}-wal").exists()  # killed before any clean checkpoint

    store = EmbeddedStore(tmp_path)
    for i in range(20):
        assert await store.get("session", f"sms:+86138000000{i:02d}") == {
            "i": i,
            "note": "没吃的了",
        }
    assert await store.add_once("delivery", "twilio:SM-last", ttl=3600) is False
    await store.close()


async def test_expired_rows_are_purged_from_the_file(tmp_path: Path) -> None:
    now = [1_754_000_000.0]
    store = EmbeddedStore(tmp_path, clock=lambda: now[0], purge_interval=60)
    for i in range(10):
        await store.put("delivery", f"twilio:SM{i}", {}, ttl=30)
    await store.put("session", "telegram:1", {"flow": None})
    assert rows(tmp_path) == 11
    now[0] += 40  # expired, but not yet purged: hidden from reads only
    assert await store.get("delivery", "twilio:SM0") is None
    assert rows(tmp_path) == 11
    now[0] += 30  # the purge interval has passed: the next write purges
    await store.put("session", "telegram:2", {"flow": None})
    assert rows(tmp_path) == 2
    await store.close()


async def test_a_busy_database_does_not_block_the_event_loop(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path, busy_timeout=10)
    await store.put("session", "telegram:1", {"v": 1})
    blocker = sqlite3.connect(tmp_path / FILENAME, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    try:
        put = asyncio.create_task(store.put("session", "telegram:1", {"v": 2}))
        start = time.monotonic()
        for _ in range(10):
            await asyncio.sleep(0.02)
        assert time.monotonic() - start < 0.5  # the loop kept turning
        assert not put.done()
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    await asyncio.wait_for(put, 5)
    assert await store.get("session", "telegram:1") == {"v": 2}
    await store.close()


async def test_a_database_locked_too_long_is_store_unavailable(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path, busy_timeout=0.2)
    await store.put("session", "telegram:1", {"v": 1})
    blocker = sqlite3.connect(tmp_path / FILENAME, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable):
            await store.put("session", "telegram:1", {"v": 2})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert await store.get("session", "telegram:1") == {"v": 1}
    await store.close()


async def test_a_closed_store_refuses_work_and_pings_false(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    assert await store.ping() is True
    await store.close()
    await store.close()  # twice is fine
    assert await store.ping() is False
    with pytest.raises(RuntimeError, match="closed"):
        await store.get("session", "telegram:1")


async def test_released_locks_leave_no_trace(tmp_path: Path) -> None:
    """The in-process lease table does not grow with the number of senders."""
    store = EmbeddedStore(tmp_path)
    for i in range(100):
        async with store.lock(f"sms:+8613800000{i:03d}"):
            pass
    assert store._leases == {}
    await store.close()


def start_serving(data: Path, port: int) -> subprocess.Popen[str]:
    """`residentbot serve` as a real process, answering /healthz."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RESIDENTBOT_DATA_DIR": str(data),
           "RESIDENTBOT_PORT": str(port)}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=data.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    _, stderr = process.communicate(timeout=10)
    raise AssertionError(f"serve did not start: {stderr}")


def test_one_data_directory_serves_one_process(tmp_path: Path) -> None:
    """A second serve or chat on the directory stops at start-up naming it; `users` works
    beside the server; the lock dies with its process, even by SIGKILL."""
    data = tmp_path / "var"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RESIDENTBOT_DATA_DIR": str(data),
           "RESIDENTBOT_PORT": str(free_port())}  # fmt: skip
    first = start_serving(data, free_port())
    later: subprocess.Popen[str] | None = None
    try:
        for command in ("serve", "chat"):
            done = subprocess.run(
                [sys.executable, "-m", "bot", command],
                cwd=tmp_path, env=env, input="", capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 2, (command, done.stderr)
            assert f"RESIDENTBOT_DATA_DIR: {data}" in done.stderr
            assert f"pid {first.pid}" in done.stderr
            assert "Traceback" not in done.stderr
        users = subprocess.run(
            [sys.executable, "-m", "bot", "users", "list"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert users.returncode == 0, users.stderr
        first.kill()
        first.communicate(timeout=10)
        later = start_serving(data, free_port())
    finally:
        for process in (first, later):
            if process is not None and process.poll() is None:
                process.terminate()
                process.communicate(timeout=20)


async def test_hold_is_refused_while_another_store_holds_the_directory(tmp_path: Path) -> None:
    first, second = EmbeddedStore(tmp_path), EmbeddedStore(tmp_path)
    first.hold()
    with pytest.raises(DirectoryInUse) as refused:
        second.hold()
    assert refused.value.directory == tmp_path
    assert refused.value.holder == str(os.getpid())
    await first.close()
    second.hold()  # released with the first store
    await second.close()
    await second.close()
