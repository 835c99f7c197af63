"""Tests for nn.data: toy geometry derived by hand, splitting, batching, scaling, real images."""

import math
import random
import sys
from collections import Counter

import pytest

from nn.data import (
    batches,
    load_digits,
    load_faces,
    make_circles,
    make_moons,
    make_spirals,
    standardize,
    train_test_split,
)

TOY = [make_moons, make_circles, make_spirals]


def close_points(a, b, tol=1e-12):
    """True when two lists of 2-D points hold the same points in some order."""
    return len(a) == len(b) and all(
        math.isclose(p[0], q[0], abs_tol=tol) and math.isclose(p[1], q[1], abs_tol=tol)
        for p, q in zip(sorted(a), sorted(b), strict=True)
    )


# --- toy datasets: shapes, types, balance, determinism --------------------------------------------


@pytest.mark.parametrize("make", TOY)
@pytest.mark.parametrize("n", [2, 7, 100])
def test_toy_shapes_and_types(make, n):
    X, y = make(n)
    assert len(X) == len(y) == n
    assert all(len(p) == 2 and all(type(v) is float for v in p) for p in X)
    assert all(type(label) is int for label in y)


@pytest.mark.parametrize("make", [make_moons, make_circles])
@pytest.mark.parametrize("n", [10, 11])
def test_two_class_datasets_are_balanced(make, n):
    _, y = make(n)
    assert Counter(y) == {0: n // 2, 1: n - n // 2}


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("n", [30, 31, 32])
def test_spirals_are_balanced(n_classes, n):
    _, y = make_spirals(n, n_classes=n_classes)
    counts = Counter(y)
    assert set(counts) == set(range(n_classes))
    assert max(counts.values()) - min(counts.values()) <= 1


@pytest.mark.parametrize("make", TOY)
def test_same_seed_same_data_other_seed_other_data(make):
    assert make(50, seed=3) == make(50, seed=3)
    assert make(50, seed=3)[0] != make(50, seed=4)[0]


@pytest.mark.parametrize("make", TOY)
def test_global_random_state_is_left_alone(make):
    random.seed(123)
    before = random.getstate()
    make(20, seed=1)
    assert random.getstate() == before


@pytest.mark.parametrize("make", TOY)
def test_noise_moves_points_by_about_its_std(make):
    clean, y0 = make(400, noise=0.0, seed=5)
    noisy, y1 = make(400, noise=0.1, seed=5)
    # same seed, same shuffle: noise is the only difference
    assert y0 == y1
    diffs = [a - b for p, q in zip(noisy, clean, strict=True) for a, b in zip(p, q, strict=True)]
    std = math.sqrt(sum(d * d for d in diffs) / len(diffs))
    assert 0.09 < std < 0.11


# --- toy datasets: geometry with noise=0 ----------------------------------------------------------


def test_moons_hand_derived_points():
    # t in {0, pi/2, pi}: outer (cos t, sin t), inner (1 - cos t, 1 - sin t - 0.5)
    X, y = make_moons(6, noise=0.0)
    outer = [p for p, label in zip(X, y, strict=True) if label == 0]
    inner = [p for p, label in zip(X, y, strict=True) if label == 1]
    assert close_points(outer, [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    assert close_points(inner, [[0.0, 0.5], [1.0, -0.5], [2.0, 0.5]])


def test_moons_lie_on_their_half_circles():
    X, y = make_moons(101, noise=0.0)
    for (a, b), label in zip(X, y, strict=True):
        if label == 0:  # upper half of the unit circle
            assert math.isclose(math.hypot(a, b), 1.0) and b >= -1e-12
        else:  # lower half of the unit circle centred at (1, 0.5)
            assert math.isclose(math.hypot(a - 1.0, b - 0.5), 1.0) and b <= 0.5 + 1e-12


def test_moons_match_scikit_learn():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is the oracle here")
    ours, _ = make_moons(51, noise=0.0)
    theirs, _ = datasets.make_moons(51, shuffle=False)
    assert close_points(ours, theirs.tolist())


def test_circles_hand_derived_points():
    # four points per circle at angles 0, pi/2, pi, 3pi/2
    X, y = make_circles(8, noise=0.0, factor=0.5)
    outer = [p for p, label in zip(X, y, strict=True) if label == 0]
    inner = [p for p, label in zip(X, y, strict=True) if label == 1]
    assert close_points(outer, [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    assert close_points(inner, [[0.5, 0.0], [0.0, 0.5], [-0.5, 0.0], [0.0, -0.5]])


def test_circles_radii_follow_factor():
    X, y = make_circles(60, noise=0.0, factor=0.3)
    for p, label in zip(X, y, strict=True):
        assert math.isclose(math.hypot(*p), 0.3 if label else 1.0)


def test_circles_match_scikit_learn():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is the oracle here")
    ours, _ = make_circles(40, noise=0.0, factor=0.7)
    theirs, _ = datasets.make_circles(40, shuffle=False, factor=0.7)
    assert close_points(ours, theirs.tolist())


def test_spirals_hand_derived_points():
    # 2 points per arm at radius 1/2 and 1; one full turn, so radius 1 sits at the arm's start
    # angle 2 pi k / 3 and radius 1/2 half a turn further, pointing the other way
    X, y = make_spirals(6, n_classes=3, noise=0.0)
    for k in range(3):
        start = 2 * math.pi * k / 3
        c, s = math.cos(start), math.sin(start)
        arm = [p for p, label in zip(X, y, strict=True) if label == k]
        assert close_points(arm, [[c, s], [-0.5 * c, -0.5 * s]])


def test_spiral_arms_are_rotations_of_each_other():
    X, y = make_spirals(90, n_classes=3, noise=0.0)
    arms = [
        sorted(
            (p for p, label in zip(X, y, strict=True) if label == k), key=lambda p: math.hypot(*p)
        )
        for k in range(3)
    ]
    for p0, p1 in zip(arms[0], arms[1], strict=True):
        turn = 2 * math.pi / 3
        rotated = [
            p0[0] * math.cos(turn) - p0[1] * math.sin(turn),
            p0[0] * math.sin(turn) + p0[1] * math.cos(turn),
        ]
        assert close_points([rotated], [p1])
    assert all(0.0 < math.hypot(*p) <= 1.0 + 1e-12 for p in X)


# --- toy datasets: bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("make", TOY)
@pytest.mark.parametrize("n", [1, 0, -5])
def test_too_few_samples(make, n):
    with pytest.raises(ValueError, match="n_samples must be at least 2"):
        make(n)


@pytest.mark.parametrize("make", TOY)
@pytest.mark.parametrize("n", [10.0, "10", True])
def test_n_samples_must_be_an_int(make, n):
    with pytest.raises(TypeError, match="n_samples must be an int"):
        make(n)


@pytest.mark.parametrize("make", TOY)
def test_negative_noise(make):
    with pytest.raises(ValueError, match="noise"):
        make(10, noise=-0.1)


@pytest.mark.parametrize("factor", [0.0, 1.0, 1.5, -0.2])
def test_circles_factor_out_of_range(factor):
    with pytest.raises(ValueError, match=r"factor .* \(0, 1\)"):
        make_circles(10, factor=factor)


def test_spirals_bad_class_counts():
    with pytest.raises(ValueError, match="n_classes must be at least 2"):
        make_spirals(10, n_classes=1)
    with pytest.raises(ValueError, match="at least n_classes"):
        make_spirals(2, n_classes=3)


# --- train_test_split -----------------------------------------------------------------------------


def indexed(n, n_classes=2):
    """Samples that name their own index, so a split can be checked for loss and duplication."""
    return [[float(i)] for i in range(n)], [i % n_classes for i in range(n)]


def test_split_sizes_cover_and_are_disjoint():
    X, y = indexed(100)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25)
    assert (len(X_train), len(X_test), len(y_train), len(y_test)) == (75, 25, 75, 25)
    train_ids = {int(p[0]) for p in X_train}
    test_ids = {int(p[0]) for p in X_test}
    assert train_ids.isdisjoint(test_ids)
    assert train_ids | test_ids == set(range(100))


def test_split_keeps_samples_with_their_labels():
    X, y = indexed(30, n_classes=3)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, stratify=True)
    for rows, labels in ((X_train, y_train), (X_test, y_test)):
        assert all(int(p[0]) % 3 == label for p, label in zip(rows, labels, strict=True))


def test_split_test_size_rounds_up():
    X, y = indexed(10)
    assert len(train_test_split(X, y, test_size=0.33)[1]) == 4  # ceil(3.3)
    X, y = indexed(30)
    assert len(train_test_split(X, y, test_size=0.1)[1]) == 3  # 0.1 * 30 is 3.0000000000000004


def test_split_is_deterministic_per_seed():
    X, y = indexed(50)
    assert train_test_split(X, y, seed=7) == train_test_split(X, y, seed=7)
    assert train_test_split(X, y, seed=7)[1] != train_test_split(X, y, seed=8)[1]


def test_split_shuffles():
    X, y = indexed(100)
    X_train, _, _, _ = train_test_split(X, y)
    assert X_train != sorted(X_train)


@pytest.mark.parametrize("seed", range(5))
def test_stratified_split_keeps_class_proportions(seed):
    y = [0] * 80 + [1] * 20
    X = [[float(i)] for i in range(100)]
    _, _, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=seed, stratify=True)
    assert Counter(y_test) == {0: 20, 1: 5}
    assert Counter(y_train) == {0: 60, 1: 15}


def test_stratified_split_with_uneven_shares_hits_the_total():
    # shares 0.3 * (11, 7, 5) = (3.3, 2.1, 1.5): floors 3, 2, 1 and the leftover slot to class 2
    y = [0] * 11 + [1] * 7 + [2] * 5
    X = [[float(i)] for i in range(len(y))]
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=True)
    assert len(X_test) == math.ceil(0.3 * 23) == 7
    assert Counter(y_test) == {0: 3, 1: 2, 2: 2}


def test_stratified_split_mixes_classes():
    X, y = [[float(i)] for i in range(40)], [0] * 20 + [1] * 20
    _, _, y_train, _ = train_test_split(X, y, stratify=True)
    assert y_train != sorted(y_train)


@pytest.mark.parametrize("test_size", [0.0, 1.0, -0.1, 1.5])
def test_split_test_size_out_of_range(test_size):
    X, y = indexed(10)
    with pytest.raises(ValueError, match=r"test_size .* \(0, 1\)"):
        train_test_split(X, y, test_size=test_size)


def test_split_bad_inputs():
    X, y = indexed(10)
    with pytest.raises(ValueError, match="one label per sample"):
        train_test_split(X, y[:-1])
    with pytest.raises(ValueError, match="empty"):
        train_test_split([], [])
    with pytest.raises(ValueError, match="empty train or test set"):
        train_test_split([[0.0]], [0])
    with pytest.raises(TypeError, match="test_size"):
        train_test_split(X, y, test_size="0.2")
    with pytest.raises(ValueError, match="at least 2 samples of each class"):
        train_test_split(X + [[10.0]], y + [7], stratify=True)


# --- batches --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [True, False])
def test_batches_cover_every_sample_once(shuffle):
    X, y = indexed(10)
    got = list(batches(X, y, batch_size=4, shuffle=shuffle))
    assert [len(Xb) for Xb, _ in got] == [4, 4, 2]
    assert [len(yb) for _, yb in got] == [4, 4, 2]
    ids = [int(p[0]) for Xb, _ in got for p in Xb]
    assert sorted(ids) == list(range(10))
    assert all(int(p[0]) % 2 == label for Xb, yb in got for p, label in zip(Xb, yb, strict=True))


def test_batches_without_shuffle_keep_order():
    X, y = indexed(5)
    assert [yb for _, yb in batches(X, y, batch_size=2, shuffle=False)] == [[0, 1], [0, 1], [0]]


def test_batch_larger_than_dataset_is_one_batch():
    X, y = indexed(3)
    assert list(batches(X, y, batch_size=10, shuffle=False)) == [(X, y)]


def test_batches_order_depends_on_seed_only():
    X, y = indexed(50)
    first = list(batches(X, y, 8, seed=1))
    assert first == list(batches(X, y, 8, seed=1))
    assert first != list(batches(X, y, 8, seed=2))
    assert [p for Xb, _ in first for p in Xb] != X


def test_batches_reject_bad_input_at_the_call():
    X, y = indexed(4)
    # no next(): the error must come from the call itself
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        batches(X, y, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        batches(X, y, batch_size=2.0)
    with pytest.raises(ValueError, match="one label per sample"):
        batches(X, y[:3], batch_size=2)
    with pytest.raises(ValueError, match="empty"):
        batches([], [], batch_size=2)


# --- standardize ----------------------------------------------------------------------------------


def test_standardize_hand_derived():
    # feature 0: mean 2, std 1; feature 1: mean 10, std 5 (population std)
    train, test, mean, std = standardize([[1.0, 5.0], [3.0, 15.0]], [[4.0, 0.0]])
    assert mean == [2.0, 10.0] and std == [1.0, 5.0]
    assert train == [[-1.0, -1.0], [1.0, 1.0]]
    assert test == [[2.0, -2.0]]  # scaled with the train statistics, not its own


def test_standardize_gives_zero_mean_unit_std():
    X, _ = make_moons(200, seed=2)
    train, test, _, _ = standardize(X)
    assert test is None
    for j in range(2):
        column = [row[j] for row in train]
        mean = sum(column) / len(column)
        assert math.isclose(mean, 0.0, abs_tol=1e-12)
        assert math.isclose(math.sqrt(sum((v - mean) ** 2 for v in column) / len(column)), 1.0)


def test_standardize_constant_feature_is_only_centred():
    train, test, mean, std = standardize([[3.0, 1.0], [3.0, 2.0]], [[5.0, 1.5]])
    assert std[0] == 1.0 and mean[0] == 3.0
    assert [row[0] for row in train] == [0.0, 0.0]
    assert test == [[2.0, 0.0]]


def test_standardize_constant_feature_with_rounding_error_stays_zero():
    # (0.1 + 0.1 + 0.1) / 3 is 0.10000000000000002, not 0.1
    train, _, _, std = standardize([[0.1], [0.1], [0.1]])
    assert std == [1.0]
    assert all(abs(row[0]) < 1e-15 for row in train)


def test_standardize_does_not_mutate_inputs():
    X = [[1.0, 2.0], [3.0, 4.0]]
    standardize(X)
    assert X == [[1.0, 2.0], [3.0, 4.0]]


def test_standardize_bad_inputs():
    with pytest.raises(ValueError, match="X_train is empty"):
        standardize([])
    with pytest.raises(ValueError, match="row 1 has 1 features"):
        standardize([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match="X_test has 3 features but X_train has 2"):
        standardize([[1.0, 2.0]], [[1.0, 2.0, 3.0]])


# --- real images ----------------------------------------------------------------------------------


def test_digits():
    pytest.importorskip("sklearn", reason="load_digits needs scikit-learn (chainrule[data])")
    X, y = load_digits()
    assert len(X) == len(y) == 1797
    assert all(len(row) == 64 for row in X)
    assert all(type(v) is float and 0.0 <= v <= 1.0 for row in X for v in row)
    assert max(v for row in X for v in row) == 1.0
    assert set(y) == set(range(10)) and all(type(label) is int for label in y)


def test_digits_options():
    pytest.importorskip("sklearn", reason="load_digits needs scikit-learn (chainrule[data])")
    X, y = load_digits()
    X3, y3 = load_digits(n_classes=3)
    assert set(y3) == {0, 1, 2} and len(X3) == sum(label < 3 for label in y)
    images, _ = load_digits(flatten=False)
    assert len(images[0]) == 8 and all(len(r) == 8 for r in images[0])
    assert [v for r in images[0] for v in r] == X[0]
    raw, _ = load_digits(scale=False)
    assert [v / 16 for v in raw[0]] == X[0] and max(max(r) for r in raw) == 16.0


def test_digits_bad_n_classes():
    with pytest.raises(ValueError, match="between 2 and 10"):
        load_digits(n_classes=11)


@pytest.mark.parametrize("size", [8, 10])
def test_faces(size):
    pytest.importorskip("skimage", reason="load_faces needs scikit-image (chainrule[data])")
    X, y = load_faces(size=size)
    assert len(X) == len(y) == 200
    assert all(len(row) == size * size for row in X)
    assert all(type(v) is float and 0.0 <= v <= 1.0 for row in X for v in row)
    assert Counter(y) == {0: 100, 1: 100}


def test_faces_are_deterministic_and_seed_sets_the_order():
    pytest.importorskip("skimage", reason="load_faces needs scikit-image (chainrule[data])")
    assert load_faces(seed=1) == load_faces(seed=1)
    assert load_faces(seed=1)[1] != load_faces(seed=2)[1]
    _, y = load_faces(seed=None)
    assert y == [1] * 100 + [0] * 100  # scikit-image's order: faces first


def test_faces_are_block_means_of_lfw_subset():
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is the source here")
    # 25 -> 5 is a whole factor: each output pixel is the plain mean of a 5 x 5 block
    images = skimage_data.lfw_subset().tolist()
    X, _ = load_faces(size=5, seed=None)
    for img, row in zip(images[::37], X[::37], strict=True):
        expected = [
            sum(img[5 * i + a][5 * j + b] for a in range(5) for b in range(5)) / 25
            for i in range(5)
            for j in range(5)
        ]
        assert all(math.isclose(u, v, abs_tol=1e-12) for u, v in zip(row, expected, strict=True))


def test_faces_bad_size():
    with pytest.raises(ValueError, match="between 1 and 25"):
        load_faces(size=30)
    with pytest.raises(TypeError, match="size must be an int"):
        load_faces(size=8.0)


@pytest.mark.parametrize(
    ("load", "modules"),
    [
        (load_digits, ["sklearn", "sklearn.datasets"]),
        (load_faces, ["skimage", "skimage.data"]),
    ],
)
def test_missing_optional_package_names_the_extra(monkeypatch, load, modules):
    for name in modules:  # None in sys.modules makes `import name` raise ImportError
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[data\]'"):
        load()
