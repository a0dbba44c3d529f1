"""Problem 2 benchmark: does `vae_sevens.py --k 3` find and name effects it was never tuned on?

For every effect of bench/effects.py (made from MNIST's training and test sevens; 33 effects in six
families, two of them combined: either family is right) and every seed, one default run; null runs
(tr7 and --reference two disjoint halves of MNIST's training sevens, untouched: they must say
`none`); the default data (data/, rotation) at --rotation-seeds seeds and the plain VAE on it. Each
run is its own process (`vae_sevens.py --quiet`), several at a time with --jobs. Per run it records
the axis the script names (truth-free), the best axis by |Spearman| with the truth (te7 only
scores), effect_family, effect_kind, how sure the run is (effect_confidence, completeness, the
replay critic's accuracy and z) and the wall time. bench/out/effect_benchmark.json holds every row
and, under "summary", what the targets are read from (bench/effect_summary.py); a table per effect,
a confusion matrix of families and the totals are printed.

    python -m bench.effect_benchmark --jobs 2   # 113 runs of about 2-3 min, two at a time: ~2.5 h
    python -m bench.effect_benchmark --effects gamma crossbar --seeds 1 --rotation-seeds 0 \
        --null-seeds 0
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
import numpy as np

from bench.effect_summary import (AXIS_TARGET, DEFAULT_PLAIN, DEFAULT_ROTATION, NULL,
                                  ROTATION_TARGET, answered, summary)
from bench.effects import EFFECTS, write_effect_data
from default_data.homework_files import write_pickle
from sevens.mnist import load_mnist_sevens

OUT = REPO / "bench" / "out"
PYTHON = sys.executable


def vae_run(name: str, data_dir: Path, seed: int, extra=(), device="cpu", resume=False) -> dict:
    out = OUT / name
    command = [PYTHON, "vae_sevens.py", "--k", "3", "--quiet", "--seed", str(seed),
               "--data-dir", str(data_dir), "--out", str(out), "--device", device, "--threads", "1",
               *extra]
    seconds = None
    if not (resume and (out / "metrics.json").is_file()):
        started = time.perf_counter()
        finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        seconds = round(time.perf_counter() - started, 1)
        if finished.returncode:
            return {"name": name, "error": finished.stderr.strip().splitlines()[-1:]}
    row = benchmark_row(name, seed, seconds, json.loads((out / "metrics.json").read_text()))
    print(json.dumps(row), flush=True)
    return row


def benchmark_row(name: str, seed: int, seconds, metrics: dict) -> dict:
    """What the benchmark records of a run, from its metrics.json (or the same keys)."""
    named = metrics["effect_dimension"]
    best = metrics["best_spearman_dimension"]  # None without truth
    return {"name": name, "seed": seed, "wall_seconds": seconds,
            "run_seconds": round(metrics["seconds"], 1), "effect_dimension": named,
            "best_dimension": best, "axis_right": named is not None and named == best,
            "named_abs_spearman": metrics["effect_dimension_abs_spearman"],
            "best_abs_spearman": metrics["best_abs_spearman"],
            "axis_scores": metrics["axis_scores"], "effect_family": metrics["effect_family"],
            "effect_kind": metrics["effect_kind"], "critic_accuracy": metrics["critic_accuracy"],
            "effect_sentence": metrics["effect_sentence"],
            # Newer runs only: how sure the answer is; None in an older metrics.json.
            "effect_confidence": metrics.get("effect_confidence"),
            "completeness": metrics.get("completeness"),
            "replay_critic_accuracy": metrics.get("replay_critic_accuracy"),
            "replay_critic_z": metrics.get("replay_critic_z")}


def write_null_data(out: Path, seed: int) -> Path:
    """tr7.pkl and reference.pkl: two disjoint random halves of MNIST's training sevens; te7.pkl:
    its test sevens. Nothing is changed, so the run must say none. Returns the reference pickle."""
    sevens = load_mnist_sevens()
    order = np.random.default_rng([seed, 12]).permutation(len(sevens["train"]))
    half = len(order) // 2
    write_pickle(out / "tr7.pkl", (sevens["train"][order[:half]] / 255.0).astype(np.float32))
    write_pickle(out / "reference.pkl", (sevens["train"][order[half:]] / 255.0).astype(np.float32))
    write_pickle(out / "te7.pkl", (sevens["test"] / 255.0).astype(np.float32))
    return out / "reference.pkl"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="seeds per effect (default 3)")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from here (default 0)")
    parser.add_argument("--null-seeds", type=int, default=3,
                        help="null runs, each its own halves (default 3)")
    parser.add_argument("--rotation-seeds", type=int, default=10,
                        help="seeds on the default data (default 10)")
    parser.add_argument("--effects", nargs="*", default=list(EFFECTS), choices=list(EFFECTS))
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs at a time, one thread each (default 1)")
    parser.add_argument("--device", default="cpu", help="passed to vae_sevens.py (default cpu)")
    parser.add_argument("--resume", action="store_true",
                        help="reuse runs whose metrics.json is already there")
    return parser.parse_args()


def benchmark_runs(args: argparse.Namespace) -> list[tuple]:
    """(effect, the family it belongs to, run name, data folder, seed, extra options) of every run,
    its data written."""
    runs = []
    for effect in args.effects:
        data_dir = OUT / f"sevens_{effect}"
        write_effect_data(effect, data_dir, seed=0)
        runs += [(effect, EFFECTS[effect][0], f"vae_{effect}_{seed}", data_dir, seed, ())
                 for seed in range(args.first_seed, args.first_seed + args.seeds)]
    for seed in range(args.null_seeds):
        data_dir = OUT / f"sevens_null_{seed}"
        reference = write_null_data(data_dir, seed)
        runs.append((NULL, "none", f"vae_null_{seed}", data_dir, seed,
                     ("--reference", str(reference))))
    runs += [(DEFAULT_ROTATION, "geometry", f"vae_default_{seed}", REPO / "data", seed, ())
             for seed in range(args.rotation_seeds)]
    if args.rotation_seeds:
        runs.append((DEFAULT_PLAIN, "geometry", "vae_default_plain_0", REPO / "data", 0,
                     ("--plain",)))
    return runs


def main() -> None:
    args = parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    runs = benchmark_runs(args)

    def run_one(run):
        return (*run[:2], vae_run(*run[2:], device=args.device, resume=args.resume))

    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run_one, runs))

    table = {}
    for effect, family, row in rows:
        table.setdefault(effect, {"family": family, "runs": []})["runs"].append(row)
    found = summary(table)
    (OUT / "effect_benchmark.json").write_text(json.dumps({**table, "summary": found}, indent=2)
                                               + "\n")
    print_table(table, found)
    print(f"wrote {OUT / 'effect_benchmark.json'}")


def print_table(table: dict, found: dict) -> None:
    """Per effect (found: summary(table)): its right families, the runs named right, at every seed
    or not, the confidences, the median completeness, the named axis's |r| and the words named;
    then the confusion of families and the totals."""
    print(f"\n{'effect':24} {'right families':16} {'right':>5} {'all':>3} {'c/p/u':>6} "
          f"{'compl':>5} {'named |r| (min..max)':>20}  families, kinds named")
    for effect, row in found["effects"].items():
        print(effect_line(effect, row))
    print_confusion(table)
    print_totals(found["totals"])


def effect_line(effect: str, row: dict) -> str:
    """One effect_summary as a line of print_table (nan: no |r|; -: no completeness)."""
    counts = "/".join(str(row["confidence"][name]) for name in ("complete", "partial", "unknown"))
    middle = "-" if row["median_completeness"] is None else f"{row['median_completeness']:.2f}"
    spread = row["named_abs_spearman"] or {"min": math.nan, "max": math.nan}
    every = "yes" if row["right_every_seed"] else "no"
    return (f"{effect:24} {'+'.join(row['families']):16} {row['named_right']:>2}/{row['runs']:<2} "
            f"{every:>3} {counts:>6} {middle:>5} {spread['min']:>13.3f}..{spread['max']:.3f}   "
            f"{', '.join(row['named'])}")


def print_confusion(table: dict) -> None:
    """Runs per (true family, named family); a combined effect counts under its first family."""
    confusion = {}
    for entry in table.values():
        for row in answered(entry):
            key = (entry["family"], row["effect_family"])
            confusion[key] = confusion.get(key, 0) + 1
    named_families = sorted({named for _, named in confusion})
    columns = " ".join(f"{f:>9}" for f in named_families)
    print(f"\nconfusion (rows: true family, columns: named): {columns}")
    for family in sorted({true for true, _ in confusion}):
        counts = " ".join(f"{confusion.get((family, f), 0):>9}" for f in named_families)
        print(f"{family:46} {counts}")


def print_totals(totals: dict) -> None:
    def ratio(name):
        part = totals[name]
        return f"{part['count']}/{part['of']}" + ("" if part["share"] is None
                                                   else f" ({100 * part['share']:.0f}%)")

    print(f"\neffects right at every seed: {ratio('family_right_every_seed')}; right and complete "
          f"at most seeds: {ratio('right_and_complete')}; named axis median |r| >= "
          f"{AXIS_TARGET:.2f}: {ratio('named_axis_at_target')}")
    print(f"runs naming a wrong family unhedged (effects and nulls): "
          f"{ratio('confidently_wrong_runs')}; nulls say none at every seed: "
          f"{totals['nulls_say_none']}; default data |r| >= {ROTATION_TARGET:.2f}: "
          f"{ratio('rotation_at_target')} seeds; runs failed: {totals['errors']}")


if __name__ == "__main__":
    main()
