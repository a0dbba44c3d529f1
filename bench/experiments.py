"""Benchmark of Problem 1: each part of `speaker_verification.py` side by side, on two corpora,
3 seeds.

The variants (one command line each): statistics of the normalised spectrogram without the training
speakers' frequency warp (--warp 0), and the default (with it). The convolution stack that lost is
in docs/experiments.md, measured with this script at 85b9eb9. The corpora: the default data
(data/) and a second one made by bench/second_corpus.py (other voices, other lengths and speaker
counts). Each run is its own process, one at a time (one torch thread each); --resume reuses runs
already in bench/out. Prints one markdown row per variant and corpus and writes
bench/out/speaker_benchmark.json with every run's figures. (Problem 2's is
bench/effect_benchmark.py.)

    python -m bench.experiments          # 12 runs, one at a time: 394 s at 5b9566a
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.second_corpus import write_second_corpus

REPO = Path(__file__).resolve().parents[1]  # the runs start here: speaker_verification.py
OUT = REPO / "bench" / "out"  # the runs, the second corpus and the summary (not committed)
VARIANTS = {  # name: the options that make the variant
    "statistics": ["--warp", "0"],
    "statistics + warp (default)": [],
}
# The default data and a second one with other voices, lengths and speaker counts.
CORPORA = {"default": REPO / "data", "second": OUT / "second_corpus"}
# What each row keeps of a run's metrics.json.
KEYS = ("validation_accuracy", "validation_eer", "test_accuracy", "test_eer", "test_auc",
        "test_min_dcf_p01", "test_min_dcf_p05", "test_act_dcf_p05", "test_cllr",
        "test_all_pairs_eer", "snorm_test_eer", "snorm_test_min_dcf_p01", "baseline_test_accuracy",
        "chosen_epoch", "seconds")


def speaker_run(variant: str, corpus: str, seed: int, resume: bool) -> dict:
    """One run's figures (KEYS), from its metrics.json; run first unless --resume finds it."""
    name = variant.split(" (")[0].replace(" + ", "+")
    out = OUT / "speaker" / f"{corpus}-{name}-seed{seed}"
    command = [sys.executable, "speaker_verification.py", "--quiet", "--seed", str(seed),
               "--data-dir", str(CORPORA[corpus]), "--out", str(out), *VARIANTS[variant]]
    wall_seconds = None
    if not (resume and (out / "metrics.json").is_file()):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True)
        wall_seconds = round(time.perf_counter() - started, 1)
    metrics = json.loads((out / "metrics.json").read_text())
    row = {"variant": variant, "corpus": corpus, "seed": seed, "wall_seconds": wall_seconds,
           **{key: metrics.get(key) for key in KEYS}}
    print(json.dumps(row), flush=True)
    return row


def table(rows: list) -> str:
    """One markdown row per corpus and variant: per seed, validation / test accuracy and test
    EER."""
    lines = ["| corpus | variant | seeds: validation acc. / test acc. / test EER "
             "| mean test minDCF 0.01 / 0.05 | mean AS-norm EER |", "|---|---|---|---|---|"]
    for corpus in CORPORA:
        for variant in VARIANTS:
            runs = [row for row in rows if row["corpus"] == corpus and row["variant"] == variant]
            seeds = "; ".join(f"{row['seed']}: {row['validation_accuracy']:.1%} / "
                              f"{row['test_accuracy']:.1%} / {row['test_eer']:.1%}"
                              for row in runs)
            mean = {key: sum(row[key] for row in runs) / len(runs)
                    for key in KEYS if key != "chosen_epoch"}
            lines.append(f"| {corpus} | {variant} | {seeds} | {mean['test_min_dcf_p01']:.3f} / "
                         f"{mean['test_min_dcf_p05']:.3f} | {mean['snorm_test_eer']:.1%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. n-1 (default 3)")
    parser.add_argument("--resume", action="store_true",
                        help="reuse runs already in bench/out/speaker")
    args = parser.parse_args()
    write_second_corpus(CORPORA["second"])
    rows = [speaker_run(variant, corpus, seed, args.resume)
            for corpus in CORPORA for seed in range(args.seeds) for variant in VARIANTS]
    (OUT / "speaker_benchmark.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))
    print(f"wrote {OUT / 'speaker_benchmark.json'}")


if __name__ == "__main__":
    main()
