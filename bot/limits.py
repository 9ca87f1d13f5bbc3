"""Limits shared by the event log (`bot.events`) and the engine's memories (`bot.memory`), in a
module that imports nothing: the engine needs them without loading the event log's storage."""

DEFAULT_RETENTION_DAYS = 30
PENDING_SECONDS = 24 * 3600.0  # how long an answered question's text waits in memory for a 👎
PENDING_MAX = 10_000
