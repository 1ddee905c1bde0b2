"""Telegram: python-telegram-bot embedded in the aiohttp app (integrations/telegram/channel.py)."""
