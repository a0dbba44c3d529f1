"""What does a run of vae_sevens.py record? metrics.json (its options and settings, the data, the
final terms, the effect found and the scores of its test codes against te7's true effect when a
te7_truth_<effect>.npy lies beside te7), the model with its axes, the test codes, and the one
line it prints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.stats
import torch

MODEL_NAMES = {False: "beta-TC-VAE (beta {beta:g}, TC weight {tc_weight:g}, grey-level weight "
                      "{grey_level_weight:g}, warped broadcast decoder)",
               True: "the homework's plain VAE (negative ELBO, transposed-convolution decoder)"}
TRUTH_KEYS = ("truth_file", "spearman_with_truth", "effect_dimension_abs_spearman",
              "best_abs_spearman", "best_spearman_dimension")  # all None without a truth file


def truth_scores(test_mu: np.ndarray, truth, effect_dimension) -> dict:
    """|Spearman| of each axis's test codes (N, K) with the true effect; truth: (file, (N,))."""
    if truth is None:
        return dict.fromkeys(TRUTH_KEYS)
    name, values = truth
    correlations = [float(scipy.stats.spearmanr(values, codes).statistic) if np.ptp(codes) else 0.0
                    for codes in test_mu.T]
    magnitudes = np.abs(correlations)
    on_effect = None if effect_dimension is None else float(magnitudes[effect_dimension])
    return {"truth_file": name, "spearman_with_truth": correlations,
            "effect_dimension_abs_spearman": on_effect,
            "best_abs_spearman": float(magnitudes.max()),
            "best_spearman_dimension": int(magnitudes.argmax())}


def run_metrics(args, settings: dict, data: dict, history: list, final: dict, result: dict,
                test_codes: np.ndarray, truth, guided_latent) -> dict:
    """metrics.json: the options, the script's settings, the data, the final test and validation
    terms, the effect found with the images' evidence, the truth scores and the history."""
    return {
        "script": "vae_sevens.py", "model": MODEL_NAMES[args.plain].format(**settings["objective"]),
        "plain": args.plain, "k": args.k, "seed": args.seed, "quick": args.quick,
        "device": str(args.device), "threads": torch.get_num_threads(), "data": data,
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, **settings,
        "test_neg_elbo": final["test"]["neg_elbo"],
        "test_reconstruction": final["test"]["reconstruction"], "test_kl": final["test"]["kl"],
        "validation_neg_elbo": final["validation"]["neg_elbo"],
        "kl_per_latent": final["test"]["kl_per_latent"], "guided_latent": guided_latent,
        "guide_epochs": args.guide_epochs, **result,
        **truth_scores(test_codes, truth, result["effect_dimension"]),
        "history": history,
    }


def save_model_and_codes(folder: Path, model, args, axes, test_codes: np.ndarray,
                         model_test_mu: np.ndarray) -> None:
    """model.pt: the weights and the axes (loads with torch.load(weights_only=True));
    test_latents.npz: the test codes on the axes (mu) and the model's own (model_mu)."""
    torch.save({"state_dict": model.state_dict(), "k": args.k, "plain": args.plain,
                "axes_unmixing": torch.as_tensor(axes.unmixing),
                "axes_centre": torch.as_tensor(axes.centre)}, folder / "model.pt")
    np.savez(folder / "test_latents.npz", mu=test_codes, model_mu=model_test_mu,
             axes_unmixing=axes.unmixing, axes_centre=axes.centre)


def summary_line(metrics: dict, out: Path) -> str:
    """The model, its test -ELBO and the effect sentence, with the guide and the truth score."""
    text = f"K={metrics['k']} {metrics['model']}: test -ELBO {metrics['test_neg_elbo']:.1f}; "
    text += metrics["effect_sentence"]
    if metrics["guided_latent"] is not None:
        text += (f" (after {metrics['guide_epochs']} epochs with latent "
                 f"{metrics['guided_latent']} tied to the critic)")
    if metrics["truth_file"] is not None and metrics["effect_dimension"] is not None:
        text += (f"; |Spearman| with {metrics['truth_file']}: z{metrics['effect_dimension']} "
                 f"{metrics['effect_dimension_abs_spearman']:.3f} "
                 f"(best z{metrics['best_spearman_dimension']} {metrics['best_abs_spearman']:.3f})")
    return text + f" [{metrics['seconds']:.0f} s, {out}]"
