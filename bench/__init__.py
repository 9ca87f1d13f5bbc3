"""Benchmarks, run by hand from the checkout's root as modules (`python -m bench.matching`),
so that `bot`, `adapters` and the test fakes in `tests/` import without editing `sys.path`."""

import os


def lexical_path_unless(semantic: bool) -> None:
    """Issue 15's throughput targets are for the lexical path: switch the sentence model off
    (HELPBOT_SEMANTIC=0) unless the bench was asked to include it (`--semantic`)."""
    if not semantic:
        os.environ["HELPBOT_SEMANTIC"] = "0"
