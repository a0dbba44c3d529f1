"""Write the default data in the homework's exact format, when the user brings none.

    data/trs.pkl  (500, 16180) float32    speech, 50 speakers x 10 utterances, ordered by speaker
    data/tes.pkl  (200, 22631) float32    speech, 20 other speakers x 10 utterances
    data/tr7.pkl  (6265, 28, 28) float32  "poor sevens": MNIST training sevens, an effect added
    data/te7.pkl  (1028, 28, 28) float32  the same for MNIST's test sevens
    data/tr7_truth_rotation.npy, data/te7_truth_rotation.npy  each image's true effect parameter
                   (here the angle, degrees), to score the VAE; another --sevens-effect E writes
                   *_truth_E.npy and removes the other effects' truth files, so one truth file
                   stands beside the sevens

Sevens: real MNIST (LeCun, Cortes, Burges; CC BY-SA 3.0), from assets/mnist_sevens.npz.
Speech: a procedural source-filter corpus (no multi-speaker corpus installs from a registry).
Existing files are never overwritten without --force. The same --seed writes the same bytes.
"""

from __future__ import annotations

from safety import interrupts  # noqa: F401  first: Ctrl-C during the imports is one line too
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common import (DEFAULT_DATA_DIR, SEED_BOUND, UTTERANCES_PER_SPEAKER, Option, parse_options,
                    run_cli)
from default_data.homework_files import write_npy, write_pickle
from default_data.sevens import SEVENS_EFFECTS, poor_sevens
from default_data.speech import SPEECH_SPLITS, speech_corpus
from safety.errors import DataError
from sevens.mnist import load_mnist_sevens

SEVENS_STREAM = 7  # the sevens' random stream, apart from the speech's
OPTIONS = (  # every option of the command, once: name, type, default, help, bound or choices
    Option("out", Path, DEFAULT_DATA_DIR, "folder to write"),
    Option("seed", int, 0, "random seed", SEED_BOUND),
    Option("force", bool, False, "overwrite (or remove) files that exist"),
    Option("sevens_effect", str, "rotation", "the nuisance effect",
           choices=tuple(sorted(SEVENS_EFFECTS))),
    Option("only", str, None, "write only one of the two data sets", choices=("speech", "sevens")),
    Option("quiet", bool, False, "no progress bars"),
)


def main(argv=None) -> None:
    """Check every option and every file in the way, then write the sevens and the speech."""
    args = parse_args(argv)
    # Every file in the way is refused before any work.
    sevens = sevens_to_write(args) if args.only != "speech" else []
    written: list[Path] = []
    write_sevens(args, sevens, written)
    if args.only != "sevens":
        write_speech(args, written)
    for path in written:
        print(f"wrote {path}")


def parse_args(argv=None):
    """The options through the scripts' one-line parser: a bad one is one line and exit status 2."""
    args = parse_options(OPTIONS, argv, __doc__)
    args.out = check_data_folder(args.out)
    return args


def check_data_folder(out: Path) -> Path:
    """`out` if it is a folder, or can become one, that this user may write into; else DataError."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: expected a folder to write the data into, found a file")
    parent = out
    if not out.exists():
        parent = next(folder for folder in out.absolute().parents if folder.exists())
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
    """(prefix, pickle, truth, other effects' truth files) of each sevens split to write. A split
    whose pickle exists is kept without --force; a truth file that would be overwritten or removed
    is refused instead, since writing the pickle without its truth would leave them disagreeing."""
    splits = []
    for prefix in ("tr7", "te7"):
        pickle_path = args.out / f"{prefix}.pkl"
        truth_path = args.out / f"{prefix}_truth_{args.sevens_effect}.npy"
        truths = args.out.glob(f"{prefix}_truth_*.npy")
        stale = sorted(path for path in truths if path != truth_path)
        if keep_existing(pickle_path, args.force):
            continue
        in_the_way = [path for path in [truth_path, *stale] if path.exists()]
        if in_the_way and not args.force:
            raise DataError(f"{in_the_way[0]}: exists and would be overwritten or removed with "
                            f"{pickle_path.name}; --force to rewrite it, or choose another --out")
        splits.append((prefix, pickle_path, truth_path, stale))
    return splits


def write_sevens(args, splits: list, written: list) -> None:
    """Each split of sevens_to_write: its poor sevens and their truth, the stale truths removed."""
    sevens = load_mnist_sevens() if splits else None
    for prefix, pickle_path, truth_path, stale in splits:
        # One generator per split, so train and test do not depend on each other's sizes.
        rng = np.random.default_rng([args.seed, SEVENS_STREAM, 0 if prefix == "tr7" else 1])
        split = sevens["train" if prefix == "tr7" else "test"]
        images, values = poor_sevens(split, args.sevens_effect, rng)
        write_pickle(pickle_path, images)
        write_npy(truth_path, values)
        written.extend([pickle_path, truth_path])
        for path in stale:  # only with --force (sevens_to_write)
            path.unlink()
            print(f"removed {path} (the truth of another effect)")


def write_speech(args, written: list) -> None:
    """trs.pkl and tes.pkl (SPEECH_SPLITS), each split kept if it exists without --force."""
    for prefix, split, n_speakers, n_samples in SPEECH_SPLITS:
        pickle_path = args.out / f"{prefix}.pkl"
        if keep_existing(pickle_path, args.force):
            continue
        with tqdm(total=n_speakers, desc=f"{prefix} speakers", disable=args.quiet) as progress:
            signals, _ = speech_corpus(n_speakers, UTTERANCES_PER_SPEAKER, n_samples, args.seed,
                                       split, progress)
        write_pickle(pickle_path, signals)
        written.append(pickle_path)


if __name__ == "__main__":
    run_cli(main)
