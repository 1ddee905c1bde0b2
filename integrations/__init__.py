"""The outside world: Telegram, SMS gateways, the township-window queue, notifications."""
