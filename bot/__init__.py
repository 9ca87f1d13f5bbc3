"""helpbot's platform-neutral core: knowledge loading, matching, conversations and sessions.

Nothing in this package imports a chat platform's SDK; adapters translate to and from it.
"""

__version__ = "0.1.0"
