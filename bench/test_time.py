"""How long `make test` takes on this machine: the median of a few runs (the figure in the README).

    python -m bench.test_time            # 3 runs of `make test`, about 6 minutes on 2 cores
    python -m bench.test_time --runs 5

Each run is the whole command a user types, lint and tests, once .venv exists; the set-up is not
timed.
"""

import argparse
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def time_make_test() -> float:
    """Wall seconds of one `make test`; a failing run stops the benchmark (a red suite has no
    speed)."""
    started = time.perf_counter()
    subprocess.run(["make", "--no-print-directory", "test"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of make test (default 3)")
    args = parser.parse_args()
    subprocess.run(["make", "--no-print-directory", "setup"], cwd=REPO, check=True)
    seconds = []
    for run in range(1, args.runs + 1):
        seconds.append(time_make_test())
        print(f"make test, run {run}: {seconds[-1]:.1f} s", flush=True)
    print(f"make test: median {statistics.median(seconds):.1f} s, min {min(seconds):.1f} s, "
          f"max {max(seconds):.1f} s over {args.runs} runs")


if __name__ == "__main__":
    main()
