"""What the Problem 2 benchmark's table says against its targets (`bench/effect_benchmark.py`):
per effect, whether the family is right at every seed, how sure the runs were and how well the
named axis follows the truth; in total, the shares the targets are read from.

The table: {entry: {"family": the true family, "runs": [benchmark_row, ...]}}, one entry per
effect of bench/effects.py, plus NULL (untouched sevens: the answer is `none`), DEFAULT_ROTATION
(the default data) and DEFAULT_PLAIN (the plain VAE on it). A run with "error" gave no answer.
"""

from __future__ import annotations

import math
import statistics

from bench.effects import COMBINED

NULL = "null"
DEFAULT_ROTATION = "default data (rotation)"
DEFAULT_PLAIN = "default data, plain VAE"
NOT_EFFECTS = (NULL, DEFAULT_ROTATION, DEFAULT_PLAIN)
CONFIDENCES = ("complete", "partial", "unknown", "absent")  # absent: an older or `none` answer
HEDGED = ("partial", "unknown")  # confidences that do not claim the family named
AXIS_TARGET = 0.70  # the named axis's |Spearman| with the truth, median over seeds
ROTATION_TARGET = 0.90  # the same on the default data, per seed


def right_families(entry_name: str, entry: dict) -> tuple[str, ...]:
    """Either family of a combined effect is right; otherwise the entry's own."""
    return COMBINED.get(entry_name, (entry["family"],))


def answered(entry: dict) -> list[dict]:
    return [row for row in entry["runs"] if "error" not in row]


def confidently_wrong(row: dict, families: tuple[str, ...]) -> bool:
    """A wrong family named without a hedge. For an effect: a family (not `unknown`) that is not
    right, its confidence `complete` or not recorded. For the null run (right: `none`) every other
    answer is wrong, `unknown` included: the sevens are untouched and the run must say so."""
    named = row["effect_family"]
    if named in families:
        return False
    if families == ("none",):
        return True
    return named != "unknown" and row.get("effect_confidence") not in HEDGED


def named_correlation(row: dict):
    """The named axis's |r| with the truth: 0 where no axis is named, None where it is undefined
    (a truth that is the same in every image, as fixed-mark's, gives NaN)."""
    value = row.get("named_abs_spearman")
    if value is None:  # metrics.json writes NaN as null: undefined when no axis has a |r| either
        best = row.get("best_abs_spearman")
        return None if best is None or math.isnan(best) else 0.0
    return None if math.isnan(value) else value


def correlation_range(rows: list[dict]):
    values = [value for value in map(named_correlation, rows) if value is not None]
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def effect_summary(entry_name: str, entry: dict) -> dict:
    """One entry's answers: the runs named right, at every seed or not, their confidences, the
    median completeness, the named axis's |r| and the families/kinds named."""
    families = right_families(entry_name, entry)
    rows = answered(entry)
    right = [row for row in rows if row["effect_family"] in families]
    confidences = [row.get("effect_confidence") or "absent" for row in rows]
    completeness = [row["completeness"] for row in rows if row.get("completeness") is not None]
    complete_right = sum(row.get("effect_confidence") == "complete" for row in right)
    return {
        "families": list(families), "runs": len(entry["runs"]),
        "errors": len(entry["runs"]) - len(rows), "named_right": len(right),
        "right_every_seed": bool(entry["runs"]) and len(right) == len(entry["runs"]),
        "confidence": {name: confidences.count(name) for name in CONFIDENCES},
        "right_and_complete": complete_right,
        "right_and_complete_majority": complete_right > len(entry["runs"]) / 2,
        "median_completeness": statistics.median(completeness) if completeness else None,
        "confidently_wrong": sum(confidently_wrong(row, families) for row in rows),
        "named_abs_spearman": correlation_range(rows),
        "named": sorted({f"{row['effect_family']}/{row['effect_kind']}" for row in rows}),
    }


def share(count: int, of: int) -> dict:
    return {"count": count, "of": of, "share": round(count / of, 3) if of else None}


def totals(per_entry: dict, table: dict) -> dict:
    """The targets: over the effects (not the null or the default data), the share right at every
    seed, right and complete at most seeds, with the named axis's median |r| >= AXIS_TARGET (of
    those whose truth varies); over the runs of the effects and the null, the share that names a
    wrong family unhedged; the null's `none` at every seed; the rotation's |r| >= ROTATION_TARGET
    per seed."""
    effects = {name: found for name, found in per_entry.items() if name not in NOT_EFFECTS}
    scored = [found["named_abs_spearman"] for found in effects.values()
              if found["named_abs_spearman"] is not None]
    judged = [name for name in per_entry if name not in (DEFAULT_ROTATION, DEFAULT_PLAIN)]
    answers = sum(per_entry[name]["runs"] - per_entry[name]["errors"] for name in judged)
    rotation = table.get(DEFAULT_ROTATION, {"runs": []})
    turns = [named_correlation(row) for row in answered(rotation)]
    return {
        "family_right_every_seed": share(
            sum(found["right_every_seed"] for found in effects.values()), len(effects)),
        "confidently_wrong_runs": share(
            sum(per_entry[name]["confidently_wrong"] for name in judged), answers),
        "right_and_complete": share(
            sum(found["right_and_complete_majority"] for found in effects.values()), len(effects)),
        "nulls_say_none": per_entry[NULL]["right_every_seed"] if NULL in per_entry else None,
        "named_axis_at_target": share(sum(r["median"] >= AXIS_TARGET for r in scored), len(scored)),
        "rotation_at_target": share(sum(r is not None and r >= ROTATION_TARGET for r in turns),
                                    len(rotation["runs"])),
        "errors": sum(found["errors"] for found in per_entry.values()),
    }


def summary(table: dict) -> dict:
    """{"effects": effect_summary of each entry, "totals": the shares the targets are read from}."""
    per_entry = {name: effect_summary(name, entry) for name, entry in table.items()}
    return {"effects": per_entry, "totals": totals(per_entry, table)}
