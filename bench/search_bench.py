"""Search latency on the real knowledge base and on synthetic ones up to 10,000 entries.

    .venv/bin/python bench/search_bench.py [--sizes 100,1000,10000] [--rounds 3]

For each knowledge base it times every evaluation question (in- and out-of-scope)
through `Index.search`, and the same questions through the plain baseline (rapidfuzz
WRatio over titles) in the same run, and prints p50 / p99 and their ratio.
Goals (issue #2): p99 < 2 ms on the real KB, < 20 ms on 10,000 entries.
Synthetic entries are real entries with characters substituted, so they share
vocabulary with the real ones: the hard case for an inverted index.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.evaluation import Baseline, load_eval_set  # noqa: E402
from knowledge.kb import Entry, load_entries  # noqa: E402
from knowledge.search import Index  # noqa: E402


def synthetic(entries: Sequence[Entry], size: int, seed: int = 7) -> list[Entry]:
    rng = random.Random(seed)
    alphabet = sorted({ch for e in entries for q in (e.title, *e.questions) for ch in q})

    def mutate(text: str) -> str:
        chars = list(text)
        for _ in range(2):
            chars[rng.randrange(len(chars))] = rng.choice(alphabet)
        return "".join(chars) + rng.choice(alphabet) + rng.choice(alphabet)

    out = list(entries)
    while len(out) < size:
        base = entries[len(out) % len(entries)]
        out.append(
            dataclasses.replace(
                base,
                id=f"synthetic.e{len(out)}",
                title=mutate(base.title),
                questions=tuple(mutate(q) for q in base.questions),
                related=(),
            )
        )
    return out[:size]


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timings(search: Callable[[str], object], queries: Sequence[str], rounds: int) -> list[float]:
    for q in queries[:20]:  # warm caches
        search(q)
    out = []
    for _ in range(rounds):
        for q in queries:
            start = time.perf_counter_ns()
            search(q)
            out.append((time.perf_counter_ns() - start) / 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    real = load_entries()
    queries = [q.text for s in load_eval_set() for q in s.in_scope]
    queries += [q for s in load_eval_set() for q in s.out_of_scope]
    kbs: list[tuple[str, list[Entry]]] = [(f"real ({len(real)})", real)]
    kbs += [(f"synthetic {n}", synthetic(real, n)) for n in map(int, args.sizes.split(","))]

    rows = []
    for name, entries in kbs:
        start = time.perf_counter()
        index = Index(entries)
        build = time.perf_counter() - start
        baseline = Baseline(index)
        ours = timings(index.search, queries, args.rounds)
        base = timings(baseline.search, queries, args.rounds)
        rows.append(
            {
                "kb": name,
                "entries": len(entries),
                "build_s": round(build, 2),
                "p50_ms": round(statistics.median(ours), 3),
                "p99_ms": round(percentile(ours, 99), 3),
                "baseline_p50_ms": round(statistics.median(base), 3),
                "baseline_p99_ms": round(percentile(base, 99), 3),
                "p99_ratio": round(percentile(ours, 99) / percentile(base, 99), 2),
            }
        )
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    print(f"{len(queries)} queries x {args.rounds} rounds per knowledge base\n")
    print(
        f"{'kb':<18}{'build s':>8}{'p50 ms':>9}{'p99 ms':>9}{'base p50':>10}"
        f"{'base p99':>10}{'p99 ratio':>11}"
    )
    for r in rows:
        print(
            f"{r['kb']:<18}{r['build_s']:>8}{r['p50_ms']:>9}{r['p99_ms']:>9}"
            f"{r['baseline_p50_ms']:>10}{r['baseline_p99_ms']:>10}{r['p99_ratio']:>11}"
        )
    print("\nbaseline: rapidfuzz WRatio of the raw question against titles only")


if __name__ == "__main__":
    main()
