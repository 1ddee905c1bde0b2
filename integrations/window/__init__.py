"""The township window's referral queue (issue 6): two backends, deadlines, notifications.

- `rules.py`: the life cycle as pure functions (bot/referrals.py draws it), deadlines
  (two working days for normal referrals), and what each change sets off.
- `base.py`: the protocol's operations on top of a backend's atomic steps, and the
  background workers (staff notifications; escalation, abandoned claims, purging).
- `embedded.py`: SQLite in `<data dir>/window.sqlite3`, one transaction per change; for
  the one process that owns the data directory.
- `redis.py`: one stream per queue with consumer groups (XCLAIM FORCE to claim, XACK on
  contact, XAUTOCLAIM to take back abandoned claims), the notification outbox stream,
  and one Lua script applying each change atomically; its docstring has the key layout.
- `notify.py`: notification targets per queue, the `Notifier` contract, `ChannelNotifier`
  (the bot's Telegram and SMS channels, wired in bot/app.py) and `HttpNotifier` (a relay).

`open_queue(config, store)` picks the backend as the store does: Redis when
`config.redis_url`, else embedded under `config.data_dir`. The returned queue is idle
until `await queue.start()` (at server start-up, after the event loop runs) starts its
workers; `await queue.close()` stops them and closes its connections.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.metrics import Metrics
from bot.store import Store
from integrations.window.base import CLAIM_TIMEOUT, Window
from integrations.window.notify import HttpNotifier, Notifier, Targets, load_targets

__all__ = ["Window", "open_queue"]


def open_queue(
    config: Config,
    store: Store | None = None,
    *,
    metrics: Metrics | None = None,
    targets: Targets | None = None,
    notifier: Notifier | None = None,
    clock: Callable[[], float] = time.time,
    claim_timeout: float = CLAIM_TIMEOUT,
) -> Window:
    """The referral queue for this configuration.

    `store` is accepted for symmetry with the composition root; the queue keeps its own
    connection (Redis) or file (embedded) beside the store's. Targets default to
    `config.notify_path` (none when missing), and the notifier to an `HttpNotifier`
    posting to that file's `relay` URL (none: each urgent referral records that nobody
    was told). `bot/app.py` passes a `ChannelNotifier` for the bot's own channels.
    """
    del store
    if targets is None:
        targets = load_targets(config.notify_path)
    if notifier is None and targets.relay:
        notifier = HttpNotifier(targets.relay, token=config.notify_token)
    options: dict[str, Any] = {
        "clock": clock,
        "deadlines": dict(config.deadlines),
        "claim_timeout": claim_timeout,
        "targets": targets,
        "notifier": notifier,
        "metrics": metrics,
        "purge_after": config.purge_days * 86400.0,
    }
    if config.redis_url:
        from integrations.window.redis import RedisWindow

        return RedisWindow(config.redis_url, **options)
    from integrations.window.embedded import EmbeddedWindow

    return EmbeddedWindow(Path(config.data_dir), **options)
