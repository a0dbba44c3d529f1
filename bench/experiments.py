"""Benchmark: both experiments with default settings, timed end to end, and checked against the targets.

Runs, each as its own process, wall time measured around the whole command:
- `speaker_verification.py` on data/ twice with the same seed (accuracy, EER, time, determinism);
- `vae_sevens.py --k 3` on data/ (rotation) twice with the same seed, then on sevens carrying each
  other effect (`make_data.py --only sevens --sevens-effect E`), with the effect's ground truth.
Writes bench/out/summary.json and prints one line per run. About 13 minutes (the VAE part 11).
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
PYTHON = sys.executable
OTHER_EFFECTS = ("shift", "shear", "contrast")


def timed_run(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True)
    return time.perf_counter() - start


def speaker_run(name: str, seed: int) -> dict:
    out = OUT / name
    seconds = timed_run([PYTHON, "speaker_verification.py", "--quiet", "--seed", str(seed), "--out", str(out)])
    metrics = json.loads((out / "metrics.json").read_text())
    keys = ("test_accuracy", "test_auc", "test_eer", "test_all_pairs_eer", "baseline_test_accuracy", "baseline_test_eer")
    row = {"wall_seconds": round(seconds, 1), **{key: metrics.get(key) for key in keys}}
    print(f"{name}: " + ", ".join(f"{key} {value}" for key, value in row.items()), flush=True)
    return row


def vae_run(name: str, data_dir: Path, seed: int) -> dict:
    out = OUT / name
    command = [PYTHON, "vae_sevens.py", "--k", "3", "--quiet", "--seed", str(seed), "--data-dir", str(data_dir)]
    seconds = timed_run(command + ["--out", str(out)])
    metrics = json.loads((out / "metrics.json").read_text())
    keys = ("objective", "grey_level_weight", "axes", "effect_dimension", "effect_statistic", "best_abs_spearman",
            "spearman_with_truth", "test_neg_elbo")
    row = {"wall_seconds": round(seconds, 1), **{key: metrics.get(key) for key in keys}}
    print(f"{name}: " + ", ".join(f"{key} {value}" for key, value in row.items()), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["speaker", "vae"], help="run one experiment's benchmarks")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    summary_path = OUT / "summary.json"
    # --only updates its own rows and keeps the other experiment's from an earlier run.
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    if args.only != "vae":
        summary["speaker_run_1"] = speaker_run("speaker_1", args.seed)
        summary["speaker_run_2"] = speaker_run("speaker_2", args.seed)
        summary["speaker_same_seed_same_accuracy"] = (
            summary["speaker_run_1"]["test_accuracy"] == summary["speaker_run_2"]["test_accuracy"]
        )
    if args.only != "speaker":
        summary["vae_rotation_1"] = vae_run("vae_rotation_1", REPO / "data", args.seed)
        summary["vae_rotation_2"] = vae_run("vae_rotation_2", REPO / "data", args.seed)
        summary["vae_same_seed_same_numbers"] = (
            summary["vae_rotation_1"]["spearman_with_truth"] == summary["vae_rotation_2"]["spearman_with_truth"]
            and summary["vae_rotation_1"]["test_neg_elbo"] == summary["vae_rotation_2"]["test_neg_elbo"]
        )
        for effect in OTHER_EFFECTS:
            data_dir = OUT / f"sevens_{effect}"
            subprocess.run(
                [PYTHON, "make_data.py", "--only", "sevens", "--sevens-effect", effect, "--out", str(data_dir)],
                cwd=REPO,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            summary[f"vae_{effect}"] = vae_run(f"vae_{effect}", data_dir, args.seed)
    OUT.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {summary_path}")


if __name__ == "__main__":
    main()
