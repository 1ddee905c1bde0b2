"""bench/load_bench.py runs: `--quick --json` with tiny numbers (about 10 s). It proves the
benchmark still drives the real server as Twilio would (signed requests answered with
TwiML on both stores), not how fast anything is."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.redis


def test_the_load_bench_runs_end_to_end() -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: run the tests with scripts/test")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load_bench.py"), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    runs = results["runs"]
    targets = {run["target"] for run in runs}
    assert targets == {"baseline", "embedded", "redis", "redis-x2"}
    for run in runs:
        assert run["messages"] > 0, run
        assert run["errors"] == {}, run  # every message answered 200 with TwiML
        assert run["msgs_per_s"] > 0, run
    # the bot's runs are the whole conversation of every resident
    conversation = len(results["conversation"])
    assert all(run["messages"] % conversation == 0 for run in runs)
    memory = results["redis_memory"]
    assert memory["residents"] > 0
    assert memory["by_namespace"]["session"]["keys"] == memory["residents"]
    assert memory["session_memory_usage_mean_b"] > memory["session_json_b"] > 0
    assert [row["entries"] for row in results["kb_search"]][1:] == [100]
    assert set(results["goals"]) >= {"redis idle session bytes"}
    assert all(isinstance(goal["met"], bool) for goal in results["goals"].values())
