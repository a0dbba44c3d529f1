"""Read saved runs of bench/effect_benchmark.py again with this checkout's sevens/: no training.

A run folder keeps its model (model.pt); its metrics.json names its data and seed. The evidence of
the images and the reading of the code are computed again from the same streams, so when neither
training nor the guide's decision changed since the run (the guide starts only when no axis spreads,
which the reading of the code does not decide), the row is the one a fresh run of this checkout
would give, without the wall time. Prints one JSON row per run (effect_benchmark.py's fields, plus
`was`: the run's own words) and the table.

    python -m bench.reread bench/out/vae_mirror_0 bench/out/vae_gamma_*  # 20 s a run, one core
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import vae_sevens as V
from bench.effect_benchmark import benchmark_row, print_table
from bench.effects import EFFECTS
from common import stream_rng
from sevens.axes import encode_means
from sevens.data import load_reference, load_sevens, split_validation
from sevens.run_record import truth_scores
from sevens.image_checks import evidence_from_images


def reread(folder: Path) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    reference_path = metrics["data"]["reference"]["path"]
    mnist = reference_path.startswith("assets/")
    reference, _ = load_reference("mnist" if mnist else reference_path)
    train_all, test, truth = load_sevens(Path(metrics["data"]["train"]["path"]).parent)
    train_rows, _ = split_validation(len(train_all), stream_rng(metrics["seed"], V.SPLIT_STREAM))
    poor = train_all[train_rows]
    saved = torch.load(folder / "model.pt", weights_only=True)
    model = V.ConvVAE(saved["k"], plain=saved["plain"])
    model.load_state_dict(saved["state_dict"])
    args = argparse.Namespace(seed=metrics["seed"], k=metrics["k"])
    evidence = evidence_from_images(poor, reference, stream_rng(args.seed, V.CRITIC_STREAM))
    test_codes = encode_means(model, test, "cpu")
    _, codes, result = V.read_code(model, poor, reference, test_codes, evidence, args, "cpu")
    scores = truth_scores(codes["test"], truth, result["effect_dimension"])
    row = benchmark_row(folder.name, args.seed, None, {**metrics, **result, **scores})
    return {**row, "guided": metrics["guided_latent"] is not None,
            "was": [metrics["effect_family"], metrics["effect_kind"],
                    metrics["effect_dimension_abs_spearman"]]}


def true_family(name: str) -> tuple[str, str]:
    """The effect and its family from a run folder's name vae_<effect>_<seed>."""
    effect = name[len("vae_"):].rsplit("_", 1)[0]
    if effect == "null":
        return "null", "none"
    return effect, EFFECTS[effect][0] if effect in EFFECTS else "geometry"  # default data: rotation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path,
                        help="run folders of bench/effect_benchmark.py")
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = {}
    for folder in args.runs:
        row = reread(folder)
        print(json.dumps(row), flush=True)
        effect, family = true_family(folder.name)
        table.setdefault(effect, {"family": family, "runs": []})["runs"].append(row)
    print_table(table)


if __name__ == "__main__":
    main()
