"""`helpbot ask` start-up against importing rapidfuzz and yaml alone (issue 15: at most 3x).

    HELPBOT_SEMANTIC=0 python -m bench.startup [--runs 15]

Compiles helpbot's bytecode first (as `pip install` leaves it: with PYTHONDONTWRITEBYTECODE=1,
as on this machine, a checkout would otherwise recompile every module on every run, ~130 ms
that an installed helpbot never pays), then
runs both commands alternately in fresh processes (index cache warm) and prints, for each,
the median wall time and the median CPU time (user + system). On a shared machine the wall
time carries other processes' load; the CPU time is what the command itself costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASK = [sys.executable, "-m", "bot", "ask", "how long does it take"]
LIBS = [sys.executable, "-c", "import rapidfuzz, yaml"]


def run(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


def measure(runs: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) per command, the runs interleaved so load changes hit both."""
    run(ASK)  # fill the index cache
    samples: dict[str, list[tuple[float, float]]] = {"ask": [], "libs": []}
    for _ in range(runs):
        samples["ask"].append(run(ASK))
        samples["libs"].append(run(LIBS))
    return {
        name: (statistics.median(s[0] for s in got), statistics.median(s[1] for s in got))
        for name, got in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env_path = os.environ.get("PYTHONPATH", "")
    if str(ROOT) not in env_path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env_path) if p)
    import compileall

    for package in ("bot", "adapters", "knowledge"):
        compileall.compile_dir(ROOT / package, quiet=1)
    figures = measure(args.runs)
    (ask_wall, ask_cpu), (libs_wall, libs_cpu) = figures["ask"], figures["libs"]
    print(
        f"`helpbot ask` start-up, median of {args.runs}: wall {ask_wall * 1000:.0f} ms, "
        f"CPU {ask_cpu * 1000:.0f} ms; import rapidfuzz+yaml: wall {libs_wall * 1000:.0f} ms, "
        f"CPU {libs_cpu * 1000:.0f} ms; ratio wall {ask_wall / libs_wall:.1f}x, "
        f"CPU {ask_cpu / libs_cpu:.1f}x (target: at most 3x)"
    )


if __name__ == "__main__":
    main()
