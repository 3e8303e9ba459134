import numpy as np

from unlearn.data import synthetic


def test_pool_is_deterministic_in_seed():
    combos = synthetic.training_combos()[:20]
    a = synthetic.sample_pool(combos, 2, seed=7)
    b = synthetic.sample_pool(combos, 2, seed=7)
    c = synthetic.sample_pool(combos, 2, seed=8)
    assert np.array_equal(a.images, b.images)
    assert np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.images, c.images)


def test_pretraining_batches_are_deterministic():
    x1, c1, m1 = synthetic.pretraining_batch(16, np.random.default_rng(3))
    x2, c2, m2 = synthetic.pretraining_batch(16, np.random.default_rng(3))
    assert np.array_equal(x1, x2) and c1 == c2 and np.array_equal(m1, m2)


def test_heldout_parts_never_appear_in_pretraining():
    names = [(synthetic.SHAPES[s], list(synthetic.COLOURS)[c], synthetic.STYLES[t])
             for s, c, t in synthetic.training_combos()]
    pairs = {(s, c) for s, c, _ in names}
    assert not pairs & set(synthetic.HELDOUT_PAIRS)
    assert synthetic.HELDOUT_STYLE not in {t for _, _, t in names}
    assert not {c for _, c, _ in names} & set(synthetic.HELDOUT_COLOURS)
    for suite in synthetic.ZEROSHOT_SUITES:
        assert not set(synthetic.suite_combos(suite)) & set(synthetic.training_combos())


def test_caption_matches_mark_every_fitting_caption():
    rng = np.random.default_rng(0)
    _, captions, matches = synthetic.pretraining_batch(64, rng)
    assert matches.diagonal().all()  # each caption describes its own image
    for i, j in zip(*np.nonzero(matches)):
        # a caption that fits image i names image i's shape
        assert captions[j].split()[-1] == captions[i].split()[-1]


def test_images_show_the_shape():
    # the shape covers a real part of the image and the colour is the requested one
    pool = synthetic.sample_pool([(0, 0, 0)], 4, seed=1)  # solid red circles
    red = (pool.images[:, 0] > 180) & (pool.images[:, 1] < 90) & (pool.images[:, 2] < 90)
    assert (red.mean(axis=(1, 2)) > 0.15).all()
