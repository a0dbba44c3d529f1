"""bench/effects.py's newer effects do to real sevens what their docstrings say, and
bench/effect_summary.py reads the benchmark's targets off a table of runs."""

import numpy as np
import pytest

from bench import effect_summary, effects
from bench.effect_benchmark import benchmark_row, print_table
from bench.effect_summary import confidently_wrong, summary
from sevens.mnist import load_mnist_sevens

NEW_EFFECTS = ["random-warp", "posterize", "solarize", "fixed-mark", "ghost", "diagonal-smear",
               "low-resolution", "turn-and-mark", "contrast-and-blur"]


@pytest.fixture(scope="module")
def sevens_uint8():
    return load_mnist_sevens()["test"][:12]


@pytest.fixture(scope="module")
def sevens(sevens_uint8):
    return sevens_uint8 / 255.0


def test_the_first_24_effects_keep_their_order_and_the_new_ones_follow():
    # Each effect draws from its own stream, but recorded results name effects in this order.
    assert list(effects.EFFECTS)[:4] == ["rotation", "translation-x", "translation-y", "shear"]
    assert list(effects.EFFECTS)[22:24] == ["mirror", "upside-down"]
    assert list(effects.EFFECTS)[24:] == NEW_EFFECTS


@pytest.mark.parametrize("effect", NEW_EFFECTS)
def test_effect_sevens_is_the_same_for_a_seed_and_stays_in_0_1(effect, sevens_uint8):
    images, values = effects.effect_sevens(effect, sevens_uint8, split=1, seed=4)
    again, values_again = effects.effect_sevens(effect, sevens_uint8, split=1, seed=4)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(values, values_again)
    assert images.min() >= 0.0 and images.max() <= 1.0
    _, _, low, high = effects.EFFECTS[effect]
    assert np.all((values >= low) & (values <= high))
    assert not np.allclose(images, sevens_uint8 / 255.0, atol=1e-3)  # every effect changes them


def test_smooth_displacement_has_the_requested_rms_and_is_smooth():
    rng = np.random.default_rng(0)
    for amplitude in (0.5, 1.0, 2.5):
        field = effects.smooth_displacement(amplitude, rng)
        assert field.shape == (2, 28, 28)
        assert np.sqrt(np.mean(np.sum(field**2, axis=0))) == pytest.approx(amplitude)
        # Smooth: neighbouring pixels move alike (a 4x4 grid of controls spans 27 pixels).
        step = np.abs(np.diff(field, axis=2)).max()
        assert step < 0.5 * amplitude


def test_random_warp_moves_each_seven_by_its_own_field(sevens):
    rng = np.random.default_rng(1)
    np.testing.assert_allclose(effects.random_warp(sevens[0], 0.0, rng), sevens[0], atol=1e-12)
    first, second = (effects.random_warp(sevens[0], 2.0, rng) for _ in range(2))
    assert np.abs(first - second).sum() > 5.0  # two draws, two different warps
    assert np.abs(first - sevens[0]).sum() > 5.0
    # A warp of ~2 pixels keeps most of the ink: it moves strokes, it does not erase them.
    assert first.sum() == pytest.approx(sevens[0].sum(), rel=0.25)


@pytest.mark.parametrize("levels", [2, 3, 4, 5])
def test_posterize_leaves_at_most_l_evenly_spaced_greys(levels, sevens):
    posterized = effects.posterize(sevens, levels + 0.3)  # the parameter is rounded
    greys = np.unique(posterized)
    assert len(greys) <= levels < len(np.unique(sevens))
    np.testing.assert_allclose(greys * (levels - 1), np.round(greys * (levels - 1)), atol=1e-12)
    assert np.abs(posterized - sevens).max() <= 0.5 / (levels - 1) + 1e-12  # the nearest level


def test_solarize_folds_greys_above_the_threshold_back(sevens):
    fold = 0.6
    solarized = effects.solarize(sevens, fold)
    below = sevens <= fold
    np.testing.assert_array_equal(solarized[below], sevens[below])
    # Not monotone: full ink (1) lands at 2t - 1 = 0.2, below a grey of 0.5 that stays 0.5.
    assert effects.solarize(np.array([1.0]), fold)[0] < effects.solarize(np.array([0.5]), fold)[0]
    darkest, mid_grey = sevens == sevens.max(), (sevens > 0.3) & (sevens < fold)
    assert solarized[darkest].max() < solarized[mid_grey].min()


def test_fixed_mark_is_the_same_mark_in_every_seven(sevens_uint8):
    images, values = effects.effect_sevens("fixed-mark", sevens_uint8, split=0, seed=2)
    np.testing.assert_array_equal(values, 1.0)
    mark = np.zeros((28, 28), dtype=bool)
    mark[effects.MARK_PIXELS] = True
    assert mark.sum() == 7 and np.all(images[:, mark] == 1.0)
    np.testing.assert_allclose(images[:, ~mark], sevens_uint8[:, ~mark] / 255.0, atol=1e-6)


def test_ghost_adds_a_shifted_copy_at_its_share(sevens):
    np.testing.assert_array_equal(effects.ghost(sevens[0], 0.0), sevens[0])
    dot = np.zeros((28, 28))
    dot[10, 12] = 1.0
    moved = effects.shifted(dot, *effects.GHOST_SHIFT)
    assert moved[13, 16] == 1.0 and moved.sum() == 1.0  # 3 rows down, 4 columns right
    ghosted = effects.ghost(sevens[1], 0.4)
    np.testing.assert_allclose(ghosted, sevens[1] + 0.4 * effects.shifted(sevens[1], 3, 4))
    assert (ghosted - sevens[1]).sum() == pytest.approx(0.4 * sevens[1][:25, :24].sum())


def test_diagonal_smear_spreads_a_dot_along_the_diagonal():
    dot = np.zeros((28, 28))
    dot[14, 14] = 1.0
    for length in (1, 4, 7):
        smeared = effects.diagonal_smear(dot, length + 0.2)
        rows, columns = np.nonzero(smeared)
        assert len(rows) == length and np.all(np.diff(rows) == 1) and np.all(rows - columns == 0)
        np.testing.assert_allclose(smeared[rows, columns], 1.0 / length)


def test_diagonal_smear_keeps_the_ink_away_from_the_border(sevens):
    # Sevens reach the 28x28 border; framed by 4 blank pixels, a 7-pixel smear (3 each way) keeps
    # all of their ink, and moves some of it.
    for seven in sevens:
        framed = np.pad(seven, 4)
        smeared = effects.diagonal_smear(framed, 7.0)
        assert smeared.sum() == pytest.approx(framed.sum())
        assert np.abs(smeared - framed).sum() > 0.2 * framed.sum()


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
def test_low_resolution_keeps_the_block_means_in_constant_blocks(factor, sevens):
    blocky = effects.low_resolution(sevens[2], factor - 0.3)  # the parameter is rounded
    for top in range(0, 28, factor):
        for left in range(0, 28, factor):
            block = blocky[top : top + factor, left : left + factor]
            original = sevens[2][top : top + factor, left : left + factor]
            np.testing.assert_allclose(block, original.mean(), atol=1e-12)
    assert blocky.sum() == pytest.approx(sevens[2].sum())


def test_combined_effects_are_their_two_changes_in_turn(sevens):
    np.testing.assert_array_equal(effects.turn_and_mark(sevens[3], 30.0),
                                  effects.fixed_mark(effects.rotation(sevens[3], 30.0)))
    np.testing.assert_allclose(effects.contrast_and_blur(sevens[3], 0.5),
                               effects.blur(effects.contrast(sevens[3], 0.5), 1.0))
    assert effects.true_families("turn-and-mark") == ("geometry", "content")
    assert effects.true_families("contrast-and-blur") == ("tone", "filter")
    assert effects.true_families("posterize") == ("tone",)
    for effect, families in effects.COMBINED.items():
        assert effects.EFFECTS[effect][0] == families[0]


def run(family, confidence="complete", abs_r=0.8, completeness=0.9, kind="k"):
    """A benchmark_row as the summary reads it."""
    best = 0.9 if abs_r is None else abs_r  # NaN: the truth is the same in every image
    return {"effect_family": family, "effect_kind": kind, "effect_confidence": confidence,
            "completeness": completeness, "named_abs_spearman": abs_r, "best_abs_spearman": best}


def hand_made_table():
    """Runs whose totals are counted by hand in test_summary_reads_the_targets_off_the_table."""
    nan = float("nan")
    return {
        "rotation": {"family": "geometry", "runs": [
            run("geometry", abs_r=0.93), run("geometry", abs_r=0.94),
            run("geometry", "partial", 0.91)]},
        "turn-and-mark": {"family": "geometry", "runs": [  # combined: content is right too
            run("content", abs_r=0.5, completeness=0.4), run("geometry", "partial", 0.8, 0.6),
            run("tone", abs_r=0.6, completeness=None)]},  # wrong and unhedged
        "gamma": {"family": "tone", "runs": [
            run("filter", "partial", 0.2), run("unknown", "unknown", None),  # hedged; no axis
            run("tone", abs_r=0.75)]},
        "fixed-mark": {"family": "content", "runs": [  # a truth that never varies: |r| is NaN
            run("content", abs_r=nan), run("content", None, nan, None)]},
        "blur": {"family": "filter", "runs": [{"name": "vae_blur_0", "error": ["died"]},
                                              run("filter", abs_r=0.71)]},
        "null": {"family": "none", "runs": [
            run("none", None, None, None), run("none", abs_r=None),  # no truth: no |r|
            run("unknown", "unknown", None)]},
        "default data (rotation)": {"family": "geometry", "runs": [
            run("geometry", abs_r=0.95), run("geometry", abs_r=0.89), run("geometry", abs_r=None)]},
        "default data, plain VAE": {"family": "geometry", "runs": [run("tone")]},  # not judged
    }


def test_summary_reads_the_targets_off_the_table():
    totals = summary(hand_made_table())["totals"]
    assert totals["family_right_every_seed"] == {"count": 2, "of": 5, "share": 0.4}
    # turn-and-mark's tone and the null's unknown, of 15 answers (5 effects and the null).
    assert totals["confidently_wrong_runs"] == {"count": 2, "of": 15, "share": 0.133}
    assert totals["right_and_complete"]["count"] == 1  # rotation only: 2 of 3 complete
    assert totals["nulls_say_none"] is False
    # Medians 0.93 (rotation), 0.6, 0.2, 0.71 (blur); fixed-mark has none.
    assert totals["named_axis_at_target"] == {"count": 2, "of": 4, "share": 0.5}
    assert totals["rotation_at_target"] == {"count": 1, "of": 3, "share": 0.333}
    assert totals["errors"] == 1


def test_summary_per_effect_counts_both_families_of_a_combined_effect():
    found = summary(hand_made_table())["effects"]
    combined = found["turn-and-mark"]
    assert combined["families"] == ["geometry", "content"] and combined["named_right"] == 2
    assert not combined["right_every_seed"] and combined["confidently_wrong"] == 1
    assert combined["confidence"] == {"complete": 2, "partial": 1, "unknown": 0, "absent": 0}
    assert combined["median_completeness"] == pytest.approx(0.5)
    assert combined["named_abs_spearman"] == {"min": 0.5, "median": 0.6, "max": 0.8}
    assert combined["named"] == ["content/k", "geometry/k", "tone/k"]
    mark = found["fixed-mark"]
    assert mark["right_every_seed"] and mark["named_abs_spearman"] is None
    assert mark["confidence"]["absent"] == 1
    assert found["blur"]["errors"] == 1 and not found["blur"]["right_every_seed"]
    assert found["gamma"]["named_abs_spearman"]["median"] == pytest.approx(0.2)  # no axis: 0


def test_only_an_unhedged_wrong_family_counts_as_confidently_wrong():
    assert confidently_wrong(run("tone"), ("geometry",))
    assert confidently_wrong(run("tone", None), ("geometry",))  # an older run: no confidence
    assert not confidently_wrong(run("tone", "partial"), ("geometry",))
    assert not confidently_wrong(run("unknown", "complete"), ("geometry",))
    assert not confidently_wrong(run("content"), ("geometry", "content"))
    assert confidently_wrong(run("unknown", "unknown"), ("none",))  # a null must say none
    assert not confidently_wrong(run("none", None), ("none",))


def metrics_of_a_run(**newer):
    return {"effect_dimension": 1, "best_spearman_dimension": 1, "seconds": 150.04,
            "effect_dimension_abs_spearman": 0.9, "best_abs_spearman": 0.9,
            "axis_scores": [0.1, 0.9, 0.2], "effect_family": "geometry",
            "effect_kind": "rotation", "critic_accuracy": 0.8, "effect_sentence": "turned",
            **newer}


def test_benchmark_row_records_the_confidence_and_reads_older_metrics():
    newer = {"effect_confidence": "partial", "completeness": 0.55,
             "replay_critic_accuracy": 0.71, "replay_critic_z": 3.2}
    row = benchmark_row("vae_rotation_0", 0, 151.0, metrics_of_a_run(**newer))
    assert {key: row[key] for key in newer} == newer
    assert row["axis_right"] and row["run_seconds"] == 150.0
    older = benchmark_row("vae_rotation_0", 0, None, metrics_of_a_run())
    assert all(older[key] is None for key in newer)


def test_print_table_shows_each_effect_and_the_totals(capsys):
    table = hand_made_table()
    print_table(table, summary(table))
    lines = capsys.readouterr().out.splitlines()
    combined = next(line for line in lines if line.startswith("turn-and-mark"))
    assert "geometry+content" in combined and " 2/3 " in combined and " no " in combined
    assert any("effects right at every seed: 2/5 (40%)" in line for line in lines)


def test_an_undefined_correlation_read_back_from_json_stays_undefined():
    """metrics.json writes NaN as null: with no axis' |r| defined either (a constant truth) the
    named axis has none; with one, an unnamed axis scores 0."""
    assert effect_summary.named_correlation({"named_abs_spearman": None,
                                             "best_abs_spearman": None}) is None
    assert effect_summary.named_correlation({"named_abs_spearman": None,
                                             "best_abs_spearman": 0.4}) == 0.0
