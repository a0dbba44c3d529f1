"""Write the default data in the homework's exact format, when the user brings none.

    data/trs.pkl   (500, 16180) float32  speech, 50 speakers x 10 utterances, rows ordered by speaker
    data/tes.pkl   (200, 22631) float32  speech, 20 other speakers x 10 utterances
    data/tr7.pkl   (6265, 28, 28) float32  "poor sevens": MNIST training sevens with an effect added
    data/te7.pkl   (1028, 28, 28) float32  the same for MNIST's test sevens
    data/tr7_truth_rotation.npy, data/te7_truth_rotation.npy  each image's true effect parameter (here the
                   angle, degrees), to score the VAE; another --sevens-effect E writes *_truth_E.npy and
                   removes the other effects' truth files, so one truth file stands beside the sevens

Sevens: real MNIST (LeCun, Cortes, Burges; CC BY-SA 3.0), from assets/mnist_sevens.npz.
Speech: a procedural source-filter corpus (no multi-speaker corpus installs from a registry).
Existing files are never overwritten without --force. The same --seed writes the same bytes.
"""

from __future__ import annotations

from safety import interrupts  # noqa: F401  first: Ctrl-C during the imports is one line too
import os
import pickle
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.signal
from tqdm import tqdm

from common import DEFAULT_DATA_DIR, SEED_BOUND, UTTERANCES_PER_SPEAKER, Option, parse_options, run_cli
from safety.errors import DataError
from safety.run_folders import atomic_path
from sevens.mnist import load_mnist_sevens

SEVENS_STREAM = 7  # the sevens' random stream, apart from the speech's

# Each effect: its parameter's range and what the parameter means. Drawn uniformly per image.
SEVENS_EFFECTS = {
    "rotation": (-60.0, 60.0),  # degrees, counter-clockwise about the image centre
    "shift": (-6.0, 6.0),  # pixels to the right
    "shear": (-0.6, 0.6),  # horizontal shear: x' = x + s * (centre_row - row)
    "contrast": (0.15, 1.0),  # ink intensity multiplier
}


# ---------------------------------------------------------------- poor sevens


def write_pickle(path, array: np.ndarray) -> None:
    """Pickle a plain ndarray (the homework's format), atomically."""
    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        pickle.dump(np.ascontiguousarray(array), stream, protocol=4)


def write_npy(path, array: np.ndarray) -> None:
    with atomic_path(path) as temporary:
        np.save(temporary, array, allow_pickle=False)


def affine_about_centre(image: np.ndarray, matrix: np.ndarray, offset_xy=(0.0, 0.0)) -> np.ndarray:
    """Warp one image by `matrix` (acting on (x, y) = (column, row)) about its centre, bilinear.

    The centre lies between the middle pixels ((13.5, 13.5) on 28x28). scipy maps output
    coordinates to input ones, so we give it the inverse transform, in (row, column) order.
    """
    centre = (np.array(image.shape, dtype=float) - 1.0) / 2.0
    inverse_xy = np.linalg.inv(matrix)
    inverse_rc = inverse_xy[::-1, ::-1]  # swap (x, y) <-> (row, column)
    shift_rc = np.array(offset_xy[::-1], dtype=float)
    offset = centre - inverse_rc @ (centre + shift_rc)
    return scipy.ndimage.affine_transform(image, inverse_rc, offset=offset, order=1, mode="constant", cval=0.0)


def add_effect(image: np.ndarray, effect: str, value: float) -> np.ndarray:
    """Apply one effect with parameter `value` to a [0, 1] image; the result stays in [0, 1]."""
    if effect == "rotation":
        angle = np.deg2rad(value)
        # Counter-clockwise on screen: y (rows) points down, hence the signs.
        matrix = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
        warped = affine_about_centre(image, matrix)
    elif effect == "shift":
        warped = affine_about_centre(image, np.eye(2), offset_xy=(value, 0.0))
    elif effect == "shear":
        warped = affine_about_centre(image, np.array([[1.0, -value], [0.0, 1.0]]))
    elif effect == "contrast":
        warped = image * value
    else:
        raise ValueError(f"unknown effect {effect!r}")
    return np.clip(warped, 0.0, 1.0).astype(np.float32)


def changed_sevens(sevens_uint8: np.ndarray, change, low: float, high: float, rng: np.random.Generator):
    """(N, 28, 28) uint8 -> (N, 28, 28) float32 in [0, 1], each seven changed by change(image, value) with its
    own value drawn uniformly from [low, high], and the values (N,)."""
    values = rng.uniform(low, high, size=len(sevens_uint8))
    images = np.stack([np.clip(change(seven / 255.0, value), 0.0, 1.0) for seven, value in zip(sevens_uint8, values)])
    return images.astype(np.float32), values.astype(np.float32)


def poor_sevens(sevens_uint8: np.ndarray, effect: str, rng: np.random.Generator):
    """(N, 28, 28) uint8 -> (N, 28, 28) float32 in [0, 1] with the effect added, and its values (N,)."""
    return changed_sevens(sevens_uint8, lambda image, value: add_effect(image, effect, value), *SEVENS_EFFECTS[effect],
                          rng)


# ---------------------------------------------------------------- speech
#
# A procedural source-filter synthesiser (Fant, 1960; Klatt, 1980), at 16 kHz:
#
#   speech(t) = ISTFT[ (G(f, t) + A(f, t)) * V(f, t) * T(f)  +  N(f, t) * R(f, t) ]
#
#   G  the glottal source: Rosenberg pulses differentiated (lip radiation, +6 dB/oct), on a pitch
#      contour f0(t) = speaker mean * declination * phrase accents * jitter, with shimmer
#   A  breath noise during the open phase of each glottal cycle (breathiness)
#   V  the vocal tract: a cascade of two-pole resonators (formants F1..F5 with bandwidths), whose
#      targets follow a random sequence of phone-like segments, smoothed into transitions; nasals
#      add a low nasal pole and an anti-resonance
#   T  the speaker's extra spectral tilt
#   N  white noise for frication and stop bursts, shaped by a broad resonance R at the place of
#      articulation
#
# The filters act frame by frame in the STFT domain (32 ms frames, 8 ms hop, overlap-add): a
# zero-phase stand-in for time-varying IIR filtering, vectorised, so both matrices take seconds.
#
# Speaker identity (draw_speaker) lives in parameters drawn from overlapping ranges: mean pitch and
# pitch range, vocal-tract length (all formants scaled together), the speaker's own F4/F5 and
# side-cavity anti-resonance, spectral tilt, breathiness, open quotient, formant bandwidths,
# speaking rate, jitter and shimmer, accent-like offsets of each vowel's formant targets and how
# often they use each vowel. Every utterance
# (synthesise_utterance) has its own content, pitch offset, loudness, background noise at a random
# SNR and a mild random channel colouring (a smooth random gain curve over frequency), which blur
# the long-term spectrum that the no-training baseline compares.

SAMPLE_RATE = 16_000  # Hz
# (file prefix, split, speakers, samples per utterance): the homework's two speech matrices.
SPEECH_SPLITS = (("trs", 0, 50, 16180), ("tes", 1, 20, 22631))
SYNTH_WINDOW = 512  # samples (32 ms): the STFT frame in which the filters are applied
SYNTH_HOP = 128  # samples (8 ms): one frame of the parameter tracks
FRAME_SECONDS = SYNTH_HOP / SAMPLE_RATE

# Formant targets (F1, F2, F3 in Hz) of ten vowels for a reference adult vocal tract (Peterson &
# Barney, 1952, male averages); each speaker scales them and adds an accent offset.
VOWEL_FORMANTS = np.array(
    [
        [270, 2290, 3010],  # i  (beet)
        [390, 1990, 2550],  # I  (bit)
        [530, 1840, 2480],  # E  (bet)
        [660, 1720, 2410],  # ae (bat)
        [730, 1090, 2440],  # a  (father)
        [570, 840, 2410],  # O  (bought)
        [440, 1020, 2240],  # U  (book)
        [300, 870, 2240],  # u  (boot)
        [640, 1190, 2390],  # V  (but)
        [490, 1350, 1690],  # 3r (bird)
    ],
    dtype=float,
)
UPPER_FORMANTS = np.array([3500.0, 4500.0])  # F4, F5 of the reference tract: fixed by its length
FORMANT_BANDWIDTHS = np.array([80.0, 100.0, 140.0, 150.0, 200.0])  # Hz, B1..B5

# Consonant loci: the formant values (F1, F2, F3) the tract moves towards at each place of
# articulation, so that vowels next to consonants get their transitions.
PLACE_LOCI = {"labial": (250, 900, 2200), "alveolar": (300, 1700, 2600), "velar": (300, 2000, 2300)}
# Frication and burst noise: centre and bandwidth (Hz) of the noise resonance, by place.
FRICATIVE_NOISE = {"labial": (6000, 6000), "dental": (6500, 4000), "alveolar": (5500, 2000), "postalveolar": (3000, 1500)}
BURST_NOISE = {"labial": (1200, 2000), "alveolar": (4000, 2500), "velar": (2200, 1200)}
NASAL_POLE = (250.0, 100.0)  # Hz: the low resonance of the nasal cavity (centre, bandwidth)
NASAL_ZERO = {"labial": 1000.0, "alveolar": 1600.0, "velar": 3000.0}  # Hz: the anti-resonance by place
NASAL_ZERO_BANDWIDTH_HZ = 150.0
# Source levels of the consonants (a vowel's voicing is 1). Voiced stops keep a weak "voice bar"
# in their closure; sibilants (s, sh) are louder than the other fricatives.
VOICE_BAR_LEVEL = 0.15
VOICED_FRICATIVE_VOICING = 0.4
NASAL_VOICING = 0.35
BURST_LEVEL = 1.0
ASPIRATION_LEVEL = 0.25
ASPIRATION_NOISE = (1500.0, 3000.0)  # Hz: centre, bandwidth of the breathy noise after a voiceless stop
SIBILANT_LEVEL, FRICATIVE_LEVEL = 0.5, 0.2
VOICED_STOP_PROBABILITY, VOICED_FRICATIVE_PROBABILITY = 0.5, 0.35
SPEECH_SEED_STREAM = 5  # mixed into the seed, so speech and sevens (7) draw different numbers

# Segment durations in seconds at a speaking rate of 1 (uniform ranges).
VOWEL_SECONDS = (0.07, 0.20)
FRICATIVE_SECONDS = (0.06, 0.13)
NASAL_SECONDS = (0.05, 0.10)
CLOSURE_SECONDS = (0.04, 0.08)
BURST_SECONDS = (0.008, 0.016)
ASPIRATION_SECONDS = (0.02, 0.05)
PAUSE_SECONDS = (0.08, 0.25)
PAUSE_PROBABILITY = 0.2  # after each syllable
ONSET_PROBABILITY = 0.8  # a syllable starts with a consonant
CODA_PROBABILITY = 0.3  # a syllable ends with a consonant
LEADING_SILENCE_SECONDS = (0.02, 0.15)

# Speaker-level ranges (uniform unless said otherwise). They overlap: no single parameter names
# a speaker, the combination does.
SPEAKER_RANGES = {
    "mean_pitch_hz": (85.0, 255.0),  # log-uniform: from low male to high female voices
    "pitch_range_semitones": (0.2, 0.7),  # size of phrase accents
    "tract_scale": (0.75, 1.35),  # formant scaling = 1 / relative vocal-tract length
    "tilt_db_per_octave": (-8.0, 4.0),  # added to the glottal source's own roll-off
    "breathiness": (0.02, 0.5),  # breath-noise amplitude relative to the voiced source
    "open_quotient": (0.45, 0.75),  # fraction of a glottal cycle the folds are open
    "speaking_rate": (0.8, 1.25),  # segments per second relative to the reference durations
    "jitter": (0.005, 0.02),  # relative cycle-to-cycle perturbation of f0
    "shimmer": (0.03, 0.12),  # relative cycle-to-cycle perturbation of the amplitude
    "bandwidth_scale": (0.8, 1.4),  # formant damping (a breathy, lossy tract widens them)
    "sinus_zero_hz": (3500.0, 6000.0),  # anti-resonance of the side cavities (piriform fossa)
    "sinus_zero_bandwidth_hz": (100.0, 300.0),
}
ACCENT_OFFSET_STD = 0.10  # relative s.d. of a speaker's offset of each vowel formant (F1..F3)
UPPER_FORMANT_OFFSET_STD = 0.20  # relative s.d. of a speaker's own F4, F5 (head size, not vowel)
VOWEL_PREFERENCE_CONCENTRATION = 0.3  # Dirichlet: how unevenly a speaker uses the ten vowels

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
TRANSITION_SECONDS = 0.04  # formant movements are smoothed over this window
GAIN_SMOOTHING_SECONDS = 0.016  # onsets and offsets of voicing and noise
TILT_PIVOT_HZ = 500.0  # the speaker's spectral tilt acts above this frequency
FRICATION_LEVEL = 0.05  # white-noise amplitude that puts a sibilant about 10 dB below a vowel


def draw_speaker(rng: np.random.Generator) -> dict:
    """One speaker's identity: a dict of the parameters above, plus their own vowel targets."""
    speaker = {name: rng.uniform(low, high) for name, (low, high) in SPEAKER_RANGES.items()}
    low, high = SPEAKER_RANGES["mean_pitch_hz"]
    speaker["mean_pitch_hz"] = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    accent = 1.0 + ACCENT_OFFSET_STD * rng.standard_normal(VOWEL_FORMANTS.shape)
    speaker["vowel_formants"] = VOWEL_FORMANTS * accent * speaker["tract_scale"]  # (10, 3) Hz
    upper = UPPER_FORMANTS * (1.0 + UPPER_FORMANT_OFFSET_STD * rng.standard_normal(2))
    speaker["upper_formants"] = upper * speaker["tract_scale"]  # (2,) Hz
    speaker["vowel_preference"] = rng.dirichlet(np.full(len(VOWEL_FORMANTS), VOWEL_PREFERENCE_CONCENTRATION))
    speaker["utterance_seed"] = int(rng.integers(2**63))  # what they say is theirs too: rows do not depend on order
    return speaker


def speaker_pitch_bounds(speaker: dict) -> tuple[float, float]:
    """The f0 range (Hz) the speaker's utterances can reach: mean shifted by the largest offsets."""
    reach = 4 * UTTERANCE_PITCH_SEMITONES  # four standard deviations of the utterance offset
    reach += 3 * speaker["pitch_range_semitones"]  # up to three overlapping phrase accents
    reach += -DECLINATION_SEMITONES_PER_SECOND[0] * 1.0  # a second either side of the middle
    reach += 12 * np.log2(1 + 4 * speaker["jitter"])  # four standard deviations of jitter
    return speaker["mean_pitch_hz"] * 2 ** (-reach / 12), speaker["mean_pitch_hz"] * 2 ** (reach / 12)


class Segment(NamedTuple):
    """A phone-like segment of the synthesiser's parameter tracks."""
    kind: str  # vowel, closure, burst, aspiration, fricative, nasal or pause
    frames: int  # length, in frames of SYNTH_HOP samples
    formants: np.ndarray | None  # (5,) formant targets, Hz; None (pause): the tract is held
    voicing: float  # glottal source level
    frication: float  # noise source level
    noise: tuple  # (centre, bandwidth) Hz of the noise source's resonance
    nasal_zero: float  # Hz of the nasal anti-resonance, 0: none


def segment_sequence(speaker: dict, rng: np.random.Generator, n_frames: int) -> list:
    """Phone-like segments filling n_frames: syllables (C)V(C), with pauses between some of them."""
    rate = speaker["speaking_rate"]

    def frames(seconds_range):
        return max(1, int(round(rng.uniform(*seconds_range) / rate / FRAME_SECONDS)))

    def tract(f123):
        return np.r_[f123, speaker["upper_formants"]]

    def locus(place):
        return tract(np.array(PLACE_LOCI.get(place, PLACE_LOCI["alveolar"])) * speaker["tract_scale"])

    def consonant(place_kinds):
        kind = rng.choice(place_kinds)
        place = str(rng.choice(["labial", "alveolar", "velar"]))
        if kind == "stop":
            voiced = rng.random() < VOICED_STOP_PROBABILITY
            # Noise spectra follow the (front) cavity in front of the constriction: they shift with
            # the tract's size, but less than the formants do.
            noise = np.array(BURST_NOISE[place]) * np.sqrt(speaker["tract_scale"])
            voice_bar = VOICE_BAR_LEVEL if voiced else 0.0
            parts = [Segment("closure", frames(CLOSURE_SECONDS), locus(place), voice_bar, 0.0, noise, 0.0)]
            parts.append(Segment("burst", frames(BURST_SECONDS), locus(place), 0.0, BURST_LEVEL, noise, 0.0))
            if not voiced:
                parts.append(Segment("aspiration", frames(ASPIRATION_SECONDS), locus(place), 0.0, ASPIRATION_LEVEL,
                                     ASPIRATION_NOISE, 0.0))
            return parts
        if kind == "fricative":
            fric_place = str(rng.choice(list(FRICATIVE_NOISE)))
            voiced = rng.random() < VOICED_FRICATIVE_PROBABILITY
            noise = np.array(FRICATIVE_NOISE[fric_place]) * np.sqrt(speaker["tract_scale"])
            level = SIBILANT_LEVEL if fric_place in ("alveolar", "postalveolar") else FRICATIVE_LEVEL
            voicing = VOICED_FRICATIVE_VOICING if voiced else 0.0
            return [Segment("fricative", frames(FRICATIVE_SECONDS), locus(place), voicing, level, noise, 0.0)]
        nasal_tract = locus(place)
        nasal_tract[0] = NASAL_POLE[0] * speaker["tract_scale"]
        zero = NASAL_ZERO[place] * speaker["tract_scale"]
        return [Segment("nasal", frames(NASAL_SECONDS), nasal_tract, NASAL_VOICING, 0.0, (0.0, 1.0), zero)]

    silence = Segment("pause", frames(LEADING_SILENCE_SECONDS), None, 0.0, 0.0, (0.0, 1.0), 0.0)
    segments, total = [silence], silence.frames
    while total < n_frames:
        syllable = []
        if rng.random() < ONSET_PROBABILITY:
            syllable += consonant(["stop", "fricative", "nasal"])
        vowel = rng.choice(len(VOWEL_FORMANTS), p=speaker["vowel_preference"])
        vowel_formants = tract(speaker["vowel_formants"][vowel])
        syllable.append(Segment("vowel", frames(VOWEL_SECONDS), vowel_formants, 1.0, 0.0, (0.0, 1.0), 0.0))
        if rng.random() < CODA_PROBABILITY:
            syllable += consonant(["stop", "fricative", "nasal"])
        if rng.random() < PAUSE_PROBABILITY:
            syllable.append(Segment("pause", frames(PAUSE_SECONDS), None, 0.0, 0.0, (0.0, 1.0), 0.0))
        segments += syllable
        total += sum(segment.frames for segment in syllable)
    return segments


def smooth(track: np.ndarray, seconds: float) -> np.ndarray:
    """Moving average over time (axis 0) with edge values held: turns steps into transitions."""
    width = max(1, int(round(seconds / FRAME_SECONDS)))
    return scipy.ndimage.uniform_filter1d(track, size=width, axis=0, mode="nearest")


def parameter_tracks(segments: list, n_frames: int, speaker: dict) -> dict:
    """Frame-level tracks (n_frames, ...) of formants, voicing, frication, noise shape, nasal zero."""
    def per_frame(field, default=None):
        values = [getattr(segment, field) if getattr(segment, field) is not None else default for segment in segments]
        lengths = [segment.frames for segment in segments]
        return np.repeat(np.array(values, dtype=object if field == "kind" else float), lengths, axis=0)[:n_frames]

    kinds = per_frame("kind")
    # Pauses keep the neighbouring tract (the articulators do not jump while silent).
    formants = hold_previous(per_frame("formants", default=np.full(5, np.nan)))
    voicing, frication = per_frame("voicing"), per_frame("frication")
    noise_shape, nasal_zero = per_frame("noise"), per_frame("nasal_zero")
    return {
        "kinds": kinds,
        "formants": smooth(formants, TRANSITION_SECONDS),  # (T, 5) Hz
        "voicing": smooth(voicing, GAIN_SMOOTHING_SECONDS),  # (T,)
        "frication": frication,  # (T,) bursts stay sharp
        "noise_shape": noise_shape,  # (T, 2) Hz: centre, bandwidth
        "nasal_zero": nasal_zero,  # (T,) Hz, 0 = none
        "bandwidths": FORMANT_BANDWIDTHS * speaker["bandwidth_scale"],  # (5,) Hz
    }


def hold_previous(formants: np.ndarray) -> np.ndarray:
    """Fill NaN rows (pauses) with the nearest earlier row, or the first later one at the start."""
    valid = ~np.isnan(formants[:, 0])
    if not valid.any():
        return np.tile(np.r_[VOWEL_FORMANTS[4], UPPER_FORMANTS], (len(formants), 1))
    index = np.where(valid, np.arange(len(formants)), 0)
    np.maximum.accumulate(index, out=index)
    index[: np.argmax(valid)] = np.argmax(valid)
    return formants[index]


def resonance_log_gain(centres: np.ndarray, bandwidths: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """log |H(e^{jw})| of two-pole resonators with unit gain at DC (Klatt, 1980), summed over poles.

    H(z) = (1 - 2 r cos(theta) + r^2) / (1 - 2 r cos(theta) z^-1 + r^2 z^-2),
    r = exp(-pi B / fs), theta = 2 pi F / fs. With a = 1 + r^2, b = 2 r cos(theta), c = 2 r sin(theta):
    |denominator|^2 = (a - b cos(w) - c sin(w)) (a - b cos(w) + c sin(w)) = (a - b cos(w))^2 - c^2 sin(w)^2,
    one logarithm per pole and bin, no cosines of (T, K, F) arrays.
    centres, bandwidths: (T, K) Hz; omega: (F,) rad/sample -> (T, F).
    """
    r = np.exp(-np.pi * bandwidths / SAMPLE_RATE)[..., None]  # (T, K, 1)
    theta = (2 * np.pi * centres / SAMPLE_RATE)[..., None]
    a, b, c = 1 + r**2, 2 * r * np.cos(theta), 2 * r * np.sin(theta)
    dc_gain = np.log(a - b)  # the numerator: |denominator| at w = 0
    denominator = (a - b * np.cos(omega)) ** 2 - (c * np.sin(omega)) ** 2
    return np.sum(dc_gain - 0.5 * np.log(denominator), axis=1)


def pitch_contour(speaker: dict, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """f0 per sample (Hz): speaker mean, utterance offset, declination, phrase accents, jitter.

    log2 f0(t) = log2 f0_speaker + (offset + d t + sum_k a_k exp(-(t - t_k)^2 / 2 w_k^2)) / 12 + jitter
    """
    seconds = np.arange(n_samples) / SAMPLE_RATE
    offset = UTTERANCE_PITCH_SEMITONES * rng.standard_normal()
    declination = rng.uniform(*DECLINATION_SEMITONES_PER_SECOND)
    n_accents = rng.poisson(ACCENTS_PER_SECOND * seconds[-1]) + 1
    centres = rng.uniform(0, seconds[-1], n_accents)
    widths = rng.uniform(*ACCENT_WIDTH_SECONDS, n_accents)
    heights = speaker["pitch_range_semitones"] * rng.uniform(-0.5, 1.0, n_accents)
    accents = np.sum(heights[:, None] * np.exp(-0.5 * ((seconds - centres[:, None]) / widths[:, None]) ** 2), axis=0)
    semitones = offset + declination * (seconds - seconds[-1] / 2) + accents
    # Jitter: a new random perturbation every few ms (about a cycle), linearly interpolated.
    knots = rng.standard_normal(n_samples // JITTER_KNOT_SAMPLES + 2)
    jitter = np.interp(np.arange(n_samples) / JITTER_KNOT_SAMPLES, np.arange(len(knots)), knots)
    return speaker["mean_pitch_hz"] * 2 ** (semitones / 12) * (1 + speaker["jitter"] * jitter)


def glottal_source(f0: np.ndarray, speaker: dict, rng: np.random.Generator):
    """Differentiated Rosenberg pulses on the contour f0, with shimmer, and breath noise.

    Rosenberg (1971) flow over one cycle, phase p in [0, 1), opening Tp = 2/3 OQ, closing Tn = 1/3 OQ:
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
    voiced = np.diff(flow, prepend=0.0) * SAMPLE_RATE / f0.mean()  # scale so that pitch does not set loudness
    breath = rng.standard_normal(len(f0)) * (phase < opening + closing) * speaker["breathiness"]
    return voiced, breath


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


def synthesise_utterance(speaker: dict, rng: np.random.Generator, n_samples: int):
    """One utterance (n_samples,) float32 of the speaker, and its frame tracks (for tests)."""
    n_frames = n_samples // SYNTH_HOP + 2
    tracks = parameter_tracks(segment_sequence(speaker, rng, n_frames), n_frames, speaker)
    f0 = pitch_contour(speaker, rng, n_samples)
    voiced, breath = glottal_source(f0, speaker, rng)
    tracks["f0"] = f0[::SYNTH_HOP]  # (n_samples // hop,) Hz at each frame's first sample
    frication_noise = rng.standard_normal(n_samples)

    def spectra(signal):
        return scipy.signal.stft(signal, nperseg=SYNTH_WINDOW, noverlap=SYNTH_WINDOW - SYNTH_HOP)[2]

    source, breath_spec, noise_spec = spectra(voiced), spectra(breath), spectra(frication_noise)  # (F, T')
    n_stft = source.shape[1]
    frequencies = np.fft.rfftfreq(SYNTH_WINDOW, 1 / SAMPLE_RATE)  # (F,)
    omega = 2 * np.pi * frequencies / SAMPLE_RATE
    frame_of = np.minimum(np.arange(n_stft), n_frames - 1)  # scipy's frames are centred every hop

    formants = tracks["formants"][frame_of]  # (T', 5)
    tract = resonance_log_gain(formants, np.broadcast_to(tracks["bandwidths"], formants.shape), omega)  # (T', F)
    # The side cavities' anti-resonance is the speaker's, whatever the phone (Dang & Honda, 1997).
    sinus = np.array([[speaker["sinus_zero_hz"]]]), np.array([[speaker["sinus_zero_bandwidth_hz"]]])
    tract -= resonance_log_gain(*sinus, omega)
    zeros = tracks["nasal_zero"][frame_of]
    nasal = zeros > 0
    if nasal.any():
        tract[nasal] -= resonance_log_gain(zeros[nasal, None], np.full((nasal.sum(), 1), NASAL_ZERO_BANDWIDTH_HZ), omega)
    # Tilt is a roll-off (or lift) of the highs: it pivots at TILT_PIVOT_HZ and leaves the lows alone.
    octaves = np.log2(np.maximum(frequencies, TILT_PIVOT_HZ) / TILT_PIVOT_HZ)
    tilt = speaker["tilt_db_per_octave"] * octaves * np.log(10) / 20  # (F,) natural log of amplitude
    shape = tracks["noise_shape"][frame_of]
    voicing = tracks["voicing"][frame_of, None]
    frication = tracks["frication"][frame_of, None]
    noisy = frication[:, 0] > 0
    noise_filter = np.zeros_like(tract)  # (T', F): frication only where there is some
    if noisy.any():
        noise_filter[noisy] = resonance_log_gain(shape[noisy, :1], shape[noisy, 1:], omega)

    excitation = (source + breath_spec) * voicing.T
    spectrum = excitation * np.exp(tract + tilt).T + noise_spec * frication.T * np.exp(noise_filter).T * FRICATION_LEVEL
    speech = scipy.signal.istft(spectrum, nperseg=SYNTH_WINDOW, noverlap=SYNTH_WINDOW - SYNTH_HOP)[1][:n_samples]
    return add_recording_conditions(speech, tracks, rng), tracks


def add_recording_conditions(speech: np.ndarray, tracks: dict, rng: np.random.Generator) -> np.ndarray:
    """Loudness, background noise at a random SNR and channel colouring: the per-utterance nuisance."""
    n = len(speech)
    n_fft = scipy.fft.next_fast_len(n, real=True)  # lengths like 16180 = 4 * 5 * 809 are slow to transform
    active = np.repeat(tracks["voicing"] > 0.5, SYNTH_HOP)[:n]
    if not active.any():
        active[:] = True
    speech_rms = np.sqrt(np.mean(speech[active] ** 2)) + 1e-12
    speech = speech * REFERENCE_RMS * 10 ** (rng.uniform(*LOUDNESS_DB) / 20) / speech_rms
    frequencies = np.fft.rfftfreq(n_fft, 1 / SAMPLE_RATE)
    noise_tilt_db = rng.uniform(*NOISE_TILT_DB_PER_OCTAVE) * np.log2(np.maximum(frequencies, 50.0) / 1000.0)
    noise = scipy.fft.irfft(scipy.fft.rfft(rng.standard_normal(n_fft)) * 10 ** (noise_tilt_db / 20), n_fft)[:n]
    # SNR = 10 log10(P_speech / P_noise), the speech power measured over its voiced frames.
    noise *= np.sqrt(np.mean(speech[active] ** 2) / np.mean(noise**2)) * 10 ** (-rng.uniform(*SNR_DB) / 20)
    channel = np.exp(channel_log_gain(rng, frequencies))
    recorded = scipy.fft.irfft(scipy.fft.rfft(speech + noise, n_fft) * channel, n_fft)[:n]
    return np.clip(recorded, -FULL_SCALE, FULL_SCALE).astype(np.float32)  # a loud take clips, as a recorder would


def synthesise_speakers(speakers: list, utterances_per_speaker: int, n_samples: int, progress=None) -> np.ndarray:
    """(len(speakers) * utterances_per_speaker, n_samples) float32, rows ordered by speaker."""
    rows = []
    for speaker in speakers:
        rng = np.random.default_rng(speaker["utterance_seed"])
        for _ in range(utterances_per_speaker):
            rows.append(synthesise_utterance(speaker, rng, n_samples)[0])
        if progress is not None:
            progress.update(1)
    return np.stack(rows)


def speech_corpus(n_speakers: int, utterances_per_speaker: int, n_samples: int, seed: int, split: int = 0, progress=None):
    """A corpus of n_speakers new speakers: (signals (S*U, N) float32, speakers list of dicts).

    Each split draws its speakers from its own generator, so train and test speakers are disjoint
    and neither depends on the other's size.
    """
    speaker_rng = np.random.default_rng([seed, SPEECH_SEED_STREAM, split])
    speakers = [draw_speaker(speaker_rng) for _ in range(n_speakers)]
    signals = synthesise_speakers(speakers, utterances_per_speaker, n_samples, progress)
    return signals, speakers


# ---------------------------------------------------------------- main


def main(argv=None) -> None:
    args = parse_args(argv)
    sevens = sevens_to_write(args) if args.only != "speech" else []  # every file in the way refused before any work
    written: list[Path] = []
    write_sevens(args, sevens, written)
    if args.only != "sevens":
        write_speech(args, written)
    for path in written:
        print(f"wrote {path}")


OPTIONS = (  # every option of the command, once: name, type, default, help, bound or choices
    Option("out", Path, DEFAULT_DATA_DIR, "folder to write"),
    Option("seed", int, 0, "random seed", SEED_BOUND),
    Option("force", bool, False, "overwrite (or remove) files that exist"),
    Option("sevens_effect", str, "rotation", "the nuisance effect", choices=tuple(sorted(SEVENS_EFFECTS))),
    Option("only", str, None, "write only one of the two data sets", choices=("speech", "sevens")),
    Option("quiet", bool, False, "no progress bars"),
)


def parse_args(argv=None):
    """The options through the scripts' one-line parser: a bad one is one line and exit status 2."""
    args = parse_options(OPTIONS, argv, __doc__)
    args.out = check_data_folder(args.out)
    return args


def check_data_folder(out: Path) -> Path:
    """`out` if it is a folder, or can become one, that this user may write into; else DataError."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: expected a folder to write the data into, found a file")
    parent = next(folder for folder in out.absolute().parents if folder.exists()) if not out.exists() else out
    if not parent.is_dir():
        raise DataError(f"--out {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"--out {out}: the folder {parent} is not writable")
    return out


def keep_existing(path: Path, force: bool) -> bool:
    """A user's file is never overwritten without --force; say so when it is kept."""
    if path.exists() and not force:
        print(f"kept {path} (exists; --force to rewrite)")
        return True
    return False


def sevens_to_write(args) -> list:
    """(prefix, pickle, truth, other effects' truth files) of each sevens split to write. A split whose pickle
    exists is kept without --force; a truth file that would be overwritten or removed is refused instead,
    since writing the pickle without its truth would leave them disagreeing."""
    splits = []
    for prefix in ("tr7", "te7"):
        pickle_path = args.out / f"{prefix}.pkl"
        truth_path = args.out / f"{prefix}_truth_{args.sevens_effect}.npy"
        stale = sorted(path for path in args.out.glob(f"{prefix}_truth_*.npy") if path != truth_path)
        if keep_existing(pickle_path, args.force):
            continue
        in_the_way = [path for path in [truth_path, *stale] if path.exists()]
        if in_the_way and not args.force:
            raise DataError(f"{in_the_way[0]}: exists and would be overwritten or removed with {pickle_path.name}; "
                            "--force to rewrite it, or choose another --out")
        splits.append((prefix, pickle_path, truth_path, stale))
    return splits


def write_sevens(args, splits: list, written: list) -> None:
    sevens = load_mnist_sevens() if splits else None
    for prefix, pickle_path, truth_path, stale in splits:
        # One generator per split, so train and test do not depend on each other's sizes.
        rng = np.random.default_rng([args.seed, SEVENS_STREAM, 0 if prefix == "tr7" else 1])
        images, values = poor_sevens(sevens["train" if prefix == "tr7" else "test"], args.sevens_effect, rng)
        write_pickle(pickle_path, images)
        write_npy(truth_path, values)
        written.extend([pickle_path, truth_path])
        for path in stale:  # only with --force (sevens_to_write)
            path.unlink()
            print(f"removed {path} (the truth of another effect)")


def write_speech(args, written: list) -> None:
    for prefix, split, n_speakers, n_samples in SPEECH_SPLITS:
        pickle_path = args.out / f"{prefix}.pkl"
        if keep_existing(pickle_path, args.force):
            continue
        with tqdm(total=n_speakers, desc=f"{prefix} speakers", disable=args.quiet) as progress:
            signals, _ = speech_corpus(n_speakers, UTTERANCES_PER_SPEAKER, n_samples, args.seed, split, progress)
        write_pickle(pickle_path, signals)
        written.append(pickle_path)


if __name__ == "__main__":
    run_cli(main)
