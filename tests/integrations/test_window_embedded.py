"""The embedded queue beyond the contract: its own file, and real processes killed with
SIGKILL after a referral was queued or while its notification was being sent."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.referrals import Draft
from bot.store.embedded import EmbeddedStore
from integrations.window.embedded import FILENAME, EmbeddedWindow
from integrations.window.notify import HttpNotifier, Target, Targets

ROOT = Path(__file__).resolve().parents[2]
TOWNSHIP = "渝中区/解放碑街道"
TARGETS = Targets({TOWNSHIP: (Target("telegram", "-100123"),)})

CREATOR = """
import asyncio, sys
from pathlib import Path
from bot.referrals import Draft
from integrations.window.embedded import EmbeddedWindow

async def main(directory: str, take_job: str) -> None:
    window = EmbeddedWindow(Path(directory))
    created = await window.create(Draft(
        key="sms:+8613800138000:SM1", level="emergency", channel="sms",
        address="+8613800138000", district="渝中区", township="解放碑街道"))
    if take_job == "yes":
        await window._prepare()
        assert await window._next_jobs(8)  # the job is now in this process's hands
    print(created.reference, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


class Relay:
    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.json_response({"ok": True})


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    recorder = Relay()
    app = web.Application()
    app.router.add_post("/notify", recorder.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    recorder.url = f"http://127.0.0.1:{runner.addresses[0][1]}/notify"
    yield recorder
    await runner.cleanup()


async def killed_after_creating(directory: Path, take_job: bool) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CREATOR, str(directory), "yes" if take_job else "no",
        stdout=asyncio.subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(process.wait(), 10) == -signal.SIGKILL
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return line.decode().strip()


@pytest.mark.parametrize("take_job", [False, True], ids=["queued", "in-hand"])
async def test_a_killed_process_loses_neither_the_referral_nor_its_notification(
    tmp_path: Path, relay: Relay, take_job: bool
) -> None:
    reference = await killed_after_creating(tmp_path, take_job)
    window = EmbeddedWindow(tmp_path, notifier=HttpNotifier(relay.url), targets=TARGETS)
    try:
        stored = await window.get(reference)
        assert stored is not None
        assert stored.level == "emergency"
        await window.start()
        deadline = time.monotonic() + 10
        while not relay.received:
            assert time.monotonic() < deadline, "the notification was lost"
            await asyncio.sleep(0.05)
        assert reference in str(relay.received[0]["text"])
    finally:
        await window.close()
    with sqlite3.connect(tmp_path / FILENAME) as db:
        assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.sqlite3"))


async def test_its_own_file_beside_the_store(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    window = EmbeddedWindow(tmp_path)
    try:
        await store.put("session", "sms:+8613800138000", {"flow": None})
        assert await window.get("12345678") is None
    finally:
        await window.close()
        await store.close()
    assert files(tmp_path) == ["store.sqlite3", FILENAME]


async def test_a_closed_queue_refuses_work(tmp_path: Path) -> None:
    window = EmbeddedWindow(tmp_path)
    await window.close()
    with pytest.raises(RuntimeError, match="closed"):
        await window.get("12345678")


async def test_a_purge_leaves_no_copy_of_the_personal_data_in_the_files(tmp_path: Path) -> None:
    """Not in the database's free pages, not in its write-ahead log: the bytes on disk."""
    now = [1_754_000_000.0]
    window = EmbeddedWindow(tmp_path, clock=lambda: now[0])
    phone, words, outcome = "13912345678", "老伴瘫在床上家里断粮三天了", "已为张大爷办理临时救助"
    try:
        created = await window.create(
            Draft(
                key="sms:+8613912345678:SM9",
                level="urgent",
                channel="sms",
                address="+8613912345678",
                district="渝中区",
                township="解放碑街道",
                contact=phone,
                message=words,
            )
        )
        await window.claim(created.reference, "zhang")
        await window.resolve(created.reference, "zhang", outcome)

        def on_disk() -> bytes:
            return b"".join(p.read_bytes() for p in sorted(tmp_path.iterdir()) if p.is_file())

        assert phone.encode() in on_disk()  # the check can see the data while it is kept
        assert outcome.encode() in on_disk()
        now[0] += 181 * 86400
        assert await window.purge_personal_data(180 * 86400) == 1
        written = on_disk()
        for secret in (phone, "8613912345678", words, outcome):
            assert secret.encode() not in written, secret
    finally:
        await window.close()
