"""What does Problem 1's metrics.json say about a run beside its results?

The settings, sizes and counts the report quotes, and the words it uses for the features, the model
and the choice of the number of epochs. The numbers come from the run (its options, its spectrograms
and pairs) and from the script's constants, passed in as `constants`.
"""

import torch

from common import UTTERANCES_PER_SPEAKER
from speaker.evaluation import COHORT_TOP
from speaker.measures import DETECTION_COST, P_TARGETS

# metrics.json's words for the features, the model and the epoch choice, quoted by the report.
FEATURE = ("log(1 + |STFT| / r), r the RMS of |STFT| over the training utterances; n_fft {n_fft}, "
           "hop {hop}, periodic Hann, librosa convention (centred frames, reflect padding); "
           "normalised per frequency bin with the mean and std of the frames of the speakers the "
           "model trains on")
MODEL = ("Siamese: mean/std over time of the normalised log-spectrogram; Linear to "
         "{embedding_dim}, unit length; p = sigmoid(w <e_a, e_b> + c), learned scalars w, c")
EPOCH_CHOICE = ("highest validation pair accuracy at p = 0.5 (ties: lower validation loss) of a "
                "model trained on the other training speakers; test data chooses nothing")
# The options metrics.json repeats by name, beside the seed and the pairs per speaker.
REPEATED_OPTIONS = ("epochs", "lr", "weight_decay", "embedding_dim", "shortest_crop", "warp",
                    "validation_fraction")


def speaker_count(utterances) -> int:
    return len(utterances) // UTTERANCES_PER_SPEAKER


def run_description(args, constants: dict, spectra: dict, fitting, validation, pairs: dict) -> dict:
    """metrics.json's description of the run: constants holds the script's n_fft, hop, bins,
    initial_scale, initial_bias, calibration_lr_factor and decision_threshold."""
    return {
        "script": "speaker_verification.py", "seed": args.seed, "quick": args.quick,
        "seconds": None, "threads": torch.get_num_threads(), "device": args.device.type,
        "model": MODEL.format(embedding_dim=args.embedding_dim),
        "feature": FEATURE.format(n_fft=constants["n_fft"], hop=constants["hop"]),
        **constants,
        "frames": {split: spectra[split].shape[-1] for split in spectra},
        "p_targets": list(P_TARGETS), "detection_cost": DETECTION_COST,
        "cohort_top": COHORT_TOP, "cohort_utterances": len(spectra["train"]),
        "epoch_choice": EPOCH_CHOICE, "pairs_per_speaker": args.pairs,
        "utterances_per_speaker": UTTERANCES_PER_SPEAKER, "training_speakers": len(fitting),
        "final_training_speakers": speaker_count(spectra["train"]),
        "validation_speakers": validation.tolist(),
        "test_speakers": speaker_count(spectra["test"]),
        "test_pairs": len(pairs["test"].same), "test_all_pairs": len(pairs["test_all"].same),
        **{name: vars(args)[name] for name in REPEATED_OPTIONS},
    }


def summary_line(metrics: dict, args) -> str:
    """The one line a run prints when it is done."""
    return (f"test pair accuracy {metrics['test_accuracy']:.1%} at p = 0.5 (AUC "
            f"{metrics['test_auc']:.3f}, EER {metrics['test_eer']:.1%}, minDCF(0.01) "
            f"{metrics['test_min_dcf_p01']:.3f}; AS-norm EER {metrics['snorm_test_eer']:.1%}; "
            f"baseline {metrics['baseline_test_accuracy']:.1%}), epoch {metrics['chosen_epoch']}/"
            f"{args.epochs} chosen on validation, {metrics['seconds']:.0f} s; outputs in "
            f"{args.out}/")
