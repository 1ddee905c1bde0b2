"""The composition root (bot/app.py): `residentbot serve` as a real process with no
configuration, /healthz and /metrics, the routes and senders each setting enables, and
the request size cap."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.app import Services
from bot.messages import Reply
from tests.channel_support import config_for, gateway_server, serving
from tests.conftest import ROOT, free_port


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_serve_with_no_configuration_answers_healthz_and_the_chat(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "RESIDENTBOT_PORT": str(port),
        "RESIDENTBOT_DATA_DIR": str(tmp_path / "var"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, body = fetch(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        assert status == 200, f"serve did not answer (exit status {process.poll()})"
        assert '"store": true' in body
        status, page = fetch(f"http://127.0.0.1:{port}/chat")
        assert status == 200
        assert "社会救助咨询" in page
        assert (tmp_path / "var").is_dir()  # the embedded store, where it was told
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "stopping" in stderr


def serve_until_it_exits(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """`residentbot serve` with these settings, which should make it exit at once."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RESIDENTBOT_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env={**env, **settings},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_refuses_a_bad_configuration_naming_the_variables(tmp_path: Path) -> None:
    done = serve_until_it_exits(tmp_path, TELEGRAM_BOT_TOKEN="1:abc", SMS_PROVIDER="twilio")
    assert done.returncode == 2
    for name in ("TELEGRAM_WEBHOOK_SECRET", "TWILIO_ACCOUNT_SID", "TWILIO_FROM"):
        assert name in done.stderr


def test_serve_without_its_redis_says_so_in_one_line_and_exits_to_be_restarted(
    tmp_path: Path,
) -> None:
    ports = []
    for _ in range(2):  # ports nothing listens on: Redis's, and one to serve on
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    done = serve_until_it_exits(
        tmp_path,
        REDIS_URL=f"redis://127.0.0.1:{ports[0]}/0",
        RESIDENTBOT_HOST="127.0.0.1",
        RESIDENTBOT_PORT=str(ports[1]),
    )
    assert done.returncode == 1  # not 2: systemd restarts it until Redis is back
    assert "Traceback" not in done.stderr
    said = [line for line in done.stderr.splitlines() if line.startswith("residentbot:")]
    assert len(said) == 1
    assert "redis" in said[0].lower()


async def test_healthz_reports_the_store(tmp_path: Path, redis_server: Any, redis_url: str) -> None:
    async with serving(tmp_path, {"REDIS_URL": redis_url}) as (_, client):
        response = await client.get("/healthz")
        assert (response.status, await response.json()) == (200, {"status": "ok", "store": True})
        redis_server.stop()
        try:
            response = await client.get("/healthz")
            assert response.status == 503
            assert await response.json() == {"status": "degraded", "store": False}
        finally:
            redis_server.start()


async def test_metrics_count_messages_by_channel_and_outcome(tmp_path: Path) -> None:
    async with serving(tmp_path) as (_, client):
        await client.post("/api/chat", json={"text": "你好", "id": "a"})
        await client.post("/api/chat", json={"text": "你好", "id": "a"})
        response = await client.get("/metrics")
        text = await response.text()
    assert response.status == 200
    assert 'residentbot_messages_total{channel="web",outcome="replied"} 1.0' in text
    assert 'residentbot_messages_total{channel="web",outcome="duplicate"} 1.0' in text
    assert 'residentbot_message_seconds_count{channel="web"} 2.0' in text


async def test_messages_over_the_rate_limit_are_counted_apart(tmp_path: Path) -> None:
    async with serving(tmp_path, {"RESIDENTBOT_RATE_LIMIT": "2"}) as (_, client):
        answers = []
        for n in range(4):
            response = await client.post("/api/chat", json={"text": "你好", "id": f"r{n}"})
            answers.append(" ".join(r["text"] for r in (await response.json())["replies"]))
        text = await (await client.get("/metrics")).text()
    assert all("一分钟" in answer for answer in answers[2:])
    assert not any("一分钟" in answer for answer in answers[:2])
    assert 'residentbot_rate_limited_total{channel="web"} 2.0' in text
    assert 'residentbot_messages_total{channel="web",outcome="replied"} 4.0' in text


async def test_delivery_has_a_sender_for_each_configured_channel(tmp_path: Path) -> None:
    bare = await Services.open(config_for(tmp_path / "bare"))
    try:
        assert bare.delivery.channels == {"web"}
    finally:
        await bare.close()
    async with gateway_server() as (recorder, base):
        env = {
            "SMS_PROVIDER": "http",
            "SMS_GATEWAY_URL": base + "/send",
            "TELEGRAM_BOT_TOKEN": "1:abc",
            "TELEGRAM_MODE": "polling",
        }
        services = await Services.open(config_for(tmp_path / "full", env))
        try:
            assert services.delivery.channels == {"web", "sms", "telegram"}
            await services.delivery.send("sms", "+8613800001111", [Reply("您好")])
            assert recorder.texts() == ["您好"]
        finally:
            await services.close()


async def test_start_up_warns_that_sms_replies_need_a_provider(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def warned() -> bool:
        return any("SMS_PROVIDER" in r.getMessage() for r in caplog.records)

    services = await Services.open(config_for(tmp_path / "bare"))
    await services.close()
    assert warned()
    caplog.clear()
    env = {"SMS_PROVIDER": "http", "SMS_GATEWAY_URL": "http://127.0.0.1:9/send"}
    services = await Services.open(config_for(tmp_path / "sms", env))
    await services.close()
    assert not warned()


async def test_bodies_over_the_cap_are_413(tmp_path: Path) -> None:
    async with serving(tmp_path) as (_, client):
        response = await client.post(
            "/api/chat",
            data=b'{"text": "' + b"x" * 70_000 + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert response.status == 413


def test_warm_up_builds_the_triage_model_and_freezes_what_was_built() -> None:
    import gc

    from bot.app import warm_up
    from knowledge import triage

    triage.default_triager.cache_clear()
    try:
        warm_up()
        assert triage.default_triager.cache_info().currsize == 1  # trained now, not later
        assert gc.get_freeze_count() > 0  # and out of the garbage collector's way
    finally:
        gc.unfreeze()
