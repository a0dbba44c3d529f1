"""Benchmark of Problem 1: `speaker_verification.py` on data/ twice with the same seed, timed end to end.

Each run is its own process; wall time is measured around the whole command. Prints one line per run and
writes bench/out/speaker.json with the accuracy, AUC, EER, the baseline's and whether the two runs agree.
(Problem 2's benchmark is bench/effect_benchmark.py.)

    python bench/experiments.py          # about 2 minutes
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
KEYS = ("test_accuracy", "test_auc", "test_eer", "test_all_pairs_eer", "baseline_test_accuracy", "baseline_test_eer",
        "seconds")


def speaker_run(name: str, seed: int) -> dict:
    out = OUT / name
    started = time.perf_counter()
    subprocess.run([sys.executable, "speaker_verification.py", "--quiet", "--seed", str(seed), "--out", str(out)],
                   cwd=REPO, check=True)
    metrics = json.loads((out / "metrics.json").read_text())
    row = {"wall_seconds": round(time.perf_counter() - started, 1), **{key: metrics.get(key) for key in KEYS}}
    print(f"{name}: " + ", ".join(f"{key} {value}" for key, value in row.items()), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    first, second = speaker_run("speaker_1", args.seed), speaker_run("speaker_2", args.seed)
    summary = {"speaker_run_1": first, "speaker_run_2": second,
               "same_seed_same_accuracy": first["test_accuracy"] == second["test_accuracy"]}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "speaker.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {OUT / 'speaker.json'}")


if __name__ == "__main__":
    main()
