"""How is the default speech made? A procedural source-filter synthesiser (Fant, 1960; Klatt, 1980),
at 16 kHz, speaking the utterances of default_data/speakers.py:

    speech(t) = ISTFT[ (G(f, t) + A(f, t)) * V(f, t) * T(f)  +  N(f, t) * R(f, t) ]

    G  the glottal source: Rosenberg pulses differentiated (lip radiation, +6 dB/oct), on a pitch
       contour f0(t) = speaker mean * declination * phrase accents * jitter, with shimmer
    A  breath noise during the open phase of each glottal cycle (breathiness)
    V  the vocal tract: a cascade of two-pole resonators (formants F1..F5 with bandwidths), whose
       targets follow a random sequence of phone-like segments, smoothed into transitions; nasals
       add a low nasal pole and an anti-resonance
    T  the speaker's extra spectral tilt
    N  white noise for frication and stop bursts, shaped by a broad resonance R at the place of
       articulation

The filters act frame by frame in the STFT domain (32 ms frames, 8 ms hop, overlap-add): a
zero-phase stand-in for time-varying IIR filtering, vectorised, so both matrices take seconds.
Every utterance (`synthesise_utterance`) has its own content, pitch offset, loudness, background
noise at a random SNR and a mild random channel colouring (a smooth random gain curve over
frequency), which blur the long-term spectrum that the no-training baseline compares.
"""

import numpy as np
import scipy.fft
import scipy.signal

from default_data.speakers import (SAMPLE_RATE, SYNTH_HOP, draw_speaker, parameter_tracks,
                                   segment_sequence)

# (file prefix, split, speakers, samples per utterance): the homework's two speech matrices.
SPEECH_SPLITS = (("trs", 0, 50, 16180), ("tes", 1, 20, 22631))
SPEECH_SEED_STREAM = 5  # mixed into the seed, so speech and sevens (7) draw different numbers
SYNTH_WINDOW = 512  # samples (32 ms): the STFT frame in which the filters are applied
NASAL_ZERO_BANDWIDTH_HZ = 150.0  # the nasal anti-resonance's bandwidth, whatever the place
TILT_PIVOT_HZ = 500.0  # the speaker's spectral tilt acts above this frequency
FRICATION_LEVEL = 0.05  # white-noise amplitude that puts a sibilant about 10 dB below a vowel

# Utterance-level nuisance.
UTTERANCE_PITCH_SEMITONES = 0.35  # s.d. of an utterance's pitch offset from the speaker's mean
DECLINATION_SEMITONES_PER_SECOND = (-2.0, -0.5)  # f0 drifts down over a phrase
ACCENTS_PER_SECOND = 2.0  # phrase accents: Gaussian bumps of the f0 contour (log scale)
ACCENT_WIDTH_SECONDS = (0.05, 0.2)  # standard deviation of each bump
JITTER_KNOT_SAMPLES = 64  # 4 ms: one jitter value per glottal cycle or so
LOUDNESS_DB = (-15.0, 10.0)  # gain around the reference level
REFERENCE_RMS = 0.05  # RMS of active speech at 0 dB loudness
FULL_SCALE = 1.0  # audio lives in [-1, 1]
SNR_DB = (10.0, 30.0)  # background noise level relative to the speech
NOISE_TILT_DB_PER_OCTAVE = (-6.0, 0.0)  # from white to pink-ish (brown) background noise
CHANNEL_COLOUR_DB = 2.5  # s.d. of each of the channel curve's cosine components (dB)
CHANNEL_COMPONENTS = 6  # cosine terms over log-frequency in the channel curve
CHANNEL_HIGHPASS_HZ = (50.0, 200.0)  # corner of the channel's low cut
CHANNEL_LOWPASS_HZ = (6000.0, 7800.0)  # corner of the channel's high cut


def speaker_pitch_bounds(speaker: dict) -> tuple[float, float]:
    """The f0 range (Hz) the speaker's utterances can reach: mean shifted by the largest offsets."""
    reach = 4 * UTTERANCE_PITCH_SEMITONES  # four standard deviations of the utterance offset
    reach += 3 * speaker["pitch_range_semitones"]  # up to three overlapping phrase accents
    reach += -DECLINATION_SEMITONES_PER_SECOND[0] * 1.0  # a second either side of the middle
    reach += 12 * np.log2(1 + 4 * speaker["jitter"])  # four standard deviations of jitter
    low = speaker["mean_pitch_hz"] * 2 ** (-reach / 12)
    return low, speaker["mean_pitch_hz"] * 2 ** (reach / 12)


# ---------------------------------------------------------------- the filters
def resonance_log_gain(centres: np.ndarray, bandwidths: np.ndarray,
                       omega: np.ndarray) -> np.ndarray:
    """log |H(e^{jw})| of two-pole resonators with unit gain at DC (Klatt, 1980), summed over poles.

    H(z) = (1 - 2 r cos(theta) + r^2) / (1 - 2 r cos(theta) z^-1 + r^2 z^-2),
    r = exp(-pi B / fs), theta = 2 pi F / fs. With a = 1 + r^2, b = 2 r cos(theta),
    c = 2 r sin(theta):
    |denominator|^2 = (a - b cos(w) - c sin(w)) (a - b cos(w) + c sin(w))
                    = (a - b cos(w))^2 - c^2 sin(w)^2,
    one logarithm per pole and bin, no cosines of (T, K, F) arrays.
    centres, bandwidths: (T, K) Hz; omega: (F,) rad/sample -> (T, F).
    """
    r = np.exp(-np.pi * bandwidths / SAMPLE_RATE)[..., None]  # (T, K, 1)
    theta = (2 * np.pi * centres / SAMPLE_RATE)[..., None]
    a, b, c = 1 + r**2, 2 * r * np.cos(theta), 2 * r * np.sin(theta)
    dc_gain = np.log(a - b)  # the numerator: |denominator| at w = 0
    denominator = (a - b * np.cos(omega)) ** 2 - (c * np.sin(omega)) ** 2
    return np.sum(dc_gain - 0.5 * np.log(denominator), axis=1)


def vocal_tract_log_gain(tracks: dict, speaker: dict, frame_of: np.ndarray,
                         omega: np.ndarray) -> np.ndarray:
    """V: log gain (T', F) of the formant cascade at each STFT frame, less the speaker's side
    cavities' anti-resonance and, in nasals, the nasal one."""
    formants = tracks["formants"][frame_of]  # (T', 5)
    bandwidths = np.broadcast_to(tracks["bandwidths"], formants.shape)
    tract = resonance_log_gain(formants, bandwidths, omega)  # (T', F)
    # The side cavities' anti-resonance is the speaker's, whatever the phone (Dang & Honda, 1997).
    sinus = np.array([[speaker["sinus_zero_hz"]]]), np.array([[speaker["sinus_zero_bandwidth_hz"]]])
    tract -= resonance_log_gain(*sinus, omega)
    zeros = tracks["nasal_zero"][frame_of]
    nasal = zeros > 0
    if nasal.any():
        zero_bandwidths = np.full((nasal.sum(), 1), NASAL_ZERO_BANDWIDTH_HZ)
        tract[nasal] -= resonance_log_gain(zeros[nasal, None], zero_bandwidths, omega)
    return tract


def tilt_log_gain(speaker: dict, frequencies: np.ndarray) -> np.ndarray:
    """T: (F,) natural log of amplitude. Tilt is a roll-off (or lift) of the highs: it pivots at
    TILT_PIVOT_HZ and leaves the lows alone."""
    octaves = np.log2(np.maximum(frequencies, TILT_PIVOT_HZ) / TILT_PIVOT_HZ)
    return speaker["tilt_db_per_octave"] * octaves * np.log(10) / 20


def noise_log_gain(tracks: dict, frame_of: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """R: log gain (T', F) of the noise resonance, only where there is frication (else 0)."""
    shape = tracks["noise_shape"][frame_of]
    noisy = tracks["frication"][frame_of] > 0
    noise_filter = np.zeros((len(frame_of), len(omega)))
    if noisy.any():
        noise_filter[noisy] = resonance_log_gain(shape[noisy, :1], shape[noisy, 1:], omega)
    return noise_filter


# ---------------------------------------------------------------- the sources
def pitch_contour(speaker: dict, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """f0 per sample (Hz): speaker mean, utterance offset, declination, phrase accents, jitter.

    log2 f0(t) = log2 f0_speaker
                 + (offset + d t + sum_k a_k exp(-(t - t_k)^2 / 2 w_k^2)) / 12 + jitter
    """
    seconds = np.arange(n_samples) / SAMPLE_RATE
    offset = UTTERANCE_PITCH_SEMITONES * rng.standard_normal()
    declination = rng.uniform(*DECLINATION_SEMITONES_PER_SECOND)
    n_accents = rng.poisson(ACCENTS_PER_SECOND * seconds[-1]) + 1
    centres = rng.uniform(0, seconds[-1], n_accents)
    widths = rng.uniform(*ACCENT_WIDTH_SECONDS, n_accents)
    heights = speaker["pitch_range_semitones"] * rng.uniform(-0.5, 1.0, n_accents)
    bumps = np.exp(-0.5 * ((seconds - centres[:, None]) / widths[:, None]) ** 2)  # (K, N)
    accents = np.sum(heights[:, None] * bumps, axis=0)
    semitones = offset + declination * (seconds - seconds[-1] / 2) + accents
    # Jitter: a new random perturbation every few ms (about a cycle), linearly interpolated.
    knots = rng.standard_normal(n_samples // JITTER_KNOT_SAMPLES + 2)
    jitter = np.interp(np.arange(n_samples) / JITTER_KNOT_SAMPLES, np.arange(len(knots)), knots)
    return speaker["mean_pitch_hz"] * 2 ** (semitones / 12) * (1 + speaker["jitter"] * jitter)


def glottal_source(f0: np.ndarray, speaker: dict, rng: np.random.Generator):
    """G and A: differentiated Rosenberg pulses on the contour f0, with shimmer, and breath noise.

    Rosenberg (1971) flow over one cycle, phase p in [0, 1), opening Tp = 2/3 OQ, closing
    Tn = 1/3 OQ:
        g(p) = (1 - cos(pi p / Tp)) / 2           for p < Tp
             = cos(pi (p - Tp) / (2 Tn))           for Tp <= p < Tp + Tn
             = 0                                   (closed)
    The radiated source is dg/dt (lip radiation is a differentiator).
    Returns (voiced source, breath noise), both (N,).
    """
    cycles = np.cumsum(f0) / SAMPLE_RATE  # cycle count at each sample
    phase = cycles % 1.0
    opening, closing = 2 / 3 * speaker["open_quotient"], 1 / 3 * speaker["open_quotient"]
    flow = np.where(
        phase < opening,
        0.5 * (1 - np.cos(np.pi * phase / opening)),
        np.where(phase < opening + closing, np.cos(np.pi * (phase - opening) / (2 * closing)), 0.0),
    )
    cycle_index = cycles.astype(np.int64)
    shimmer = 1 + speaker["shimmer"] * rng.standard_normal(cycle_index[-1] + 1)
    flow = flow * shimmer[cycle_index]
    # Scaled by the mean f0, so that pitch does not set loudness.
    voiced = np.diff(flow, prepend=0.0) * SAMPLE_RATE / f0.mean()
    breath = rng.standard_normal(len(f0)) * (phase < opening + closing) * speaker["breathiness"]
    return voiced, breath


# ---------------------------------------------------------------- an utterance
def stft_frames(signal: np.ndarray) -> np.ndarray:
    """(F, T') the synthesiser's STFT: SYNTH_WINDOW frames every SYNTH_HOP samples, centred."""
    return scipy.signal.stft(signal, nperseg=SYNTH_WINDOW, noverlap=SYNTH_WINDOW - SYNTH_HOP)[2]


def filtered_speech(sources: tuple, tracks: dict, speaker: dict, n_frames: int) -> np.ndarray:
    """ISTFT[(G + A) V T + N R], (n_samples,): the sources (voiced, breath, frication noise)
    filtered frame by frame, each source at the level its track gives."""
    voiced, breath, frication_noise = sources
    source = stft_frames(voiced)  # (F, T')
    breath_spec = stft_frames(breath)
    noise_spec = stft_frames(frication_noise)
    n_stft = source.shape[1]
    frequencies = np.fft.rfftfreq(SYNTH_WINDOW, 1 / SAMPLE_RATE)  # (F,)
    omega = 2 * np.pi * frequencies / SAMPLE_RATE
    frame_of = np.minimum(np.arange(n_stft), n_frames - 1)  # scipy's frames are centred every hop
    tract = vocal_tract_log_gain(tracks, speaker, frame_of, omega)  # (T', F)
    tilt = tilt_log_gain(speaker, frequencies)  # (F,)
    noise_filter = noise_log_gain(tracks, frame_of, omega)  # (T', F)
    voicing = tracks["voicing"][frame_of, None]
    frication = tracks["frication"][frame_of, None]
    excitation = (source + breath_spec) * voicing.T
    voiced_part = excitation * np.exp(tract + tilt).T
    noise_part = noise_spec * frication.T * np.exp(noise_filter).T * FRICATION_LEVEL
    spectrum = voiced_part + noise_part
    istft = scipy.signal.istft(spectrum, nperseg=SYNTH_WINDOW, noverlap=SYNTH_WINDOW - SYNTH_HOP)
    return istft[1][:len(voiced)]  # the padding of the last frame cut off


def synthesise_utterance(speaker: dict, rng: np.random.Generator, n_samples: int):
    """One utterance (n_samples,) float32 of the speaker, and its frame tracks (for tests).

    The random draws, in order: what is said (segments), the pitch contour, the glottal source's
    shimmer and breath, the frication noise, then the recording conditions."""
    n_frames = n_samples // SYNTH_HOP + 2
    tracks = parameter_tracks(segment_sequence(speaker, rng, n_frames), n_frames, speaker)
    f0 = pitch_contour(speaker, rng, n_samples)
    voiced, breath = glottal_source(f0, speaker, rng)
    tracks["f0"] = f0[::SYNTH_HOP]  # (n_samples // hop,) Hz at each frame's first sample
    frication_noise = rng.standard_normal(n_samples)
    speech = filtered_speech((voiced, breath, frication_noise), tracks, speaker, n_frames)
    return add_recording_conditions(speech, tracks, rng), tracks


# ---------------------------------------------------------------- the recording
def channel_log_gain(rng: np.random.Generator, frequencies: np.ndarray) -> np.ndarray:
    """A smooth random channel curve (natural log of amplitude) over frequencies (Hz).

    Cosine terms over log-frequency (a mild, microphone-like colouring), a low cut and a high cut.
    """
    log_f = np.log(np.maximum(frequencies, 20.0) / 20.0) / np.log(SAMPLE_RATE / 2 / 20.0)  # 0..1
    k = np.arange(1, CHANNEL_COMPONENTS + 1)[:, None]
    amplitudes_db = CHANNEL_COLOUR_DB * rng.standard_normal((CHANNEL_COMPONENTS, 1)) / np.sqrt(k)
    phases = rng.uniform(0, 2 * np.pi, (CHANNEL_COMPONENTS, 1))
    colour_db = np.sum(amplitudes_db * np.cos(np.pi * k * log_f + phases), axis=0)
    highpass = rng.uniform(*CHANNEL_HIGHPASS_HZ)
    lowpass = rng.uniform(*CHANNEL_LOWPASS_HZ)
    # Second-order Butterworth magnitudes: |H|^2 = 1 / (1 + (fc / f)^4) and 1 / (1 + (f / fc)^4).
    f = np.maximum(frequencies, 1.0)
    cuts = -0.5 * np.log1p((highpass / f) ** 4) - 0.5 * np.log1p((f / lowpass) ** 4)
    return colour_db * np.log(10) / 20 + cuts


def add_recording_conditions(speech: np.ndarray, tracks: dict,
                             rng: np.random.Generator) -> np.ndarray:
    """Loudness, background noise at a random SNR and channel colouring: the per-utterance
    nuisance."""
    n = len(speech)
    # Lengths like 16180 = 4 * 5 * 809 are slow to transform: pad to a fast one.
    n_fft = scipy.fft.next_fast_len(n, real=True)
    active = np.repeat(tracks["voicing"] > 0.5, SYNTH_HOP)[:n]
    if not active.any():
        active[:] = True
    speech_rms = np.sqrt(np.mean(speech[active] ** 2)) + 1e-12
    loudness = 10 ** (rng.uniform(*LOUDNESS_DB) / 20)
    speech = speech * REFERENCE_RMS * loudness / speech_rms
    frequencies = np.fft.rfftfreq(n_fft, 1 / SAMPLE_RATE)
    noise_slope = rng.uniform(*NOISE_TILT_DB_PER_OCTAVE)
    noise_tilt_db = noise_slope * np.log2(np.maximum(frequencies, 50.0) / 1000.0)
    white = rng.standard_normal(n_fft)
    noise = scipy.fft.irfft(scipy.fft.rfft(white) * 10 ** (noise_tilt_db / 20), n_fft)[:n]
    # SNR = 10 log10(P_speech / P_noise), the speech power measured over its voiced frames.
    snr_db = rng.uniform(*SNR_DB)
    noise *= np.sqrt(np.mean(speech[active] ** 2) / np.mean(noise**2)) * 10 ** (-snr_db / 20)
    channel = np.exp(channel_log_gain(rng, frequencies))
    recorded = scipy.fft.irfft(scipy.fft.rfft(speech + noise, n_fft) * channel, n_fft)[:n]
    # A loud take clips, as a recorder would.
    return np.clip(recorded, -FULL_SCALE, FULL_SCALE).astype(np.float32)


# ---------------------------------------------------------------- a corpus
def synthesise_speakers(speakers: list, utterances_per_speaker: int, n_samples: int,
                        progress=None) -> np.ndarray:
    """(len(speakers) * utterances_per_speaker, n_samples) float32, rows ordered by speaker."""
    rows = []
    for speaker in speakers:
        rng = np.random.default_rng(speaker["utterance_seed"])
        for _ in range(utterances_per_speaker):
            rows.append(synthesise_utterance(speaker, rng, n_samples)[0])
        if progress is not None:
            progress.update(1)
    return np.stack(rows)


def speech_corpus(n_speakers: int, utterances_per_speaker: int, n_samples: int, seed: int,
                  split: int = 0, progress=None):
    """A corpus of n_speakers new speakers: (signals (S*U, N) float32, speakers list of dicts).

    Each split draws its speakers from its own generator, so train and test speakers are disjoint
    and neither depends on the other's size.
    """
    speaker_rng = np.random.default_rng([seed, SPEECH_SEED_STREAM, split])
    speakers = [draw_speaker(speaker_rng) for _ in range(n_speakers)]
    signals = synthesise_speakers(speakers, utterances_per_speaker, n_samples, progress)
    return signals, speakers
