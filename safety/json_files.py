"""Is metrics.json strict JSON? Yes: json.dumps writes NaN and Infinity by default, which JSON does
not have; a number a run could not compute (a correlation with a constant, a ratio of zeros) is
written as null instead, and its place is listed under NOT_COMPUTED with the reason. The file is
replaced whole (`atomic_path`).
"""

import json
import math

from safety.run_folders import atomic_path

NOT_COMPUTED = "not_computed"  # the key under which each null number's place and reason are listed


def write_json(path, payload: dict) -> None:
    """`payload` as strict JSON (allow_nan=False), each non-finite number null and listed under
    NOT_COMPUTED."""
    missing = {}
    finite = _finite_or_null(payload, "", missing)
    if missing:
        finite[NOT_COMPUTED] = missing
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(finite, indent=2, allow_nan=False) + "\n")


def _finite_or_null(value, where: str, missing: dict):
    """A copy of `value` with every NaN or infinite float replaced by None, each noted in
    `missing` under its dotted place ("rho.1")."""
    if isinstance(value, dict):
        return {key: _finite_or_null(item, f"{where}.{key}".lstrip("."), missing)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(item, f"{where}.{index}", missing)
                for index, item in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        missing[where] = (f"{value}: the inputs leave it undefined "
                          "(constant values, or identical images?)")
        return None
    return value
