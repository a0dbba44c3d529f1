"""Problem 1's features and model: the magnitude unit, the per-bin normalisation, the indexed pair
scores, any length, the training augmentations, the loss and pair_report, silence."""

import numpy as np
import pytest
import torch

import speaker_verification as sv
from speaker.augment import frequency_warp, speaker_warp
from speaker.evaluation import embed_all, pair_report, pair_scores


def small_model(embedding_dim=4):
    torch.manual_seed(0)
    return sv.SiameseVerifier(513, embedding_dim).eval()


# ---------------------------------------------------------------- features
def test_magnitude_reference_is_the_rms_of_the_stft_magnitudes_and_scales_with_the_signal():
    signals = np.random.default_rng(5).standard_normal((4, 3000)).astype(np.float32)
    window = torch.hann_window(sv.N_FFT, periodic=True, dtype=torch.float64)
    magnitudes = torch.stft(torch.as_tensor(signals, dtype=torch.float64), sv.N_FFT, sv.HOP,
                            window=window, center=True, pad_mode="reflect",
                            return_complex=True).abs().numpy()  # an independent STFT
    reference = sv.magnitude_reference(signals)
    np.testing.assert_allclose(reference, np.sqrt(np.mean(magnitudes**2)), rtol=1e-5)
    np.testing.assert_allclose(sv.magnitude_reference(7 * signals), 7 * reference, rtol=1e-5)
    # silence: a unit all the same
    assert sv.magnitude_reference(np.zeros((2, 3000), dtype=np.float32)) > 0


def test_features_are_the_same_whatever_the_gain_the_corpus_was_saved_at():
    signals = np.random.default_rng(6).standard_normal((3, 5000)).astype(np.float32)
    features = sv.spectrograms(signals, sv.magnitude_reference(signals))
    for gain in (1 / 64, 300.0):  # as quiet as a badly levelled recording; int16's range
        louder = (gain * signals).astype(np.float32)
        np.testing.assert_allclose(sv.spectrograms(louder, sv.magnitude_reference(louder)),
                                   features, rtol=1e-4, atol=1e-6)


def test_normalisation_statistics_are_per_bin_over_all_frames():
    features = np.random.default_rng(0).normal(3.0, 2.0, size=(6, 513, 9)).astype(np.float32)
    mean, std = sv.normalisation_statistics(features)
    per_bin = features.transpose(1, 0, 2).reshape(513, -1)
    np.testing.assert_allclose(mean, per_bin.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(std, per_bin.std(axis=1), rtol=1e-4)


# ---------------------------------------------------------------- model
def test_indexed_pair_scores_equal_the_naive_per_pair_computation():
    model = small_model()
    features = torch.randn(12, 513, 20)
    left = np.array([0, 3, 3, 7, 11, 2])
    right = np.array([5, 3 + 1, 9, 0, 1, 2 + 1])
    with torch.no_grad():
        indexed = sv.minibatch_logits(model, features, left, right)
        naive = torch.stack([
            model.scale * torch.dot(model.embed(features[[a]])[0], model.embed(features[[b]])[0])
            + model.bias
            for a, b in zip(left, right)
        ])
    torch.testing.assert_close(indexed, naive, rtol=1e-5, atol=1e-5)


def test_the_encoder_runs_once_per_distinct_utterance():
    model = small_model()
    seen = []
    model.project.register_forward_hook(
        lambda module, inputs, output: seen.append(inputs[0].shape[0]))
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


# ---------------------------------------------------------------- training augmentations
def test_frequency_warp_by_1_is_the_identity_and_moves_a_peak_to_a_times_its_bin():
    spectrograms = torch.zeros(3, 513, 4)
    spectrograms[:, 100] = 1.0
    warped = frequency_warp(spectrograms, np.array([1.0, 1.1, 0.9]))
    torch.testing.assert_close(warped[0], spectrograms[0])
    assert int(warped[1, :, 0].argmax()) == 110 and int(warped[2, :, 0].argmax()) == 90
    ramp = torch.arange(513.0)[None, :, None].expand(1, 513, 2)
    expected = np.clip(np.arange(513) / 1.05, 0, 512)  # bin f reads bin f / a, interpolated
    warped_ramp = frequency_warp(ramp, np.array([1.05]))[0, :, 0].numpy()
    np.testing.assert_allclose(warped_ramp, expected, rtol=1e-5)


def test_speaker_warp_gives_a_speakers_utterances_one_factor():
    rows = np.array([3, 7, 12, 15, 18, 41])  # speakers 0, 0, 1, 1, 1, 4
    spectrograms = torch.zeros(6, 513, 2)
    spectrograms[:, 200] = 1.0
    warped = speaker_warp(rows, spectrograms, np.random.default_rng(0), largest=0.12)
    peaks = warped[:, :, 0].argmax(dim=1).numpy()
    assert peaks[0] == peaks[1] and peaks[2] == peaks[3] == peaks[4]
    assert len(set(peaks[[0, 2, 5]])) == 3 and np.all(np.abs(peaks - 200) <= 0.12 * 200 + 1)


# ---------------------------------------------------------------- loss and pair_report
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
    pairs = sv.Pairs(np.array([0, 0, 1]), np.array([1, 2, 2]), np.ones(3))
    scores = pair_scores(model, embeddings, pairs)
    assert torch.isfinite(embeddings).all() and np.isfinite(scores).all()
    model.train()  # gradients too: the standard deviation pooling of a constant must not give NaN
    logits = sv.minibatch_logits(model, features, np.array([0, 0]), np.array([1, 2]))
    loss = sv.logistic_loss(logits, torch.tensor([0.0, 1.0]))
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
