"""The hand-written STFT against SciPy and torch, and against the physics of a Fourier transform."""

import numpy as np
import pytest
import scipy.signal
import torch

from common import hann_window, stft, stft_frame_count


def scipy_reference(x, n_fft, hop):
    _, _, spectrum = scipy.signal.stft(
        x, window="hann", nperseg=n_fft, noverlap=n_fft - hop, boundary="zeros", padded=True
    )
    return spectrum


def random_configurations(count=36, seed=1234):
    """Even and odd n_fft, several hops, lengths on and off a multiple of the hop, 1-D and
    batched."""
    rng = np.random.default_rng(seed)
    configurations = []
    for index in range(count):
        n_fft = int(rng.integers(8, 600))
        n_fft += (index % 2) != (n_fft % 2)  # alternate even and odd
        hop = int(rng.integers(1, n_fft))
        n_hops = int(rng.integers(3, 40))
        length = n_hops * hop if index % 3 == 0 else n_hops * hop + int(rng.integers(1, hop + 1))
        length = max(length, n_fft)  # scipy shrinks nperseg for shorter signals; we do not
        batch = () if index % 4 == 0 else (int(rng.integers(1, 5)),)
        configurations.append((n_fft, hop, length, batch))
    return configurations


CONFIGURATIONS = random_configurations()


def test_configurations_cover_even_odd_batched_and_off_multiple_lengths():
    assert {n_fft % 2 for n_fft, *_ in CONFIGURATIONS} == {0, 1}
    assert {len(batch) for *_, batch in CONFIGURATIONS} == {0, 1}
    assert any(length % hop for _, hop, length, _ in CONFIGURATIONS)
    assert any(length % hop == 0 for _, hop, length, _ in CONFIGURATIONS)


@pytest.mark.parametrize("n_fft,hop,length,batch", CONFIGURATIONS)
def test_stft_matches_scipy_in_float64(n_fft, hop, length, batch):
    x = np.random.default_rng(n_fft * 1000 + hop).standard_normal(batch + (length,))
    ours = stft(x, n_fft, hop, convention="scipy")
    reference = scipy_reference(x, n_fft, hop)
    assert ours.shape == reference.shape
    assert ours.dtype == np.complex128
    assert np.max(np.abs(ours - reference)) <= 1e-10


@pytest.mark.parametrize("n_fft,hop,length,batch", CONFIGURATIONS[:12])
def test_stft_matches_scipy_in_float32_relative(n_fft, hop, length, batch):
    x = np.random.default_rng(hop).standard_normal(batch + (length,))
    ours = stft(x.astype(np.float32), n_fft, hop, convention="scipy")
    reference = scipy_reference(x, n_fft, hop)
    assert ours.dtype == np.complex64
    assert np.max(np.abs(ours - reference)) <= 1e-5 * np.max(np.abs(reference))


@pytest.mark.parametrize("n_fft,hop,length,batch", CONFIGURATIONS[::3])
def test_librosa_convention_matches_torch_stft_centred_reflect(n_fft, hop, length, batch):
    x = np.random.default_rng(length).standard_normal(batch + (length,))
    reference = torch.stft(
        torch.from_numpy(x),
        n_fft,
        hop,
        window=torch.hann_window(n_fft, dtype=torch.float64),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    ).numpy()
    ours = stft(x, n_fft, hop, convention="librosa")
    assert ours.shape == reference.shape
    assert np.max(np.abs(ours - reference)) <= 1e-9 * max(1.0, np.max(np.abs(reference)))


@pytest.mark.parametrize("convention", ["librosa", "scipy"])
@pytest.mark.parametrize("n_fft,hop,length,batch", CONFIGURATIONS[:10])
def test_frame_count_formula_matches_the_output(convention, n_fft, hop, length, batch):
    x = np.zeros(batch + (length,))
    n_frames = stft(x, n_fft, hop, convention=convention).shape[-1]
    assert n_frames == stft_frame_count(length, n_fft, hop, convention)


def test_homework_shapes_give_513_bins():
    x = np.zeros((3, 16180), dtype=np.float32)
    assert stft(x).shape == (3, 513, 1 + 16180 // 512)
    assert stft(np.zeros(22631, dtype=np.float32)).shape == (513, 1 + 22631 // 512)


def test_hann_window_is_the_periodic_one_scipy_and_torch_use():
    for n in (7, 8, 1024):
        ours = hann_window(n, np.float64)
        np.testing.assert_allclose(ours, scipy.signal.get_window("hann", n), atol=1e-15)
        np.testing.assert_allclose(ours, torch.hann_window(n, dtype=torch.float64), atol=1e-15)


@pytest.mark.parametrize("n_fft", [64, 65])
def test_parseval_per_frame(n_fft):
    """sum_n (w x)^2 = (1/N) (|X_0|^2 + 2 sum_{0<f<N/2} |X_f|^2 [+ |X_{N/2}|^2 for even N])."""
    x = np.random.default_rng(0).standard_normal(40 * n_fft)
    hop = n_fft // 4
    spectrum = stft(x, n_fft, hop, convention="librosa")  # unscaled: plain DFT of each frame
    padded = np.pad(x, n_fft // 2, mode="reflect")
    frames = np.stack([padded[t * hop : t * hop + n_fft] for t in range(spectrum.shape[-1])])
    time_energy = np.sum((frames * hann_window(n_fft, np.float64)) ** 2, axis=1)
    power = np.abs(spectrum) ** 2
    doubled = 2 * power[1:].sum(axis=0) if n_fft % 2 else 2 * power[1:-1].sum(axis=0) + power[-1]
    np.testing.assert_allclose((power[0] + doubled) / n_fft, time_energy, rtol=1e-10)


def test_pure_tone_lands_in_its_bin():
    n_fft, sample_rate, bin_index = 1024, 16000, 37
    t = np.arange(16000) / sample_rate
    tone = np.sin(2 * np.pi * bin_index * sample_rate / n_fft * t).astype(np.float32)
    magnitude = np.abs(stft(tone, n_fft, 512))
    inner_frames = magnitude[:, 2:-2]  # away from the reflected edges
    assert np.all(np.argmax(inner_frames, axis=0) == bin_index)
    # A periodic Hann window puts half the peak in each neighbouring bin and nothing further out.
    neighbour_ratio = inner_frames[bin_index + 1] / inner_frames[bin_index]
    np.testing.assert_allclose(neighbour_ratio, 0.5, atol=1e-3)
    assert np.all(inner_frames[bin_index + 3] < 1e-3 * inner_frames[bin_index])


def test_silence_gives_an_exactly_zero_spectrum():
    assert np.all(stft(np.zeros((2, 5000), dtype=np.float32)) == 0)


def test_batched_rows_equal_one_at_a_time():
    x = np.random.default_rng(5).standard_normal((9, 3001)).astype(np.float32)
    batched = stft(x, 256, 100)
    for row in range(len(x)):
        np.testing.assert_array_equal(batched[row], stft(x[row], 256, 100))


def direct_stft(x, n_fft, hop, convention):
    """Textbook STFT of one float64 signal: pad it whole, cut the frames one by one, window, FFT."""
    half = n_fft // 2
    if convention == "librosa":
        padded = np.pad(x, half, mode="reflect")
    else:  # zeros, then more zeros until the last frame is complete
        padded = np.pad(x, half)
        missing = n_fft - len(padded) if len(padded) < n_fft else -(len(padded) - n_fft) % hop
        padded = np.pad(padded, (0, missing))
    window = scipy.signal.get_window("hann", n_fft)
    starts = range(0, len(padded) - n_fft + 1, hop)
    frames = np.stack([padded[start : start + n_fft] for start in starts])
    spectrum = np.fft.rfft(frames * window, axis=-1).T  # (F, T)
    return spectrum / window.sum() if convention == "scipy" else spectrum


EDGE_CASES = [  # (n_fft, hop, length): where frames reach into the padding or skip samples
    (64, 16, 40),  # shorter than a frame: every frame is an edge frame
    (64, 16, 33),  # the shortest signal reflect padding allows, n_fft//2 + 1
    (65, 7, 50),  # odd n_fft, shorter than a frame
    (64, 100, 50),  # hop longer than the frame and the signal
    (64, 48, 500),  # hop > n_fft/2 and not dividing n_fft
    (64, 64, 500),  # hop = n_fft: frames touch without overlapping
    (63, 200, 1000),  # hop > n_fft: samples between frames are skipped
    (8, 12, 50),  # hop > n_fft: the last scipy frame lies wholly in the zero padding
    (1024, 512, 1500),  # the homework frame: a single interior frame
]


@pytest.mark.parametrize("convention", ["librosa", "scipy"])
@pytest.mark.parametrize("n_fft,hop,length", EDGE_CASES)
def test_short_signals_and_long_hops_match_a_textbook_stft(convention, n_fft, hop, length):
    x = np.random.default_rng(length).standard_normal((3, length))
    ours = stft(x, n_fft, hop, convention=convention)
    for row in range(3):
        reference = direct_stft(x[row], n_fft, hop, convention)
        assert ours[row].shape == reference.shape
        assert np.max(np.abs(ours[row] - reference)) <= 1e-10 * max(1.0, np.max(np.abs(reference)))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="signal"):
        stft(np.zeros((2, 2, 100)))
    with pytest.raises(ValueError, match="'librosa' or 'scipy'.*got 'matlab'"):
        stft(np.zeros(2048), convention="matlab")
    with pytest.raises(ValueError, match="reflect"):
        stft(np.zeros(100), n_fft=1024)
    with pytest.raises(ValueError, match="empty"):
        stft(np.zeros((2, 0)), convention="scipy")
    with pytest.raises(ValueError, match="hop >= 1"):
        stft(np.zeros(2048), hop=0)
