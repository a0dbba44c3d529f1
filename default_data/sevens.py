"""What was done to the sevens? MNIST's real sevens (LeCun, Cortes, Burges; CC BY-SA 3.0), each with
one effect added whose parameter is drawn uniformly per image from SEVENS_EFFECTS: the "poor
sevens" of the default data, and the image's true parameter, which scores the VAE.
"""

import numpy as np
import scipy.ndimage

# Each effect: its parameter's range and what the parameter means. Drawn uniformly per image.
SEVENS_EFFECTS = {
    "rotation": (-60.0, 60.0),  # degrees, counter-clockwise about the image centre
    "shift": (-6.0, 6.0),  # pixels to the right
    "shear": (-0.6, 0.6),  # horizontal shear: x' = x + s * (centre_row - row)
    "contrast": (0.15, 1.0),  # ink intensity multiplier
}
UINT8_WHITE = 255.0  # MNIST's uint8 pixels 0..255 -> grey values in [0, 1]


def affine_about_centre(image: np.ndarray, matrix: np.ndarray, offset_xy=(0.0, 0.0)) -> np.ndarray:
    """Warp one image by `matrix` (acting on (x, y) = (column, row)) about its centre, bilinear.

    The centre lies between the middle pixels ((13.5, 13.5) on 28x28). scipy maps output
    coordinates to input ones, so we give it the inverse transform, in (row, column) order:
        input = A^-1 (output - centre - shift) + centre.
    """
    centre = (np.array(image.shape, dtype=float) - 1.0) / 2.0
    inverse_xy = np.linalg.inv(matrix)
    inverse_rc = inverse_xy[::-1, ::-1]  # swap (x, y) <-> (row, column)
    shift_rc = np.array(offset_xy[::-1], dtype=float)
    offset = centre - inverse_rc @ (centre + shift_rc)
    return scipy.ndimage.affine_transform(image, inverse_rc, offset=offset, order=1,
                                          mode="constant", cval=0.0)


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


def changed_sevens(sevens_uint8: np.ndarray, change, low: float, high: float,
                   rng: np.random.Generator):
    """(N, 28, 28) uint8 -> (N, 28, 28) float32 in [0, 1], each seven changed by
    change(image, value) with its own value drawn uniformly from [low, high]; and the values
    (N,)."""
    values = rng.uniform(low, high, size=len(sevens_uint8))
    images = np.stack([np.clip(change(seven / UINT8_WHITE, value), 0.0, 1.0)
                       for seven, value in zip(sevens_uint8, values)])
    return images.astype(np.float32), values.astype(np.float32)


def poor_sevens(sevens_uint8: np.ndarray, effect: str, rng: np.random.Generator):
    """(N, 28, 28) uint8 -> (N, 28, 28) float32 in [0, 1] with the effect added, and its values
    (N,)."""
    def with_effect(image, value):
        return add_effect(image, effect, value)

    return changed_sevens(sevens_uint8, with_effect, *SEVENS_EFFECTS[effect], rng)
