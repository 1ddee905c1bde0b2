"""The statistical layer of the triage: small linear models over sets of features.

knowledge/triage.py turns a normalised message into features (its character n-grams,
`ngrams`, and tokens for the danger concepts of triage.yaml it mentions) and asks models
trained at load time from labelled messages. Two kinds of training give the same kind of
model, a `Linear` score per label (a bias plus one weight per feature present):

- `naive_bayes`: multinomial Naive Bayes with binarised counts (a feature counts once per
  message, which suits short texts) and additive smoothing `alpha`. One pass over the
  examples; it generalises from few of them, but words shared by dangers and ordinary
  messages ("抽筋", "不动了") push it towards danger whatever surrounds them.
- `logistic_regression`: multinomial logistic regression by stochastic gradient descent,
  a few passes in a fixed order. It learns which contexts tell the two apart when the
  examples contrast them, so the triage asks it to agree before acting on the first.
  Stopped early, it depends on the order of the examples; each example's place in a pass
  follows from its own content, so that adding or removing one message does not reorder
  all the others (with a shuffled list, one more ordinary message once turned three
  emergencies of a held-out set into `none`, and a leave-one-set-out model differed from
  the shipped one by its whole order, not only by the set left out).

A feature never seen in training weighs nothing. Scoring a message is one dict look-up
per feature.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

START, END = "\x02", "\x03"  # mark the ends of a text, so that n-grams can anchor there


def ngrams(text: str, low: int, high: int) -> set[str]:
    """The character n-grams of `text`, low <= n <= high, with its ends marked."""
    marked = f"{START}{text}{END}"
    found = {marked[i : i + n] for n in range(low, high + 1) for i in range(len(marked) - n + 1)}
    found.difference_update((START, END))
    return found


@dataclass(frozen=True)
class Linear:
    """Scores per label: bias + the sum of the weights of the features present."""

    labels: tuple[str, ...]
    bias: tuple[float, ...]
    weights: dict[str, tuple[float, ...]]  # feature -> weight per label

    def log_scores(self, features: Collection[str]) -> list[float]:
        """Unnormalised log-probabilities, per label."""
        weights = self.weights
        found = [weights[f] for f in weights.keys() & features]
        if not found:
            return list(self.bias)
        return [
            b + sum(column) for b, column in zip(self.bias, zip(*found, strict=True), strict=True)
        ]

    def posterior(self, features: Collection[str]) -> dict[str, float]:
        """P(label | features), summing to 1."""
        scores = self.log_scores(features)
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        total = sum(exp)
        return {label: e / total for label, e in zip(self.labels, exp, strict=True)}


Examples = Iterable[tuple[Collection[str], str]]  # (features, label)


def _labels(
    data: Sequence[tuple[Collection[str], str]], labels: Sequence[str] | None
) -> tuple[str, ...]:
    seen = Counter(label for _, label in data)
    order = tuple(labels) if labels is not None else tuple(sorted(seen))
    missing = [label for label in order if not seen[label]]
    if missing or not order:
        raise ValueError(f"no examples for labels {missing or order}")
    return order


def naive_bayes(
    examples: Examples, labels: Sequence[str] | None = None, alpha: float = 0.5
) -> Linear:
    """Multinomial Naive Bayes with binarised counts; `labels` fixes their order (default:
    sorted as seen). Every label needs an example; examples of other labels are ignored."""
    data = [(set(features), label) for features, label in examples]
    order = _labels(data, labels)
    counts = {label: Counter[str]() for label in order}
    documents = Counter[str]()
    for features, label in data:
        if label in counts:
            counts[label].update(features)
            documents[label] += 1
    vocabulary = set().union(*counts.values())
    total = sum(documents.values())
    denominators = [sum(counts[label].values()) + alpha * len(vocabulary) for label in order]
    weights = {
        feature: tuple(
            math.log((counts[label][feature] + alpha) / denominator)
            for label, denominator in zip(order, denominators, strict=True)
        )
        for feature in vocabulary
    }
    return Linear(order, tuple(math.log(documents[label] / total) for label in order), weights)


def logistic_regression(
    examples: Examples,
    labels: Sequence[str] | None = None,
    epochs: int = 5,
    rate: float = 0.3,
    seed: int = 0,
) -> Linear:
    """Multinomial logistic regression over binary features by stochastic gradient descent:
    `epochs` passes over the examples, each in an order that hashes every example's content
    with `seed` and the pass (deterministic, and the same whatever else is in the list or
    in what order it came), the step `rate / (1 + pass)`. Few passes and no penalty:
    stopping early is the regulariser."""
    given = [(tuple(set(features)), label) for features, label in examples]
    order = _labels(given, labels)
    index = {label: i for i, label in enumerate(order)}
    data = [
        ("\x00".join([label, *sorted(features)]), features, index[label])
        for features, label in given
        if label in index
    ]
    size = len(order)
    bias = [0.0] * size
    weights: dict[str, list[float]] = {}
    for epoch in range(epochs):
        data.sort(key=lambda item: (zlib.crc32(f"{seed}:{epoch}:{item[0]}".encode()), item[0]))
        step = rate / (1 + epoch)
        for _, features, target in data:
            scores = list(bias)
            for feature in features:
                weight = weights.get(feature)
                if weight is not None:
                    for i in range(size):
                        scores[i] += weight[i]
            top = max(scores)
            exp = [math.exp(s - top) for s in scores]
            total = sum(exp)
            gradient = [e / total for e in exp]
            gradient[target] -= 1.0
            for i in range(size):
                bias[i] -= step * gradient[i]
            for feature in features:
                weight = weights.setdefault(feature, [0.0] * size)
                for i in range(size):
                    weight[i] -= step * gradient[i]
    return Linear(order, tuple(bias), {f: tuple(w) for f, w in weights.items()})
