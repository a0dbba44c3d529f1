"""sevens/paths.py, image_changes.py, candidates.py and replay.py: every path leaves a seven as it
is at strength 0 and does what it says; strengths are read back; a known change replayed on clean
sevens is complete against itself and not against another change of its family; and the fresh
critic is at chance on two halves of clean sevens."""

import numpy as np
import pytest
import scipy.ndimage
import torch

from bench import effects
from sevens import candidates, image_changes, paths
from sevens.critic import DIFFER_Z, two_sample_test
from sevens.mnist import load_mnist_sevens
from sevens.replay import (baseline_test, confidence, judge, path_reader, percentiles,
                           read_strengths, replay, simplest_complete, visible)

torch.set_num_threads(1)
JUDGED_SEVENS = 1536  # of each set: the judge's critic at a test's cost


@pytest.fixture(scope="module")
def sevens():
    """MNIST's training sevens in a random order: its file holds writers in runs, and two runs of
    it differ to a critic."""
    train = load_mnist_sevens()["train"]
    return (train[np.random.default_rng(0).permutation(len(train))] / 255.0).astype(np.float32)


def every_path(seed=0):
    rotation = torch.tensor([[[0.9, -0.1], [0.1, 0.9]]] * 2)
    made = [paths.kind_path(kind, member) for members in candidates.FAMILY_KINDS.values()
            for kind, member in members]
    made += [paths.affine_path(rotation, torch.ones(2, 2)),
             paths.affine_path(rotation, torch.ones(2, 2), 0.1 * torch.ones(2, 2, 4, 4)),
             paths.curve_path("tone", "grey-level-curve", np.ones((2, 17))),
             paths.content_path(np.ones((2, 28, 28))),
             image_changes.mark_path(np.ones((28, 28)), np.ones((28, 28))),
             image_changes.square_map_path("mirror-left-right"), image_changes.ghost_path((4, 3)),
             image_changes.random_warp_path(seed),
             image_changes.region_path(np.linspace(0, 1, 784).reshape(28, 28), np.ones((28, 28))),
             image_changes.region_path(np.linspace(0, 1, 784).reshape(28, 28), None)]
    made += [image_changes.smear_path(degrees) for degrees in image_changes.SMEAR_DIRECTIONS]
    made += [image_changes.resolution_path(mode) for mode in ("blocks", "smooth")]
    made += [image_changes.posterize_path()]
    return made + [image_changes.noise_path(kind, seed) for kind in image_changes.NOISE_REACH]


@pytest.mark.parametrize("path", every_path(), ids=lambda path: path.kind)
def test_every_path_leaves_a_seven_as_it_is_at_strength_zero(sevens, path):
    images = sevens[:16]
    kept = path(images, np.zeros(len(images)) if 0.0 in path.grid else np.ones(len(images)))
    assert np.abs(kept - images).max() < 1e-5


def test_the_paths_on_the_images_do_what_they_say(sevens):
    images = sevens[:8]
    ghost = image_changes.ghost_path((4, 3))(images, np.full(8, 0.5))
    shifted = scipy.ndimage.shift(images, (0, 3, 4), order=0, cval=0.0)
    assert np.allclose(ghost, np.clip(images + 0.5 * shifted, 0, 1), atol=1e-6)
    blocky = image_changes.resolution_path("blocks")(images, np.full(8, 2.0))
    assert np.allclose(blocky[:, ::2, ::2], blocky[:, 1::2, 1::2])
    assert np.allclose(blocky[:, ::2, ::2], images.reshape(8, 14, 2, 14, 2).mean((2, 4)),
                       atol=1e-6)
    dropped = image_changes.noise_path("dropout", 0)(np.ones((200, 28, 28), np.float32),
                                                     np.full(200, 0.3))
    assert np.mean(dropped == 0) == pytest.approx(0.3, abs=0.01)
    noisy = image_changes.noise_path("gaussian", 0)(np.full((200, 28, 28), 0.5, np.float32),
                                                    np.full(200, 0.1))
    assert noisy.std() == pytest.approx(0.1, rel=0.05)
    smeared = image_changes.smear_path(0.0)(images, np.full(8, 6.0))  # sideways: rows keep ink
    assert np.allclose(smeared.sum(2)[:, 4:24], images.sum(2)[:, 4:24], rtol=0.05, atol=0.05)
    for levels in (2, 3, 5):  # bench/effects.py's posterize, by NumPy
        merged = image_changes.posterize_path()(images, np.full(8, 1.0 / (levels - 1)))
        assert np.allclose(merged, effects.posterize(images, levels), atol=1e-6)


def test_the_image_candidates_find_a_fixed_mark_and_a_shifted_copy(sevens):
    poor, clean = sevens[:1500], sevens[1500:3000]
    marked = np.maximum(poor, np.eye(28, dtype=np.float32)[::-1] * (np.arange(28) < 6))
    mark, erased = candidates.fixed_mark(marked, clean)
    drawn = np.eye(28)[::-1] * (np.arange(28) < 6)
    assert np.array_equal(mark > 0, drawn > 0) and not erased.any()
    ghosted = np.clip(poor + 0.4 * scipy.ndimage.shift(poor, (0, 3, 4), order=0), 0, 1)
    assert candidates.ghost_shift(ghosted, clean) == (4, 3)


def test_a_smear_is_a_box_of_whole_taps_either_way_along_its_line(sevens):
    """Against SciPy: a sideways box (uniform_filter1d) and a down-right diagonal one (convolve with
    eye(L) / L); an even box's centre lies half a pixel to one side, so each is one of the two ways
    along its line."""
    images = sevens[:8]
    for taps in (2, 3, 4, 5):
        sideways = scipy.ndimage.uniform_filter1d(images, taps, axis=2, mode="constant")
        smeared = image_changes.smear_path(180.0)(images, np.full(8, taps - 1.0))
        assert np.allclose(smeared, sideways, atol=1e-6)
        diagonal = np.stack([scipy.ndimage.convolve(image, np.eye(taps) / taps, mode="constant")
                             for image in images])
        smeared = image_changes.smear_path(315.0)(images, np.full(8, taps - 1.0))
        assert np.allclose(smeared, diagonal, atol=1e-6)


def test_a_growing_region_and_a_mark_of_varying_darkness_are_found_and_replayed(sevens):
    """A blob of random radius (pixels nearer the corner inked more often) and a bar of random
    darkness: the candidates' region grows from the corner, their mark is the bar at its darkest,
    and each replayed at the poor sevens' own strengths is complete."""
    rng = np.random.default_rng(1)
    poor, clean = sevens[:1536].copy(), sevens[1536:3072]
    rows, columns = np.mgrid[0:28, 0:28]
    radii = rng.uniform(0, 6, len(poor))
    distance = np.hypot(rows - 4.0, columns - 4.0)
    blobbed = np.maximum(poor, (distance[None] <= radii[:, None, None]).astype(np.float32))
    region = next(path for path in candidates.changed_regions(blobbed, clean)
                  if path.apply.__qualname__.startswith("region_path"))
    grown = region(np.zeros((3, 28, 28), np.float32), np.array([0.2, 0.5, 0.9]))
    assert grown[0].sum() < grown[1].sum() < grown[2].sum()
    assert grown[2][2:7, 2:7].all() and not grown[2][12:].any()
    darkness = rng.uniform(0, 1, len(poor)).astype(np.float32)
    bar = np.zeros((28, 28), np.float32)
    bar[14:16, 8:21] = 1.0
    barred = np.maximum(poor, darkness[:, None, None] * bar)
    mark = next(path for path in candidates.changed_regions(barred, clean)
                if path.apply.__qualname__.startswith("mark_path"))
    drawn = mark(np.zeros((1, 28, 28), np.float32), np.ones(1))[0]
    assert drawn[14:16, 8:21].min() > 0.9 and drawn.sum() < 1.2 * bar.sum()
    baseline = baseline_test(barred, clean, 0)
    replayed = mark(clean, darkness[rng.permutation(len(clean))] / drawn[14:16, 8:21].mean())
    assert confidence(judge(barred, replayed, baseline, 0)) == "complete"


def test_a_paths_own_reader_reads_a_blur_back(sevens):
    """Gaussian blurs of known sigma: the blur path's own reader (fitted on other sevens) orders
    them as their sigmas are."""
    path = paths.kind_path("blur")
    sigmas = np.random.default_rng(2).uniform(0.0, 2.0, 300)
    read = path_reader(path, sevens[1000:2024], np.random.default_rng(3))
    readings = read(path(sevens[:300], sigmas))
    assert np.corrcoef(readings, sigmas)[0, 1] > 0.9


def test_a_blur_after_a_contrast_is_read_back_at_the_judges_8_bits(sevens):
    """Ink 0.2-1.0x as dark, then SciPy's Gaussian blur of 1 pixel (no tails beyond 4 sigma): the
    second change's blur after the contrast, read by its own reader on 8-bit greys, is 1 pixel
    (at the unrounded greys, where the path's 13-pixel kernel leaves tails of 1e-6 that SciPy's
    lacks, the same reader reads 0.5 here, and 0.62 at seed 2 of the benchmark's
    contrast-and-blur)."""
    from sevens.second_change import composed_path
    factors = np.random.default_rng(5).uniform(0.2, 1.0, 512)
    poor = visible(np.stack([scipy.ndimage.gaussian_filter(seven * factor, 1.0)
                             for seven, factor in zip(sevens[:512].astype(np.float64), factors)]))
    contrast, blur = paths.kind_path("contrast"), paths.kind_path("blur")
    grid = contrast.grid
    made = (grid >= np.log(0.2)) & (grid <= 0)  # the factors' logs, about uniform
    spread = {"grid": grid, "weights": made / made.sum()}
    both = composed_path(contrast, spread, blur, False, 0)
    read = path_reader(both, sevens[1000:2024], np.random.default_rng(3))
    strengths = read_strengths(both, read, sevens[600:728], read(poor))
    assert percentiles(strengths, (50,))[0] == pytest.approx(1.0, abs=0.2)


def test_strengths_are_read_back_from_a_reader(sevens):
    """Ink darker or fainter by a known factor, read by the darkest grey (about 1 in every clean
    seven): the contrast path's strengths are the factors' logs."""
    factors = np.random.default_rng(0).uniform(0.3, 1.0, 300)
    poor = sevens[:300] * factors[:, None, None]
    path = paths.kind_path("contrast")

    def ink(images):
        return images.max((1, 2))

    strengths = read_strengths(path, ink, sevens[300:428], ink(poor))
    step = path.grid[1] - path.grid[0]
    assert np.median(np.abs(strengths["modes"] - np.log(factors))) < step
    assert np.corrcoef(strengths["modes"], np.log(factors))[0, 1] > 0.95
    spread = percentiles(strengths, (5, 50, 95))  # as the factors are: uniform in [0.3, 1]
    assert spread == pytest.approx(np.log([0.335, 0.65, 0.965]), abs=step + 0.02)


REPLAYS = [  # (effect of bench/effects.py, its path, value -> the path's strength, another path)
    ("rotation", paths.kind_path("rotation"), lambda v: v, paths.kind_path("shear")),
    ("gaussian-noise", image_changes.noise_path("gaussian", 1), lambda v: v,
     image_changes.noise_path("impulse", 1)),
    ("contrast", paths.kind_path("contrast"), np.log, paths.kind_path("gamma")),
    ("blur", paths.kind_path("blur"), lambda v: v, image_changes.smear_path(0.0)),
    ("posterize", image_changes.posterize_path(),
     lambda levels: 1.0 / (np.maximum(2, np.round(levels)) - 1), paths.kind_path("gamma")),
]


@pytest.mark.parametrize("effect, path, strength, other", REPLAYS, ids=[r[0] for r in REPLAYS])
def test_a_known_change_replayed_is_complete_against_itself_and_not_against_another(
        sevens, effect, path, strength, other):
    poor, values = effects.effect_sevens(effect, (sevens[:JUDGED_SEVENS] * 255).round(), 0, 0)
    clean = sevens[JUDGED_SEVENS : 2 * JUDGED_SEVENS]
    baseline = baseline_test(poor, clean, seed=3)
    assert baseline["critic_z"] >= DIFFER_Z  # there is a change to replay
    rng = np.random.default_rng(4)
    drawn = np.sort(strength(values))  # a grid of the true strengths, each equally likely
    spread = {"grid": drawn, "weights": np.full(len(drawn), 1.0 / len(drawn))}
    itself = judge(poor, replay(path, spread, clean, rng)[0], baseline, seed=3)
    assert confidence(itself) == "complete", itself
    # The other path at the strength whose moments come nearest, its best chance.
    others = [judge(poor, other(clean, np.full(len(clean), value)), baseline, seed=3)
              for value in other.grid[:: len(other.grid) // 4] if value != 0]
    assert "complete" not in [confidence(entry) for entry in others], others


def test_the_fresh_critic_is_at_chance_on_two_halves_of_clean_sevens(sevens):
    halves = sevens[:JUDGED_SEVENS], sevens[JUDGED_SEVENS : 2 * JUDGED_SEVENS]
    test = two_sample_test(*halves, np.random.default_rng(0))
    assert abs(test["critic_z"]) < DIFFER_Z
    assert test["critic_accuracy"] == pytest.approx(0.5, abs=0.04)


def test_the_simplest_complete_candidate_is_named():
    simple, rich = paths.kind_path("rotation"), paths.affine_path(torch.eye(2).expand(2, 2, 2),
                                                                  torch.zeros(2, 2))
    judged = [{"path": rich, "completeness": 0.99, "replay_critic_z": 2.0},
              {"path": simple, "completeness": 0.9, "replay_critic_z": 6.0},
              {"path": paths.kind_path("shear"), "completeness": 0.5, "replay_critic_z": 9.0}]
    assert simplest_complete(judged)["path"] is simple
    assert simplest_complete(judged[2:])["path"].kind == "shear"  # none complete: the most


def test_a_grey_level_change_is_a_candidate_on_the_images_only_when_the_ranks_hide_the_change(
        sevens):
    poor, clean = sevens[:300], sevens[300:600]
    evidence = {"square_map": "mirror-left-right", "critic_z": 40.0}
    for ranked_z, tone in ((30.0, False), (2.0, True)):
        made = candidates.image_paths({**evidence, "ranked_critic_z": ranked_z}, poor, clean, 0)
        assert any(path.family == "tone" for path in made) == tone
        assert any(path.family == "noise" for path in made)
    # Greys merged into few: a candidate whatever the ranks see (a merge makes ties of them).
    merged = image_changes.posterize_path()(poor, np.full(len(poor), 0.5))
    made = candidates.image_paths({**evidence, "ranked_critic_z": 30.0}, merged, clean, 0)
    assert [path.kind for path in made if path.family == "tone"] == ["posterize"]


def test_the_second_changes_judged_are_the_nearest_of_each_family():
    """Three marks built from the mean difference are nearest by the moments; with two per family,
    the nearest blur comes before the third mark, the families in the order of their nearest."""
    from sevens.replay import unique_paths
    mark, region, ink = (image_changes.mark_path(np.ones((28, 28)), np.zeros((28, 28)))
                         for _ in range(3))
    blur = paths.kind_path("blur")
    ranked = [{"path": path, "distance": d} for path, d in (
        (mark, 0.02), (region, 0.03), (mark, 0.04), (ink, 0.05), (blur, 0.2))]
    assert [e["path"] for e in unique_paths(ranked)] == [mark, region, ink, blur]
    assert [e["path"] for e in unique_paths(ranked, per_family=1)] == [mark, blur]
    assert [e["path"] for e in unique_paths(ranked, per_family=2)] == [mark, region, blur]


def test_the_descriptors_full_fit_brings_its_familys_best_kind_to_the_judge():
    """A non-rigid warp named along the axis: the one-parameter geometry kind that explains most
    (a horizontal stretch) is heard too, whatever the moments say; a named kind alone; no axis,
    none."""
    found = {"kinds": {"scale-x": 0.76, "scale": 0.28, "rotation": 0.05}}
    field = paths.affine_path(torch.eye(2).repeat(2, 1, 1), torch.zeros(2, 2),
                              torch.zeros(2, 2, 4, 4))
    made = [field, paths.kind_path("scale"), paths.kind_path("scale-x"), paths.kind_path("blur")]
    assert candidates.own_answers(made, ("geometry", "non-rigid"), found) == [made[0], made[2]]
    turn = [paths.kind_path("rotation"), field]
    assert candidates.own_answers(turn, ("geometry", "rotation"), found) == turn[:1]
    assert candidates.own_answers(made, ("geometry", "non-rigid"), None) == []


def test_the_descriptors_name_stands_unknown_when_the_judge_cannot_see_the_change(sevens):
    """A change the first critic saw but the judge's, on its fewer sevens, does not (here: none at
    all): nothing is replayed, the descriptors' family stands with confidence unknown."""
    from sevens.replayed_answer import replayed_answer
    poor, clean = sevens[:600], sevens[600:1800]
    result = {"effect_family": "tone", "effect_kind": "gamma", "effect_sentence": "tone (gamma)"}
    evidence = {"images_differ": True, "critic_z": 6.0, "ranked_critic_z": 0.0,
                "square_map": "mirror-left-right", "fitting_clean": clean[:600],
                "held_out_clean": clean[600:], "change_place": "rows 0-27, columns 0-27"}
    answer, figure = replayed_answer(result, None, evidence, poor, {}, 0,
                                     np.random.default_rng(0))
    assert (answer["effect_family"], answer["effect_kind"]) == ("tone", "gamma")
    assert answer["effect_confidence"] == "unknown" and answer["completeness"] is None
    assert "no replay can be judged" in answer["effect_sentence"] and figure is None


def test_a_second_change_within_the_critics_noise_is_not_named():
    """The default data's turn alone: partial (0.82, z 5.1); with a contrast of 1.00x after it,
    0.85 at z 4.0 (complete by the threshold, but a critic's noise): not named. A mark alone (z
    40) and with a turn before it (z 3): named."""
    from sevens.second_change import adds_to
    turn = {"completeness": 0.817, "replay_critic_z": 5.08}
    assert confidence(turn) == "partial"
    no_op = {"completeness": 0.845, "replay_critic_z": 4.03}
    assert confidence(no_op) == "complete" and not adds_to(turn, no_op)
    # A soft threshold's grey map (0.64, z 10.0), and with 0% of impulse noise after it: 0.60 at
    # z 2.7, a critic that did not learn the faint change this time.
    grey_map, with_nothing = ({"completeness": share, "replay_critic_z": z}
                              for share, z in ((0.64, 10.0), (0.60, 2.7)))
    assert not adds_to(grey_map, with_nothing)
    mark, turn_and_mark = ({"completeness": share, "replay_critic_z": z}
                           for share, z in ((0.08, 40.0), (0.92, 3.0)))
    assert adds_to(mark, turn_and_mark) and not adds_to(turn_and_mark, mark)


def test_a_second_change_is_also_tried_on_the_descriptors_answer_when_nothing_is_partial():
    """Contrast then a blur: each alone leaves a critic at 100%, so the best single replay (a
    kernel here, completeness 0.01) is a guess; the descriptors' contrast, judged at 0.00, is a
    first change too. Not when the best is partial, nor when it is the descriptors' own."""
    from sevens.replayed_answer import first_changes
    contrast, kernel = paths.kind_path("contrast"), paths.kind_path("blur")
    judged = [{"path": contrast, "completeness": share, "replay_critic_z": 50.0}
              for share in (0.0, -0.01)] + [{"path": kernel, "completeness": 0.01,
                                             "replay_critic_z": 48.7}]
    unread = {"path": contrast}  # read by a reader, not judged
    entries = judged + [unread]
    assert first_changes(judged[2], entries, [contrast], None) == [judged[2], judged[0]]
    assert first_changes(judged[0], entries, [contrast], None) == [judged[0]]
    partial = {**judged[2], "completeness": 0.6, "replay_critic_z": 10.0}
    assert first_changes(partial, entries, [contrast], None) == [partial]
    assert first_changes(judged[2], entries, [], None) == [judged[2]]


def test_the_descriptors_answer_read_along_the_axis_is_a_first_change_even_when_named():
    """Contrast then a blur (seed 2): the contrast read by its own reader on the blurred sevens is
    named (0.006, its strengths wrong: 0.14 to 4.06x); the same contrast read along the axis (0.002,
    0.22 to 0.90x as made) is a first change too. Not when the axis read is the named entry."""
    from sevens.replayed_answer import first_changes
    contrast = paths.kind_path("contrast")
    by_path, along = ({"path": contrast, "reader": reader, "completeness": share,
                       "replay_critic_z": 50.0} for reader, share in (("path", 0.006),
                                                                       ("axis", 0.002)))
    entries = [by_path, along]
    assert first_changes(by_path, entries, [contrast], None) == [by_path, along]
    assert first_changes(along, entries, [contrast], None) == [along]
    assert first_changes(by_path, entries, [], None) == [by_path]


def test_a_second_change_is_also_tried_on_the_axis_family_read_along_the_axis():
    """A turn and a fixed mark, the descriptors' answer another family (noise): the mark, read by
    the critic (0.12), is the best single replay; the turn read along the axis (0.00, the mark
    left out) is a first change too, since geometry explains most along the axis, not the turn read
    by another reader; the mark read along the axis is the named path itself, not tried again."""
    from sevens.replayed_answer import first_changes
    turn, mark = paths.kind_path("rotation"), paths.content_path(np.ones((1, 28, 28)), True)
    entries = [{"path": path, "reader": reader, "completeness": share, "replay_critic_z": 40.0}
               for path, reader, share in ((turn, "axis", 0.0), (turn, "critic", -0.02),
                                           (mark, "critic", 0.12), (mark, "axis", 0.0))]
    found = {"fractions": {"geometry": 0.75, "content": 0.66, "tone": 0.2}}
    assert first_changes(entries[2], entries, [], found) == [entries[2], entries[0]]
    found["fractions"]["content"] = 0.8  # the axis' family is the named entry's own
    assert first_changes(entries[2], entries, [], found) == [entries[2]]
    assert first_changes(entries[2], entries, [], None) == [entries[2]]


def test_two_changes_are_named_when_one_alone_is_not_complete(sevens):
    """A turn and then a fixed mark: the mark alone leaves the turn (unknown); a second change made
    on top of it names the turn, done before the mark, and the two together remove most of what a
    critic sees."""
    from sevens.second_change import composed_path, with_second_change
    rng = np.random.default_rng(4)
    turns = rng.uniform(-30, 30, JUDGED_SEVENS)
    rotation = paths.kind_path("rotation")
    mark = np.zeros((28, 28), np.float32)
    mark[22:24, 20:26] = 1.0
    marked = image_changes.mark_path(mark, np.zeros_like(mark))
    poor = marked(rotation(sevens[:JUDGED_SEVENS], turns), np.ones(JUDGED_SEVENS))
    clean = sevens[JUDGED_SEVENS:2 * JUDGED_SEVENS]
    fitting = sevens[2 * JUDGED_SEVENS:2 * JUDGED_SEVENS + 1200]
    on_mark = {"grid": marked.grid, "weights": np.eye(len(marked.grid))[
        np.abs(marked.grid - 1.0).argmin()]}  # every seven marked at full darkness
    both = composed_path(marked, on_mark, rotation, True, 0)(clean[:4], np.full(4, 20.0))
    turned = rotation(clean[:4], np.full(4, 20.0))
    assert np.allclose(both, visible(marked(turned, np.ones(4))))  # at the judge's 8 bits
    baseline = baseline_test(poor, clean, 0)
    sets = {"poor": poor, "clean": clean, "baseline": baseline, "calibration": fitting[:128],
            "regression": fitting[128:]}
    alone = {"path": marked, "strengths": on_mark,
             **judge(poor, marked(clean, np.ones(len(clean))), baseline, 0)}
    assert confidence(alone) == "unknown"
    evidence = {"fitting_clean": fitting, "critic_z": 50.0, "ranked_critic_z": 50.0,
                "square_map": "mirror-left-right"}
    named, _ = with_second_change(alone, None, ("content", "ink-added"), evidence, poor, sets, 0,
                                  rng)
    assert named["first"] is alone and named["second_first"]
    assert (named["path"].family, named["path"].kind) == ("geometry", "rotation")
    assert named["completeness"] >= 0.7  # 0.79 at these draws: strengths read by the turn's reader
