"""The example deployment works the way docs/DEPLOY.md installs and maintains it.

- The install steps (section 2) copy `deploy/` files to /etc/residentbot; with them, a
  worker's configuration passes the start-up checks, including the notification file
  that the env file names.
- The Redis example (deploy/redis-residentbot.conf) lets its `rbadmin` user run the
  backup, restore and AOF-rewrite commands of section 7, with the password in
  REDISCLI_AUTH as the guide sets it, and a restored copy holds what was backed up.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bot.app import notify_targets
from bot.config import Config
from tests.conftest import ROOT, free_port

DEPLOY = ROOT / "docs" / "DEPLOY.md"
REDIS_CONF = ROOT / "deploy" / "redis-residentbot.conf"
ETC = "/etc/residentbot/"
SERVICE = ("residentbot", "CHANGE-ME")  # the example's placeholder passwords
ADMIN = ("rbadmin", "CHANGE-ME-ADMIN")
REWRITING = re.compile(r"^aof_rewrite_(in_progress|scheduled):1", re.MULTILINE)


def installs() -> list[tuple[Path, str]]:
    """(file in deploy/, its name in /etc/residentbot) for each `install` line of the guide."""
    found = []
    for line in DEPLOY.read_text(encoding="utf-8").splitlines():
        words = line.split()
        sources = [w for w in words if w.startswith("deploy/")]
        if words and words[0] == "install" and sources and words[-1].startswith(ETC):
            found.append((ROOT / sources[0], words[-1].removeprefix(ETC)))
    return found


def test_the_install_steps_give_a_configuration_that_starts(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    for source, name in installs():
        shutil.copy(source, etc / name)
    env = {}
    for line in (etc / "residentbot.env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value.replace(ETC, f"{etc}/").replace("/var/lib/residentbot", str(tmp_path))
    config = Config.from_env(env)  # raises ConfigError listing every problem
    assert config.notify_path == etc / "notify.yaml"
    assert notify_targets(config).by_queue == {}  # installed as shipped: nobody named yet


class ExampleRedis:
    """redis-server with the example config; port, address and directory overridden."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *options: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run the tests with scripts/test")
        args = [binary, str(REDIS_CONF), *options, "--port", str(self.port)]
        args += ["--bind", "127.0.0.1", "--dir", str(self.directory)]
        args += ["--repl-diskless-sync-delay", "0"]  # --rdb would wait 5 s for more replicas
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while (answer := self.cli("PING")).stdout.strip() != "PONG":
            if time.monotonic() > deadline:
                said = (answer.stdout + answer.stderr).strip()
                pytest.fail(f"redis-server with the example config: PING as rbadmin: {said}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def cli(self, *args: str, user: tuple[str, str] = ADMIN) -> subprocess.CompletedProcess[str]:
        """redis-cli as section 7 runs it: --user, the password in REDISCLI_AUTH."""
        command = ["redis-cli", "-p", str(self.port), "--user", user[0], *args]
        env = {**os.environ, "REDISCLI_AUTH": user[1]}
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)

    def service(self) -> redis.Redis:
        return redis.Redis(port=self.port, username=SERVICE[0], password=SERVICE[1])


@pytest.fixture
def example_redis(tmp_path: Path) -> Iterator[ExampleRedis]:
    server = ExampleRedis(tmp_path / "redis")
    server.directory.mkdir()
    yield server
    server.stop()


def rewrite_over(server: ExampleRedis) -> None:
    """The guide's wait: until INFO persistence shows no AOF rewrite running or scheduled."""
    deadline = time.monotonic() + 20
    while REWRITING.search(info := server.cli("INFO", "persistence").stdout):
        assert time.monotonic() < deadline, "the AOF rewrite did not finish"
        time.sleep(0.05)
    assert "aof_last_bgrewrite_status:ok" in info


@pytest.mark.redis
def test_rbadmin_backs_up_and_restores_as_the_guide_says(
    example_redis: ExampleRedis, tmp_path: Path
) -> None:
    example_redis.start()
    client = example_redis.service()
    client.set("rb:session:sms:+8613800000000", b'{"flow":"screening"}')
    backup = tmp_path / "redis-backup.rdb"
    # the service's user may not take a copy: that is what rbadmin is for
    assert "NOPERM" in example_redis.cli("--rdb", str(backup), user=SERVICE).stderr
    copied = example_redis.cli("--rdb", str(backup))
    assert copied.returncode == 0, copied.stderr
    assert backup.read_bytes().startswith(b"REDIS")
    assert example_redis.cli("BGREWRITEAOF").returncode == 0  # the daily purge rewrite
    rewrite_over(example_redis)
    client.set("rb:session:sms:+8613800000000", b'{"flow":"after the backup"}')
    client.close()
    example_redis.stop()

    # 2. the copy as dump.rdb, appendonly no; 3. switch the AOF on; 4. restart as configured
    shutil.copy(backup, example_redis.directory / "dump.rdb")
    example_redis.start("--appendonly", "no")
    assert example_redis.cli("CONFIG", "SET", "appendonly", "yes").stdout.strip() == "OK"
    rewrite_over(example_redis)
    example_redis.stop()
    example_redis.start()
    assert "aof_enabled:1" in example_redis.cli("INFO", "persistence").stdout
    client = example_redis.service()
    assert client.get("rb:session:sms:+8613800000000") == b'{"flow":"screening"}'
    client.close()
