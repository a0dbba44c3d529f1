"""A second speech corpus for the speaker benchmark: other voices, other lengths, other speaker
counts.

make_data's procedural speech with another seed (so other speakers drawn from the same ranges) and
another layout: 60 training speakers of 0.75 s (12,000 samples) and 25 test speakers of 1.75 s
(28,000), against the default's 50 of 16,180 and 20 of 22,631. Written as trs.pkl and tes.pkl, the
same bytes for the same folder every time.

    python -m bench.second_corpus bench/out/second_corpus    # about 20 s
"""

import argparse
from pathlib import Path

from common import UTTERANCES_PER_SPEAKER
from default_data.homework_files import write_pickle
from default_data.speech import speech_corpus

SEED = 1  # the default data is seed 0
SPLITS = (("trs", 0, 60, 12_000), ("tes", 1, 25, 28_000))  # (file prefix, split, speakers, samples)


def write_second_corpus(folder: Path) -> Path:
    """trs.pkl and tes.pkl in `folder`, unless both are there already."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, split, n_speakers, n_samples in SPLITS:
        path = folder / f"{prefix}.pkl"
        if not path.is_file():
            signals, _ = speech_corpus(n_speakers, UTTERANCES_PER_SPEAKER, n_samples, SEED, split)
            write_pickle(path, signals)
    return folder


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    print(f"wrote {write_second_corpus(parser.parse_args().folder)}")
