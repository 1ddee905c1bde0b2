"""Pre-screening latency: `assess` on every household of the YAML rule cases.

    .venv/bin/python bench/eligibility_bench.py [--rounds 20]

Times `knowledge.eligibility.assess` on each household of tests/knowledge/cases/*.yaml,
and in the same run the baseline of reading the same household from its CONTRACTS.md
JSON (`json.loads` + `Household.from_dict`), and prints p50 / p99 of both and their
ratio. Goal (issue #3): assess well under 1 ms, so that a dialogue can re-assess on
every answer. Run it on an idle machine; the ratio is what to compare between runs.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.eligibility import assess  # noqa: E402
from knowledge.household import Household  # noqa: E402
from tests.knowledge.test_rule_cases import case_households  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(function: Callable[[], object], rounds: int) -> float:
    """The best of `rounds` runs, in milliseconds."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def read(text: str) -> Household:
    """The baseline: read a household from its JSON."""
    return Household.from_dict(json.loads(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    households = case_households()
    texts = [json.dumps(h.to_dict(), ensure_ascii=False) for h in households]
    for household in households:
        assess(household)  # load the files and compile the templates once
    runs = [timed(functools.partial(assess, h), args.rounds) for h in households]
    base = [timed(functools.partial(read, t), args.rounds) for t in texts]
    print(f"{len(households)} households, best of {args.rounds} runs each")
    print(f"{'':10} {'p50 ms':>8} {'p99 ms':>8}")
    for name, values in (("assess", runs), ("read JSON", base)):
        print(f"{name:10} {percentile(values, 50):8.3f} {percentile(values, 99):8.3f}")
    ratio = statistics.median(r / b for r, b in zip(runs, base, strict=True))
    print(f"ratio assess / read: {ratio:.1f}")
    print("goal: assess p99 < 1 ms:", "met" if percentile(runs, 99) < 1 else "NOT met")


if __name__ == "__main__":
    main()
