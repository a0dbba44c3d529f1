"""A run's metrics.json read as untrusted input, for report/make_results_tex.py.

The file may be edited by hand, cut short or written by another version of a script. Every value the
report prints is checked to be of the kind and size its format takes; anything else stops the build
with one line naming the file and the key (a DataError: exit status 2), before pdflatex sees it.
"""

import json
import math
import re
from pathlib import Path

from safety.errors import DataError

AXES = 5  # a VAE has at most K = 5 latents: an axis is 0..4, a per-axis list has at most 5 values
ITEM_KEY = re.compile(r"[a-z]+(-[a-z]+)*")  # a dict key becomes part of a macro name
NOT_FINITE = re.compile(r"(?<![A-Za-z])[-+]?(nan|inf)(?![a-wyz])")  # a number printed from NaN, inf
MAX_METRICS_BYTES = 16 << 20  # a run's metrics.json holds a few kB to a few hundred kB
MAX_TEXT = 2000  # characters of one text value: a model description or a sentence
MAX_NUMBER = 1e15  # beyond any count or measure a run reports; larger ones print as pages of digits
MAX_ITEMS = 1000  # of a list read whole (the validation speakers)
MAX_DICT_ITEMS = 64  # of a dict read one macro per item (the families of an image change)
KINDS = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}  # or a number


def read_metrics(folder: Path, figures, figures_if=None) -> tuple[Path, dict]:
    """(the run's metrics.json, its metrics), once the figures beside it are there too, and each
    figure of figures_if (name -> key) whose key is not null (a figure the run draws only then)."""
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        raise DataError(f"{path}: file not found "
                        "(expected the run's metrics; run the experiment first)")
    if (size := path.stat().st_size) > MAX_METRICS_BYTES:
        raise DataError(f"{path}: {size:,} bytes, above the {MAX_METRICS_BYTES:,} a run writes")
    try:  # a JSONDecodeError and a UnicodeDecodeError are ValueErrors
        metrics = json.loads(path.read_text(), parse_constant=not_json)
    except (ValueError, RecursionError) as error:
        raise DataError(f"{path}: expected JSON metrics, "
                        f"could not parse it: {str(error)[:200]}") from None
    if not isinstance(metrics, dict):
        raise DataError(f"{path}: expected a JSON object of metrics, "
                        f"found {type(metrics).__name__}")
    drawn = [name for name, key in (figures_if or {}).items() if metrics.get(key) is not None]
    if missing := [name for name in (*figures, *drawn) if not (Path(folder) / name).is_file()]:
        raise DataError(f"{folder}: expected the figures {', '.join(missing)} "
                        "beside metrics.json, not found")
    return path, metrics


def not_json(constant: str):
    raise ValueError(f"{constant} is not a JSON number "
                     "(a run writes null for a number it cannot compute)")


def lookup(path: Path, metrics: dict, key: str):
    """metrics at `key`, its steps joined by dots; digits index a list (data.train.shape.0)."""
    value = metrics
    for step in key.split("."):
        try:
            value = value[int(step) if step.isdigit() else step]
        except (KeyError, IndexError, TypeError):
            raise DataError(f"{path}: expected the key '{key}', not found") from None
    return value


def checked_items(value, container: type, where: str):
    """A value read one macro per item: a list of at most AXES values, or a dict of at most
    MAX_DICT_ITEMS whose keys are lower-case words joined by '-' (stroke-width)."""
    limit = AXES if container is list else MAX_DICT_ITEMS
    if not isinstance(value, container):
        found = KINDS.get(type(value), "a number")
        raise DataError(f"{where}: expected a {container.__name__}, found {found}")
    if len(value) > limit:
        raise DataError(f"{where}: expected at most {limit} items, found {len(value):,}")
    if container is dict and (bad := [item for item in value if not ITEM_KEY.fullmatch(item)]):
        raise DataError(f"{where}: has the key {bad[0][:40]!r}; expected lower-case words "
                        "joined by '-' (they become macro names)")
    return value


def unprintable(value, takes: str) -> str:
    """What keeps a value (not null) from printing as `takes`: "number", "text", "axis", "list" or
    "numbers" (a list of numbers); "" when nothing does."""
    texts = f"expected a printable text of at most {MAX_TEXT} characters, found"
    if takes in ("list", "numbers"):
        if not (isinstance(value, list) and len(value) <= MAX_ITEMS and (takes == "list" or all(
                type(item) in (int, float) and abs(item) <= MAX_NUMBER for item in value))):
            return f"expected a list of at most {MAX_ITEMS} numbers, found {str(value)[:80]}"
    elif takes == "text":
        if not isinstance(value, str):
            return f"{texts} {KINDS.get(type(value), 'a number')}"
        if len(value) > MAX_TEXT:
            return f"{texts} {len(value):,} characters"
        if not value.isprintable():
            return f"{texts} a tab, newline or other control character"
        if match := NOT_FINITE.search(value):
            return f"holds {match.group()!r}, a number the run could not compute"
    elif takes == "axis":
        if type(value) is not int or not 0 <= value < AXES:
            return f"expected an axis 0..{AXES - 1} or null, found {str(value)[:40]}"
    elif type(value) not in (int, float):
        return f"expected a number, found {KINDS.get(type(value), 'a number')}"
    elif not (math.isfinite(value) and abs(value) <= MAX_NUMBER):
        return f"expected a finite number of at most {MAX_NUMBER:g}, found {value!r}"
    return ""
