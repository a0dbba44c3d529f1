"""Problem 2 benchmark: does `vae_sevens.py --k 3` find and name effects it was never tuned on?

For every effect of bench/effects.py (made from MNIST's training and test sevens) and every seed, one
default run; plus the default data (data/, rotation) at --rotation-seeds seeds and the plain VAE on it.
Each run is its own process (`vae_sevens.py --quiet`), several at a time with --jobs. Per run it records
the axis the script names (truth-free), the best axis by |Spearman| with the truth (te7 only scores),
effect_kind and the wall time; bench/out/effect_benchmark.json holds every row, and a table per family
is printed.

    python bench/effect_benchmark.py --jobs 2            # about 40 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.effects import EFFECTS, write_effect_data  # noqa: E402

OUT = REPO / "bench" / "out"
PYTHON = sys.executable


def vae_run(name: str, data_dir: Path, seed: int, extra=(), device="cpu", resume=False) -> dict:
    out = OUT / name
    command = [PYTHON, "vae_sevens.py", "--k", "3", "--quiet", "--seed", str(seed), "--data-dir", str(data_dir),
               "--out", str(out), "--device", device, *extra]
    seconds = None
    if not (resume and (out / "metrics.json").is_file()):
        started = time.perf_counter()
        finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        seconds = round(time.perf_counter() - started, 1)
        if finished.returncode:
            return {"name": name, "error": finished.stderr.strip().splitlines()[-1:]}
    metrics = json.loads((out / "metrics.json").read_text())
    named, best = metrics["effect_dimension"], metrics["best_spearman_dimension"]
    row = {"name": name, "seed": seed, "wall_seconds": seconds, "run_seconds": round(metrics["seconds"], 1),
           "effect_dimension": named, "best_dimension": best, "axis_right": named is not None and named == best,
           "named_abs_spearman": metrics["effect_dimension_abs_spearman"],
           "best_abs_spearman": metrics["best_abs_spearman"],
           "axis_scores": metrics["axis_scores"], "effect_kind": metrics["effect_kind"],
           "images_agree": metrics["images_agree"], "effect_sentence": metrics["effect_sentence"]}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="seeds per effect (default 3)")
    parser.add_argument("--rotation-seeds", type=int, default=10, help="seeds on the default data (default 10)")
    parser.add_argument("--effects", nargs="*", default=list(EFFECTS), choices=list(EFFECTS))
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time, one thread each (default 1)")
    parser.add_argument("--device", default="cpu", help="passed to vae_sevens.py (default cpu)")
    parser.add_argument("--resume", action="store_true", help="reuse runs whose metrics.json is already there")
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    runs = []
    for effect in args.effects:
        data_dir = OUT / f"sevens_{effect}"
        write_effect_data(effect, data_dir, seed=0)
        runs += [(effect, f"vae_{effect}_{seed}", data_dir, seed, ()) for seed in range(args.seeds)]
    runs += [("default data (rotation)", f"vae_default_{seed}", REPO / "data", seed, ())
             for seed in range(args.rotation_seeds)]
    if args.rotation_seeds:
        runs.append(("default data, plain VAE", "vae_default_plain_0", REPO / "data", 0, ("--plain",)))
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda run: (run[0], vae_run(*run[1:], device=args.device, resume=args.resume)), runs))

    table = {}
    for family, row in rows:
        table.setdefault(family, []).append(row)
    (OUT / "effect_benchmark.json").write_text(json.dumps(table, indent=2) + "\n")
    print(f"\n{'family':26} {'axis right':>10} {'kind right':>10} {'named |r| (min..max)':>22} {'kinds named'}")
    for family, family_rows in table.items():
        good = [row for row in family_rows if "error" not in row]
        expected = "rotation" if family.startswith("default") else family
        correlations = [row["named_abs_spearman"] or 0.0 for row in good]
        kinds = sorted({row["effect_kind"] for row in good})
        print(f"{family:26} {sum(row['axis_right'] for row in good):>4}/{len(family_rows):<5} "
              f"{sum(row['effect_kind'] == expected for row in good):>4}/{len(family_rows):<5} "
              f"{min(correlations, default=0):>10.3f}..{max(correlations, default=0):.3f}   {', '.join(kinds)}")
    print(f"wrote {OUT / 'effect_benchmark.json'}")


if __name__ == "__main__":
    main()
