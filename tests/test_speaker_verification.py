"""The Siamese speaker verifier: the homework's pairs, the indexed scores, the loss, any length, bad input."""

import functools
import json
import pickle
import signal
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import torch

from speaker.figures import principal_components
import speaker_verification as sv
import speaker.measures as vm
from common import load_speech, run_cli, stream_rng
from speaker.augment import frequency_warp, speaker_warp
from speaker.data import speaker_rows, split_speakers
from speaker.evaluation import all_pairs, embed_all, pair_report, pair_scores
from safety import RUN_MARKER
from speaker_verification import speaker_pairs

REPO = Path(__file__).resolve().parents[1]
FIGURES = ("curves.png", "score_histogram.png", "roc.png", "det.png", "embeddings_pca.png")
SAMPLE_RATE = 16000


def separable_speech(rng, n_speakers, n_samples, utterances=10):
    """Clearly separable toy speakers: each hums its own pitch (with two harmonics) in a little noise.

    Pitches are spread evenly over two octaves in a random order, so that training, validation and
    test speakers cover the same range.
    """
    time = np.arange(n_samples) / SAMPLE_RATE
    pitches = 100.0 * 4.0 ** ((rng.permutation(n_speakers) + rng.uniform(0, 1)) / n_speakers)
    rows = []
    for pitch in pitches:
        for _ in range(utterances):
            wobble = pitch * rng.uniform(0.99, 1.01)
            voice = sum(np.sin(2 * np.pi * k * wobble * time + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3))
            rows.append(voice + 0.1 * rng.standard_normal(n_samples))
    return np.asarray(rows, dtype=np.float32)


def write_corpus(folder, n_train, train_samples, n_test, test_samples, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, speakers, samples in (("trs", n_train, train_samples), ("tes", n_test, test_samples)):
        with open(folder / f"{name}.pkl", "wb") as stream:
            pickle.dump(separable_speech(rng, speakers, samples), stream, protocol=4)
    return folder


def small_model(embedding_dim=4):
    torch.manual_seed(0)
    return sv.SiameseVerifier(513, embedding_dim).eval()


# ---------------------------------------------------------------- the homework's pairs (speaker_pairs)


def pair_speakers(left, right):
    return left // 10, right // 10


@pytest.mark.parametrize("pairs_per_speaker", [1, 10, 11, 45, 46, 100])
def test_pairs_are_balanced_minibatches_one_per_speaker(pairs_per_speaker):
    left, right, same = speaker_pairs(np.random.default_rng(0), 7, 10, pairs_per_speaker)
    assert left.shape == right.shape == same.shape == (7, 2 * pairs_per_speaker)
    assert np.all(same[:, :pairs_per_speaker] == 1) and np.all(same[:, pairs_per_speaker:] == 0)
    left_speaker, right_speaker = pair_speakers(left, right)
    assert np.all(left_speaker == np.arange(7)[:, None])  # row s is speaker s's minibatch
    assert np.all((left_speaker == right_speaker) == (same == 1))  # positives share, negatives do not
    assert np.all(left != right)  # no utterance paired with itself
    assert left.min() >= 0 and max(left.max(), right.max()) < 70


def test_positives_are_distinct_pairs_while_at_most_45():
    left, right, _ = speaker_pairs(np.random.default_rng(1), 5, 10, 45)
    for speaker in range(5):
        positives = {tuple(sorted(pair)) for pair in zip(left[speaker, :45] % 10, right[speaker, :45] % 10)}
        assert positives == set(combinations(range(10), 2))  # all C(10, 2) = 45, each once


def test_beyond_45_positives_repeat_whole_rounds_evenly():
    left, right, _ = speaker_pairs(np.random.default_rng(2), 3, 10, 100)
    for speaker in range(3):
        pairs = [tuple(sorted(pair)) for pair in zip(left[speaker, :100] % 10, right[speaker, :100] % 10)]
        counts = np.array([pairs.count(pair) for pair in combinations(range(10), 2)])
        assert counts.sum() == 100 and set(counts) <= {2, 3}  # 2 full rounds of 45, then 10 more


@pytest.mark.parametrize("pairs_per_speaker", [7, 10, 25, 45])
def test_negatives_cycle_through_the_speakers_own_utterances(pairs_per_speaker):
    left, _, _ = speaker_pairs(np.random.default_rng(3), 4, 10, pairs_per_speaker)
    for speaker in range(4):
        uses = np.bincount(left[speaker, pairs_per_speaker:] % 10, minlength=10)
        assert uses.max() - uses.min() <= 1  # with replacement only once L > 10, evenly
        assert uses.sum() == pairs_per_speaker


def test_negatives_reach_every_other_speaker():
    _, right, _ = speaker_pairs(np.random.default_rng(4), 5, 10, 400)
    for speaker in range(5):
        partners = set(right[speaker, 400:] // 10)
        assert partners == set(range(5)) - {speaker}


def test_pairs_are_reproducible_with_a_seed_and_change_with_it():
    first = speaker_pairs(np.random.default_rng(5), 6, 10, 45)
    again = speaker_pairs(np.random.default_rng(5), 6, 10, 45)
    other = speaker_pairs(np.random.default_rng(6), 6, 10, 45)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])


def test_pairs_within_a_subset_of_speakers_stay_in_that_subset():
    rows = speaker_rows(np.array([1, 4, 6]))
    left, right, same = sv.pairs_within(rows, np.random.default_rng(0), 45)
    assert set(np.unique(np.concatenate([left.ravel(), right.ravel()]) // 10)) <= {1, 4, 6}
    assert np.all((left // 10 == right // 10) == (same == 1))
    assert np.all(left // 10 == np.array([1, 4, 6])[:, None])


def test_validation_speakers_are_disjoint_seeded_and_a_fifth_by_default():
    fitting, validation = split_speakers(50, 0.2, stream_rng(0, sv.SPLIT_STREAM))
    assert len(validation) == 10 and len(fitting) == 40
    assert set(fitting) | set(validation) == set(range(50)) and not set(fitting) & set(validation)
    np.testing.assert_array_equal(validation, split_speakers(50, 0.2, stream_rng(0, sv.SPLIT_STREAM))[1])
    assert not np.array_equal(validation, split_speakers(50, 0.2, stream_rng(1, sv.SPLIT_STREAM))[1])
    assert len(split_speakers(5, 0.2, stream_rng(0, sv.SPLIT_STREAM))[1]) == 2  # never fewer than 2 validation speakers


def test_all_pairs_are_every_unordered_pair_labelled_by_speaker():
    left, right, same = all_pairs(30)
    assert len(left) == 30 * 29 // 2
    assert set(zip(left, right)) == set(combinations(range(30), 2))
    assert same.sum() == 3 * 45  # C(10, 2) same-speaker pairs per speaker


# ---------------------------------------------------------------- features and model


def test_normalisation_statistics_are_per_bin_over_all_frames():
    features = np.random.default_rng(0).normal(3.0, 2.0, size=(6, 513, 9)).astype(np.float32)
    mean, std = sv.normalisation_statistics(features)
    per_bin = features.transpose(1, 0, 2).reshape(513, -1)
    np.testing.assert_allclose(mean, per_bin.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(std, per_bin.std(axis=1), rtol=1e-4)


def test_indexed_pair_scores_equal_the_naive_per_pair_computation():
    model = small_model()
    features = torch.randn(12, 513, 20)
    left = np.array([0, 3, 3, 7, 11, 2])
    right = np.array([5, 3 + 1, 9, 0, 1, 2 + 1])
    with torch.no_grad():
        indexed = sv.minibatch_logits(model, features, left, right)
        naive = torch.stack(
            [
                model.scale * torch.dot(model.embed(features[[a]])[0], model.embed(features[[b]])[0]) + model.bias
                for a, b in zip(left, right)
            ]
        )
    torch.testing.assert_close(indexed, naive, rtol=1e-5, atol=1e-5)


def test_the_encoder_runs_once_per_distinct_utterance():
    model = small_model()
    seen = []
    model.project.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape[0]))
    left = np.array([0, 0, 1, 2, 0, 5])
    right = np.array([1, 2, 2, 5, 5, 1])
    with torch.no_grad():
        sv.minibatch_logits(model, torch.randn(8, 513, 10), left, right)
    assert seen == [4]  # utterances 0, 1, 2, 5 once each, not 12 spectrograms


@pytest.mark.parametrize("frames", [1, 2, 7, 32, 45, 100])
def test_embeddings_have_one_size_and_unit_length_for_any_length(frames):
    model = small_model(embedding_dim=6)
    with torch.no_grad():
        embeddings = model.embed(torch.randn(3, 513, frames))
    assert embeddings.shape == (3, 6)
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(3))


def test_frequency_warp_by_1_is_the_identity_and_moves_a_peak_to_a_times_its_bin():
    spectrograms = torch.zeros(3, 513, 4)
    spectrograms[:, 100] = 1.0
    warped = frequency_warp(spectrograms, np.array([1.0, 1.1, 0.9]))
    torch.testing.assert_close(warped[0], spectrograms[0])
    assert int(warped[1, :, 0].argmax()) == 110 and int(warped[2, :, 0].argmax()) == 90
    ramp = torch.arange(513.0)[None, :, None].expand(1, 513, 2)
    expected = np.clip(np.arange(513) / 1.05, 0, 512)  # bin f reads bin f / a, linearly interpolated
    np.testing.assert_allclose(frequency_warp(ramp, np.array([1.05]))[0, :, 0].numpy(), expected, rtol=1e-5)


def test_speaker_warp_gives_a_speakers_utterances_one_factor():
    rows = np.array([3, 7, 12, 15, 18, 41])  # speakers 0, 0, 1, 1, 1, 4
    spectrograms = torch.zeros(6, 513, 2)
    spectrograms[:, 200] = 1.0
    warped = speaker_warp(rows, spectrograms, np.random.default_rng(0), largest=0.12)
    peaks = warped[:, :, 0].argmax(dim=1).numpy()
    assert peaks[0] == peaks[1] and peaks[2] == peaks[3] == peaks[4]
    assert len(set(peaks[[0, 2, 5]])) == 3 and np.all(np.abs(peaks - 200) <= 0.12 * 200 + 1)


def test_logistic_loss_equals_numpy_binary_cross_entropy():
    logits = np.array([-3.0, -0.5, 0.0, 0.7, 4.0, 12.0])
    same = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    probability = 1 / (1 + np.exp(-logits))
    expected = -np.mean(same * np.log(probability) + (1 - same) * np.log(1 - probability))
    loss = sv.logistic_loss(torch.tensor(logits), torch.tensor(same))
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_pair_report_matches_direct_counts():
    probabilities = np.array([0.9, 0.6, 0.4, 0.2, 0.55, 0.1])
    same = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    report = pair_report(np.log(probabilities / (1 - probabilities)), same)
    assert report["accuracy"] == pytest.approx(4 / 6)  # 0.4 (same) and 0.55 (different) are wrong
    assert report["loss"] == pytest.approx(-np.mean(np.log([0.9, 0.6, 0.4, 0.8, 0.45, 0.9])))
    # p >= 0.5 accepts 0.9, 0.6 and 0.55: one miss of 3 targets, one false alarm of 3 non-targets
    assert report["act_dcf_p01"] == pytest.approx((0.01 / 3 + 0.99 / 3) / 0.01)
    assert report["act_dcf_p05"] == pytest.approx((0.05 / 3 + 0.95 / 3) / 0.05)


# ---------------------------------------------------------------- the field's measures, against brute force


def random_trials(rng, n=60, ties=False):
    same = (rng.uniform(size=n) < 0.3).astype(float)
    same[:2] = [1.0, 0.0]  # both classes present
    scores = rng.normal(2 * same, 1.0)
    return (scores.round(1) if ties else scores), same


def brute_force_costs(scores, same, p_target):
    """The normalised DCF at every threshold t ("same" when score >= t), one threshold at a time."""
    costs = []
    for threshold in np.r_[np.unique(scores), np.inf]:
        miss = np.mean(scores[same == 1] < threshold)
        false_alarm = np.mean(scores[same == 0] >= threshold)
        costs.append((p_target * miss + (1 - p_target) * false_alarm) / min(p_target, 1 - p_target))
    return costs


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("p_target", [0.01, 0.05, 0.5])
def test_minimum_detection_cost_is_the_best_threshold_of_a_loop_over_all(ties, p_target):
    rng = np.random.default_rng(7)
    for _ in range(10):
        scores, same = random_trials(rng, ties=ties)
        expected = min(brute_force_costs(scores, same, p_target))
        assert vm.minimum_detection_cost(scores, same, p_target) == pytest.approx(expected, abs=1e-12)


def test_minimum_detection_cost_is_0_when_separable_and_at_most_1():
    same = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    assert vm.minimum_detection_cost(np.array([3.0, 2.0, 1.0, 0.0, -1.0]), same, 0.01) == 0.0
    assert vm.minimum_detection_cost(np.array([0.0, -1.0, 1.0, 2.0, 3.0]), same, 0.01) == pytest.approx(1.0)


def test_actual_detection_cost_counts_the_decisions_made():
    rng = np.random.default_rng(8)
    scores, same = random_trials(rng)
    for p_target in (0.01, 0.05):
        misses = sum(1 for s, y in zip(scores, same) if y == 1 and s < 0)
        false_alarms = sum(1 for s, y in zip(scores, same) if y == 0 and s >= 0)
        cost = p_target * misses / same.sum() + (1 - p_target) * false_alarms / (1 - same).sum()
        assert vm.actual_detection_cost(scores >= 0, same, p_target) == pytest.approx(cost / p_target)


def test_cllr_matches_its_definition_term_by_term():
    rng = np.random.default_rng(9)
    llr, same = random_trials(rng)
    target = [np.log2(1 + np.exp(-s)) for s, y in zip(llr, same) if y == 1]
    non_target = [np.log2(1 + np.exp(s)) for s, y in zip(llr, same) if y == 0]
    assert vm.log_likelihood_ratio_cost(llr, same) == pytest.approx((np.mean(target) + np.mean(non_target)) / 2)
    assert vm.log_likelihood_ratio_cost(np.zeros(4), np.array([1, 0, 1, 0])) == pytest.approx(1.0)  # no information
    assert np.isfinite(vm.log_likelihood_ratio_cost(np.array([800.0, -800.0]), np.array([0, 1])))  # no overflow


def test_det_curve_is_every_thresholds_false_alarm_and_miss_rate():
    rng = np.random.default_rng(10)
    scores, same = random_trials(rng, ties=True)
    false_alarm, miss = vm.det_curve(scores, same)
    points = {(np.mean(scores[same == 0] >= t), np.mean(scores[same == 1] < t)) for t in np.r_[np.unique(scores), np.inf]}
    assert {(round(a, 12), round(b, 12)) for a, b in zip(false_alarm, miss)} == \
        {(round(a, 12), round(b, 12)) for a, b in points}
    assert np.all(np.diff(false_alarm) >= 0) and np.all(np.diff(miss) <= 0)


def test_magnitude_reference_is_the_rms_of_the_stft_magnitudes_and_scales_with_the_signal():
    signals = np.random.default_rng(5).standard_normal((4, 3000)).astype(np.float32)
    window = torch.hann_window(sv.N_FFT, periodic=True, dtype=torch.float64)
    magnitudes = torch.stft(torch.as_tensor(signals, dtype=torch.float64), sv.N_FFT, sv.HOP, window=window,
                            center=True, pad_mode="reflect", return_complex=True).abs().numpy()  # an independent STFT
    np.testing.assert_allclose(sv.magnitude_reference(signals), np.sqrt(np.mean(magnitudes**2)), rtol=1e-5)
    np.testing.assert_allclose(sv.magnitude_reference(7 * signals), 7 * sv.magnitude_reference(signals), rtol=1e-5)
    assert sv.magnitude_reference(np.zeros((2, 3000), dtype=np.float32)) > 0  # silence: a unit all the same


def test_features_are_the_same_whatever_the_gain_the_corpus_was_saved_at():
    signals = np.random.default_rng(6).standard_normal((3, 5000)).astype(np.float32)
    features = sv.spectrograms(signals, sv.magnitude_reference(signals))
    for gain in (1 / 64, 300.0):  # as quiet as a badly levelled recording; int16's range
        louder = (gain * signals).astype(np.float32)
        np.testing.assert_allclose(sv.spectrograms(louder, sv.magnitude_reference(louder)), features, rtol=1e-4,
                                   atol=1e-6)


def test_silent_and_zero_padded_utterances_give_finite_features_embeddings_and_scores():
    rng = np.random.default_rng(0)
    signals = rng.standard_normal((3, 6000)).astype(np.float32)
    signals[0] = 0.0  # silence
    signals[1, 2500:] = 0.0  # zero-padded tail
    features = sv.spectrograms(signals, sv.magnitude_reference(signals))
    assert np.isfinite(features).all() and np.all(features[0] == 0)
    model = small_model()
    model.set_normalisation(*sv.normalisation_statistics(features))
    features = torch.as_tensor(features)
    embeddings = embed_all(model, features)
    scores = pair_scores(model, embeddings, sv.Pairs(np.array([0, 0, 1]), np.array([1, 2, 2]), np.ones(3)))
    assert torch.isfinite(embeddings).all() and np.isfinite(scores).all()
    model.train()  # gradients too: the standard deviation pooling of a constant must not give NaN
    logits = sv.minibatch_logits(model, features, np.array([0, 0]), np.array([1, 2]))
    loss = sv.logistic_loss(logits, torch.tensor([0.0, 1.0]))
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_accuracy_maximising_threshold_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        same = rng.integers(0, 2, 40).astype(float)
        scores = rng.normal(same, 1.0).round(1)  # ties included
        threshold = vm.accuracy_maximising_threshold(scores, same)
        accuracy = np.mean((scores >= threshold) == (same == 1))
        best = max(np.mean((scores >= t) == (same == 1)) for t in np.r_[scores, np.inf])
        assert accuracy == pytest.approx(best)


def test_principal_components_match_the_covariance_eigenvectors():
    points = np.random.default_rng(0).standard_normal((50, 5)) * np.array([5.0, 3.0, 1.0, 0.5, 0.1])
    coordinates = principal_components(points)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(points, rowvar=False))
    expected = (points - points.mean(axis=0)) @ eigenvectors[:, ::-1][:, :2]
    np.testing.assert_allclose(np.abs(coordinates), np.abs(expected), atol=1e-9)  # up to sign


def test_adaptive_s_norm_matches_a_loop_over_the_pairs():
    rng = np.random.default_rng(11)
    embeddings = rng.standard_normal((12, 5))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    cohort = rng.standard_normal((30, 5))
    cohort /= np.linalg.norm(cohort, axis=1, keepdims=True)
    pairs = sv.Pairs(np.array([0, 1, 2, 3, 11]), np.array([4, 5, 6, 7, 10]), np.ones(5))
    top = 7
    expected = []
    for a, b in zip(pairs.left, pairs.right):
        score = float(np.dot(embeddings[a], embeddings[b]))
        normalised = 0.0
        for side in (a, b):
            highest = sorted(float(np.dot(embeddings[side], c)) for c in cohort)[-top:]
            normalised += (score - np.mean(highest)) / np.std(highest) / 2
        expected.append(normalised)
    np.testing.assert_allclose(vm.adaptive_s_norm(embeddings, cohort, pairs, top), expected, rtol=1e-10)
    # top >= the cohort: plain s-norm over the whole cohort
    whole = vm.adaptive_s_norm(embeddings, cohort, pairs, 1000)
    np.testing.assert_allclose(whole, vm.adaptive_s_norm(embeddings, cohort, pairs, 30), rtol=1e-12)


# ---------------------------------------------------------------- training and the command line


def test_a_short_training_run_separates_clearly_separable_speakers(tmp_path):
    data = write_corpus(tmp_path / "data", n_train=20, train_samples=4000, n_test=6, test_samples=5000)
    out = tmp_path / "out"
    sv.main(["--data-dir", str(data), "--out", str(out), "--epochs", "10", "--pairs", "10", "--quiet"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.8
    validation_accuracy = metrics["history"]["validation_accuracy"]
    assert validation_accuracy[metrics["chosen_epoch"] - 1] == max(validation_accuracy)  # chosen on validation


def test_the_kept_model_trains_on_every_training_speaker_for_the_chosen_epochs(tmp_path, monkeypatch):
    data = write_corpus(tmp_path / "data", n_train=10, train_samples=3000, n_test=3, test_samples=3500)
    calls = []
    real_train = sv.train

    def recording_train(args, model, features, rows, epochs, pairs=None):
        calls.append((sorted(set(rows // sv.UTTERANCES_PER_SPEAKER)), epochs, pairs is not None,
                      model.feature_mean.clone()))
        return real_train(args, model, features, rows, epochs, pairs)

    monkeypatch.setattr(sv, "train", recording_train)
    sv.main(["--data-dir", str(data), "--out", str(tmp_path / "out"), "--epochs", "3", "--pairs", "5", "--quiet"])
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    (selection_speakers, selection_epochs, scored, _), (final_speakers, final_epochs, final_scored, mean) = calls
    assert scored and not final_scored and selection_epochs == 3
    assert len(selection_speakers) == metrics["training_speakers"] == 8  # 2 of 10 held out for validation
    assert final_speakers == list(range(10)) and metrics["final_training_speakers"] == 10
    assert final_epochs == metrics["chosen_epoch"]
    signals = load_speech(data / "trs.pkl")
    spectra = sv.spectrograms(signals, sv.magnitude_reference(signals))
    np.testing.assert_allclose(mean.numpy(), spectra.mean(axis=(0, 2)), rtol=1e-5, atol=1e-6)  # all 10 speakers


def run_script(*args):
    command = [sys.executable, str(REPO / "speaker_verification.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO)


SCHEMA = ("script", "model", "seed", "quick", "seconds", "threads", "device", "data")
RESULTS = (
    "test_accuracy test_auc test_eer test_all_pairs_eer baseline_test_accuracy baseline_test_auc baseline_test_eer "
    "baseline_all_pairs_eer train_accuracy validation_accuracy chosen_epoch epochs train_seconds parameters "
    "pairs_per_speaker feature history n_fft hop frames lr"
).split() + [f"{pairs}_{measure}" for pairs in ("test", "test_all_pairs") for measure in
             ("min_dcf_p01", "min_dcf_p05", "act_dcf_p01", "act_dcf_p05", "cllr")] + \
    [f"snorm_{pairs}_{measure}" for pairs in ("validation", "test", "test_all_pairs") for measure in
     ("auc", "eer", "min_dcf_p01", "min_dcf_p05")]


@pytest.mark.slow
def test_cli_runs_end_to_end_on_other_lengths_and_speaker_counts_with_the_shared_schema(tmp_path):
    data = write_corpus(tmp_path / "data", n_train=12, train_samples=9000, n_test=6, test_samples=11000)
    out = tmp_path / "out"
    result = run_script("--quick", "--quiet", "--data-dir", str(data), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "test pair accuracy" in result.stdout and str(out) in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    for key in SCHEMA + tuple(RESULTS):
        assert key in metrics, key
    assert metrics["script"] == "speaker_verification.py" and metrics["quick"] is True and metrics["epochs"] == 2
    assert metrics["data"]["train"]["shape"] == [120, 9000] and metrics["data"]["test"]["shape"] == [60, 11000]
    assert metrics["data"]["train"]["path"].endswith("trs.pkl") and len(metrics["data"]["test"]["sha256"]) == 64
    assert metrics["test_all_pairs"] == 60 * 59 // 2 and metrics["test_speakers"] == 6
    assert metrics["frames"] == {"train": 1 + 9000 // 512, "test": 1 + 11000 // 512}
    assert sorted(path.name for path in out.iterdir()) == sorted(FIGURES + ("metrics.json", "model.pt", RUN_MARKER))


def test_the_same_seed_gives_the_same_numbers(tmp_path):
    data = write_corpus(tmp_path / "data", n_train=6, train_samples=3000, n_test=3, test_samples=3500)
    results = []
    for run in ("first", "second"):
        sv.main(["--data-dir", str(data), "--out", str(tmp_path / run), "--quick", "--quiet"])
        results.append(json.loads((tmp_path / run / "metrics.json").read_text()))
    for key in ("test_accuracy", "test_auc", "test_eer", "validation_accuracy", "train_accuracy", "history"):
        assert results[0][key] == results[1][key]


def test_a_corpus_saved_at_another_gain_gives_the_same_numbers(tmp_path):
    data = write_corpus(tmp_path / "data", n_train=6, train_samples=3000, n_test=3, test_samples=3500)
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    for name in ("trs.pkl", "tes.pkl"):  # 1/64: a power of two, so the scaled floats are exact
        with open(quiet / name, "wb") as stream:
            pickle.dump(load_speech(data / name) / 64, stream, protocol=4)
    results = []
    for folder in (data, quiet):
        sv.main(["--data-dir", str(folder), "--out", str(tmp_path / f"out-{folder.name}"), "--quick", "--quiet"])
        results.append(json.loads((tmp_path / f"out-{folder.name}" / "metrics.json").read_text()))
    assert results[1]["magnitude_reference"] == pytest.approx(results[0]["magnitude_reference"] / 64, rel=1e-6)
    for key in ("test_accuracy", "test_eer", "validation_accuracy", "baseline_test_accuracy"):
        assert results[0][key] == pytest.approx(results[1][key], abs=1e-9), key


def test_the_model_file_loads_with_weights_only(tmp_path):
    data = write_corpus(tmp_path / "data", n_train=6, train_samples=3000, n_test=3, test_samples=3500)
    sv.main(["--data-dir", str(data), "--out", str(tmp_path / "out"), "--quick", "--quiet"])
    checkpoint = torch.load(tmp_path / "out" / "model.pt", weights_only=True)
    model = sv.SiameseVerifier(513, sv.EMBEDDING_DIM)
    model.load_state_dict(checkpoint["state_dict"])


def bad_input_cases(tmp_path):
    good = separable_speech(np.random.default_rng(0), 6, 3000)
    cases = {
        "missing": (None, "file not found"),
        "three_dimensional": (good.reshape(60, 30, 100), "expected 2 dimensions"),
        "not_ten_per_speaker": (good[:55], "expected rows = speakers x 10"),
        "too_short": (good[:, :400], "longer than 512 samples"),
        "too_few_speakers": (good[:30], "training speakers"),
        "huge_but_finite": (np.where(good > 0, 3e38, -3e38).astype(np.float32), "found |x| up to 3e+38"),
    }
    for name, (trs, _) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        with open(folder / "tes.pkl", "wb") as stream:
            pickle.dump(good, stream)
        if trs is not None:
            with open(folder / "trs.pkl", "wb") as stream:
                pickle.dump(trs, stream)
    return {name: (tmp_path / name, message) for name, (_, message) in cases.items()}


def run_in_process(capsys, *args):
    """The script's entry point as the command line calls it: status and stderr lines."""
    with pytest.raises(SystemExit) as stopped:
        run_cli(lambda: sv.main(list(args)))
    return stopped.value.code, capsys.readouterr().err.strip().splitlines()


def test_bad_input_ends_with_one_clear_line_and_status_2_and_writes_nothing(tmp_path, capsys):
    for name, (folder, message) in bad_input_cases(tmp_path).items():
        out = tmp_path / f"{name}-out"  # beside the data: an --out inside --data-dir is refused first
        status, lines = run_in_process(capsys, "--quick", "--quiet", "--data-dir", str(folder), "--out", str(out))
        assert status == 2, (name, lines)
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (name, lines)
        assert "trs.pkl" in lines[0]
        assert not out.exists(), name


@pytest.mark.slow
def test_the_command_line_reports_a_missing_file_without_a_traceback(tmp_path):
    result = run_script("--quick", "--quiet", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "trs.pkl: file not found" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "option, message",
    [
        (["--lr", "nan"], "argument --lr: expected a finite float in (0, 1], got 'nan'"),
        (["--lr=-1e-3"], "argument --lr: expected a finite float in (0, 1]"),
        (["--weight-decay", "inf"], "argument --weight-decay: expected a finite float >= 0"),
        (["--epochs", "0"], "argument --epochs: expected a finite int >= 1"),
        (["--validation-fraction", "1"], "expected a finite float in (0, 1)"),
        (["--shortest-crop", "1.5"], "expected a finite float in (0, 1]"),
        (["--warp", "1"], "argument --warp: expected a finite float in [0, 1), got '1'"),
        (["--warp", "-0.1"], "argument --warp: expected a finite float in [0, 1), got '-0.1'"),
        (["--device", "tpu"], "--device tpu: expected auto, cpu or cuda"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
        (["--out", "/dev/null"], "exists and is not a folder (a character device)"),
        (["--lr", "1e308"], "argument --lr: expected a finite float in (0, 1]"),
        (["--seed", str(2**64)], "argument --seed: expected a finite int in [0, 2**64)"),
        (["--seed", "1" + "0" * 400], "argument --seed: expected a finite int in [0, 2**64)"),
        (["--embedding-dim", str(10**9)], "argument --embedding-dim: expected a finite int in [1, 4096]"),
        (["--pairs", str(10**6)], "argument --pairs: expected a finite int in [1, 1000]"),
        (["--threads", str(10**6)], "argument --threads: expected a finite int in [0, 256]"),
    ],
)
def test_a_bad_option_is_one_line_and_status_2_before_any_work(tmp_path, capsys, option, message):
    arguments = ["--data-dir", str(tmp_path / "no-data"), "--out", str(tmp_path / "out"), *option]
    status, lines = run_in_process(capsys, *arguments)
    assert status == 2 and len(lines) == 1 and message in lines[0], lines
    assert "file not found" not in lines[0] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["file", "users-folder"])
def test_an_out_that_is_a_file_or_a_users_folder_is_refused_and_left_alone(tmp_path, capsys, kind):
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("notes")
    else:
        out.mkdir()
        (out / "thesis.tex").write_text("notes")
    status, lines = run_in_process(capsys, "--data-dir", str(tmp_path / "no-data"), "--out", str(out))
    assert status == 2 and len(lines) == 1 and "--out" in lines[0]
    assert (out.read_text() if kind == "file" else (out / "thesis.tex").read_text()) == "notes"


def test_an_interrupted_run_leaves_the_previous_run_folder_as_it_was(tmp_path, capsys, monkeypatch):
    data = write_corpus(tmp_path / "data", n_train=6, train_samples=3000, n_test=3, test_samples=3500)
    out = tmp_path / "runs" / "speaker"
    sv.main(["--data-dir", str(data), "--out", str(out), "--quick", "--quiet"])
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    def interrupted(folder, *arguments):
        (folder / "curves.png").write_bytes(b"half a figure")
        raise KeyboardInterrupt  # what SIGINT, or SIGTERM inside run_folder, raises

    monkeypatch.setattr(sv, "write_figures", interrupted)
    status, _ = run_in_process(capsys, "--data-dir", str(data), "--out", str(out), "--quick", "--seed", "1", "--quiet")
    assert status == 130
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert [path.name for path in out.parent.iterdir()] == ["speaker"]  # no temporary folder left


def test_the_data_folder_as_out_is_refused_before_any_work(tmp_path, capsys):
    data = write_corpus(tmp_path / "data", n_train=6, train_samples=3000, n_test=3, test_samples=3500)
    (data / "metrics.json").write_text('{"accuracy": 0.9}\n')
    before = {path.name: path.read_bytes() for path in data.iterdir()}
    status, lines = run_in_process(capsys, "--quick", "--data-dir", str(data), "--out", str(data))
    assert status == 2 and len(lines) == 1 and "the data folder --data-dir" in lines[0], lines
    assert {path.name: path.read_bytes() for path in data.iterdir()} == before


@pytest.mark.parametrize("delay", [0.4, 1.0, 2.5])  # while torch is imported, reading the data, training
def test_ctrl_c_at_any_moment_is_one_line_and_status_130(tmp_path, delay):
    data = write_corpus(tmp_path / "data", n_train=6, train_samples=3000, n_test=3, test_samples=3500)
    command = [sys.executable, str(REPO / "speaker_verification.py"), "--data-dir", str(data), "--quiet",
               "--out", str(tmp_path / "run"), "--epochs", "1000"]
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True,
                               preexec_fn=functools.partial(signal.signal, signal.SIGINT, signal.SIG_DFL))
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr) == (130, "interrupted\n")
    assert not (tmp_path / "run").exists()
