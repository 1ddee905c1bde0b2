"""The application core: messages, router, sessions, stores, rendering, config, CLI."""
