"""Benchmarks, run by hand from the checkout's root as modules (`python -m bench.matching`),
so that `bot`, `adapters` and the test fakes in `tests/` import without editing `sys.path`."""
