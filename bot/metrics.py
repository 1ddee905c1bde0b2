"""Prometheus metrics (prometheus-client), one registry per service instance.

A registry per instance (not the global one) keeps tests and several apps in one
process apart. Labels never carry personal data: channels, outcomes and levels only.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "residentbot_messages",
            "Inbound resident messages by channel and outcome",
            ["channel", "outcome"],  # outcome: replied, duplicate, rejected, unavailable, error
            registry=self.registry,
        )
        self.latency = Histogram(
            "residentbot_message_seconds",
            "Time to handle one inbound message",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "residentbot_rate_limited",
            "Messages over their sender's rate limit, answered with the polite reply only",
            ["channel"],
            registry=self.registry,
        )
        self.referrals = Counter(
            "residentbot_referrals", "Referrals queued by level", ["level"], registry=self.registry
        )
        self.deadline_breaches = Counter(
            "residentbot_deadline_breaches",
            "Referrals not claimed before their deadline (escalated)",
            ["level"],
            registry=self.registry,
        )
        self.notification_failures = Counter(
            "residentbot_notification_failures",
            "Staff notifications that could not be delivered",
            ["channel"],
            registry=self.registry,
        )

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
