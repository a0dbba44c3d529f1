"""Who speaks, and what do they say? A speaker's voice, and the phone-like segments of an utterance
as frame tracks of the synthesiser's parameters (default_data/speech.py turns them into sound).

Speaker identity (`draw_speaker`) lives in parameters drawn from overlapping ranges: mean pitch and
pitch range, vocal-tract length (all formants scaled together), the speaker's own F4/F5 and
side-cavity anti-resonance, spectral tilt, breathiness, open quotient, formant bandwidths, speaking
rate, jitter and shimmer, accent-like offsets of each vowel's formant targets and how often they
use each vowel. What they say (`segment_sequence`) is a random string of syllables (C)V(C), each
consonant a stop, fricative or nasal at a place of articulation, with pauses between some
syllables; `parameter_tracks` holds each segment's targets for its frames, smoothed into
transitions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.ndimage

SAMPLE_RATE = 16_000  # Hz
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
PLACE_LOCI = {"labial": (250, 900, 2200), "alveolar": (300, 1700, 2600),
              "velar": (300, 2000, 2300)}
PLACES = ["labial", "alveolar", "velar"]  # where a stop or nasal closes the tract
CONSONANT_KINDS = ["stop", "fricative", "nasal"]  # drawn uniformly for each onset and coda
# Frication and burst noise: centre and bandwidth (Hz) of the noise resonance, by place.
FRICATIVE_NOISE = {"labial": (6000, 6000), "dental": (6500, 4000), "alveolar": (5500, 2000),
                   "postalveolar": (3000, 1500)}
BURST_NOISE = {"labial": (1200, 2000), "alveolar": (4000, 2500), "velar": (2200, 1200)}
NASAL_POLE = (250.0, 100.0)  # Hz: the low resonance of the nasal cavity (centre, bandwidth)
NASAL_ZERO = {"labial": 1000.0, "alveolar": 1600.0, "velar": 3000.0}  # Hz: anti-resonance by place
NO_NOISE = (0.0, 1.0)  # (centre, bandwidth) Hz where there is no frication: never filtered with
# Source levels of the consonants (a vowel's voicing is 1). Voiced stops keep a weak "voice bar"
# in their closure; sibilants (s, sh) are louder than the other fricatives.
VOICE_BAR_LEVEL = 0.15
VOICED_FRICATIVE_VOICING = 0.4
NASAL_VOICING = 0.35
BURST_LEVEL = 1.0
ASPIRATION_LEVEL = 0.25
# Hz: centre, bandwidth of the breathy noise after a voiceless stop.
ASPIRATION_NOISE = (1500.0, 3000.0)
SIBILANT_LEVEL, FRICATIVE_LEVEL = 0.5, 0.2
VOICED_STOP_PROBABILITY, VOICED_FRICATIVE_PROBABILITY = 0.5, 0.35

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
TRANSITION_SECONDS = 0.04  # formant movements are smoothed over this window
GAIN_SMOOTHING_SECONDS = 0.016  # onsets and offsets of voicing and noise

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


def draw_speaker(rng: np.random.Generator) -> dict:
    """One speaker's identity: a dict of the parameters above, plus their own vowel targets."""
    speaker = {name: rng.uniform(low, high) for name, (low, high) in SPEAKER_RANGES.items()}
    low, high = SPEAKER_RANGES["mean_pitch_hz"]
    speaker["mean_pitch_hz"] = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    accent = 1.0 + ACCENT_OFFSET_STD * rng.standard_normal(VOWEL_FORMANTS.shape)
    speaker["vowel_formants"] = VOWEL_FORMANTS * accent * speaker["tract_scale"]  # (10, 3) Hz
    upper = UPPER_FORMANTS * (1.0 + UPPER_FORMANT_OFFSET_STD * rng.standard_normal(2))
    speaker["upper_formants"] = upper * speaker["tract_scale"]  # (2,) Hz
    concentration = np.full(len(VOWEL_FORMANTS), VOWEL_PREFERENCE_CONCENTRATION)
    speaker["vowel_preference"] = rng.dirichlet(concentration)
    # What they say is theirs too: rows do not depend on the order speakers are synthesised in.
    speaker["utterance_seed"] = int(rng.integers(2**63))
    return speaker


# ---------------------------------------------------------------- what they say
class Segment(NamedTuple):
    """A phone-like segment of the synthesiser's parameter tracks."""
    kind: str  # vowel, closure, burst, aspiration, fricative, nasal or pause
    frames: int  # length, in frames of SYNTH_HOP samples
    formants: np.ndarray | None  # (5,) formant targets, Hz; None (pause): the tract is held
    voicing: float  # glottal source level
    frication: float  # noise source level
    noise: tuple  # (centre, bandwidth) Hz of the noise source's resonance
    nasal_zero: float  # Hz of the nasal anti-resonance, 0: none


def segment_frames(seconds_range: tuple, speaker: dict, rng: np.random.Generator) -> int:
    """A duration drawn uniformly from `seconds_range`, at the speaker's rate, in whole frames."""
    seconds = rng.uniform(*seconds_range)
    return max(1, int(round(seconds / speaker["speaking_rate"] / FRAME_SECONDS)))


def tract(f123: np.ndarray, speaker: dict) -> np.ndarray:
    """(5,) formant targets, Hz: F1..F3 as given, then the speaker's own F4, F5."""
    return np.r_[f123, speaker["upper_formants"]]


def locus(place: str, speaker: dict) -> np.ndarray:
    """(5,) the formants the speaker's tract moves towards at a place of articulation."""
    f123 = np.array(PLACE_LOCI.get(place, PLACE_LOCI["alveolar"])) * speaker["tract_scale"]
    return tract(f123, speaker)


def stop(place: str, speaker: dict, rng: np.random.Generator) -> list:
    """A closure (silent, or a voice bar when voiced), a burst and, when voiceless, aspiration."""
    voiced = rng.random() < VOICED_STOP_PROBABILITY
    # Noise spectra follow the (front) cavity in front of the constriction: they shift with the
    # tract's size, but less than the formants do.
    noise = np.array(BURST_NOISE[place]) * np.sqrt(speaker["tract_scale"])
    voice_bar = VOICE_BAR_LEVEL if voiced else 0.0
    closure = segment_frames(CLOSURE_SECONDS, speaker, rng)
    parts = [Segment("closure", closure, locus(place, speaker), voice_bar, 0.0, noise, 0.0)]
    burst = segment_frames(BURST_SECONDS, speaker, rng)
    parts.append(Segment("burst", burst, locus(place, speaker), 0.0, BURST_LEVEL, noise, 0.0))
    if not voiced:
        aspiration = segment_frames(ASPIRATION_SECONDS, speaker, rng)
        parts.append(Segment("aspiration", aspiration, locus(place, speaker), 0.0,
                             ASPIRATION_LEVEL, ASPIRATION_NOISE, 0.0))
    return parts


def fricative(place: str, speaker: dict, rng: np.random.Generator) -> list:
    """Noise shaped at its own place (FRICATIVE_NOISE), louder for sibilants, sometimes voiced; the
    tract moves towards the locus of `place`."""
    noise_place = str(rng.choice(list(FRICATIVE_NOISE)))
    voiced = rng.random() < VOICED_FRICATIVE_PROBABILITY
    noise = np.array(FRICATIVE_NOISE[noise_place]) * np.sqrt(speaker["tract_scale"])
    sibilant = noise_place in ("alveolar", "postalveolar")
    level = SIBILANT_LEVEL if sibilant else FRICATIVE_LEVEL
    voicing = VOICED_FRICATIVE_VOICING if voiced else 0.0
    frames = segment_frames(FRICATIVE_SECONDS, speaker, rng)
    return [Segment("fricative", frames, locus(place, speaker), voicing, level, noise, 0.0)]


def nasal(place: str, speaker: dict, rng: np.random.Generator) -> list:
    """Voiced, through the nose: a low nasal pole for F1 and an anti-resonance set by the place."""
    nasal_tract = locus(place, speaker)
    nasal_tract[0] = NASAL_POLE[0] * speaker["tract_scale"]
    zero = NASAL_ZERO[place] * speaker["tract_scale"]
    frames = segment_frames(NASAL_SECONDS, speaker, rng)
    return [Segment("nasal", frames, nasal_tract, NASAL_VOICING, 0.0, NO_NOISE, zero)]


def consonant(speaker: dict, rng: np.random.Generator) -> list:
    """The segments of one consonant: its kind (CONSONANT_KINDS) and place drawn uniformly."""
    kind = rng.choice(CONSONANT_KINDS)
    place = str(rng.choice(PLACES))
    if kind == "stop":
        return stop(place, speaker, rng)
    if kind == "fricative":
        return fricative(place, speaker, rng)
    return nasal(place, speaker, rng)


def syllable(speaker: dict, rng: np.random.Generator) -> list:
    """(C)V(C), then a pause now and then: the vowel drawn by the speaker's vowel preference."""
    segments = []
    if rng.random() < ONSET_PROBABILITY:
        segments += consonant(speaker, rng)
    vowel = rng.choice(len(VOWEL_FORMANTS), p=speaker["vowel_preference"])
    vowel_formants = tract(speaker["vowel_formants"][vowel], speaker)
    frames = segment_frames(VOWEL_SECONDS, speaker, rng)
    segments.append(Segment("vowel", frames, vowel_formants, 1.0, 0.0, NO_NOISE, 0.0))
    if rng.random() < CODA_PROBABILITY:
        segments += consonant(speaker, rng)
    if rng.random() < PAUSE_PROBABILITY:
        frames = segment_frames(PAUSE_SECONDS, speaker, rng)
        segments.append(Segment("pause", frames, None, 0.0, 0.0, NO_NOISE, 0.0))
    return segments


def segment_sequence(speaker: dict, rng: np.random.Generator, n_frames: int) -> list:
    """Phone-like segments filling n_frames: a leading silence, then syllables until full."""
    silence_frames = segment_frames(LEADING_SILENCE_SECONDS, speaker, rng)
    silence = Segment("pause", silence_frames, None, 0.0, 0.0, NO_NOISE, 0.0)
    segments, total = [silence], silence.frames
    while total < n_frames:
        segments_of_syllable = syllable(speaker, rng)
        segments += segments_of_syllable
        total += sum(segment.frames for segment in segments_of_syllable)
    return segments


# ---------------------------------------------------------------- frame tracks
def smooth(track: np.ndarray, seconds: float) -> np.ndarray:
    """Moving average over time (axis 0) with edge values held: turns steps into transitions."""
    width = max(1, int(round(seconds / FRAME_SECONDS)))
    return scipy.ndimage.uniform_filter1d(track, size=width, axis=0, mode="nearest")


def parameter_tracks(segments: list, n_frames: int, speaker: dict) -> dict:
    """Frame-level tracks (n_frames, ...) of formants, voicing, frication, noise shape, nasal
    zero."""
    lengths = [segment.frames for segment in segments]

    def per_frame(field, default=None):
        values = [getattr(segment, field) for segment in segments]
        values = [default if value is None else value for value in values]
        dtype = object if field == "kind" else float
        return np.repeat(np.array(values, dtype=dtype), lengths, axis=0)[:n_frames]

    # Pauses keep the neighbouring tract (the articulators do not jump while silent).
    formants = hold_previous(per_frame("formants", default=np.full(5, np.nan)))
    return {
        "kinds": per_frame("kind"),
        "formants": smooth(formants, TRANSITION_SECONDS),  # (T, 5) Hz
        "voicing": smooth(per_frame("voicing"), GAIN_SMOOTHING_SECONDS),  # (T,)
        "frication": per_frame("frication"),  # (T,) bursts stay sharp
        "noise_shape": per_frame("noise"),  # (T, 2) Hz: centre, bandwidth
        "nasal_zero": per_frame("nasal_zero"),  # (T,) Hz, 0 = none
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
