"""In which format is the default data written? The homework's: a pickled plain ndarray per matrix
(trs.pkl, tes.pkl, tr7.pkl, te7.pkl), and a .npy file of each image's true effect parameter. Each
file is replaced whole (`safety.run_folders.atomic_path`): a failed write leaves the previous one.
"""

import pickle

import numpy as np

from safety.run_folders import atomic_path

PICKLE_PROTOCOL = 4  # read by any Python 3.4+; fixed, so the same seed writes the same bytes


def write_pickle(path, array: np.ndarray) -> None:
    """Pickle a plain ndarray (the homework's format), atomically."""
    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        pickle.dump(np.ascontiguousarray(array), stream, protocol=PICKLE_PROTOCOL)


def write_npy(path, array: np.ndarray) -> None:
    """Save `array` as .npy, no pickled objects inside, atomically."""
    with atomic_path(path) as temporary:
        np.save(temporary, array, allow_pickle=False)
