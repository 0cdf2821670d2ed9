"""Feature metrics against closed forms, hand counts and float64 references (FID, KID, IS, PRDC)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from torch.testing import assert_close

from gankit.metrics import (RunningStats, density_coverage, fid, fid_from_stats, inception_score, kid,
                            precision_recall)
from gankit.metrics.prdc import knn_radii


def random_orthogonal(dim: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q


def fid_reference(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook float64 FID: np.cov and scipy.linalg.sqrtm."""
    mu1, mu2, s1, s2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real))


# ---------------------------------------------------------------- FID

MU1, MU2 = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 0.0, -2.0, 3.0])
VAR1, VAR2 = np.array([1.0, 2.0, 0.5, 4.0]), np.array([2.0, 1.0, 0.5, 0.25])
# ||mu1 - mu2||^2 + sum (sqrt(a) - sqrt(b))^2 for covariances sharing eigenvectors
FID_CLOSED = float(((MU1 - MU2) ** 2).sum() + ((np.sqrt(VAR1) - np.sqrt(VAR2)) ** 2).sum())


def test_fid_from_stats_matches_closed_form_diagonal_and_rotated():
    assert_close(fid_from_stats(MU1, np.diag(VAR1), MU2, np.diag(VAR2)), FID_CLOSED, rtol=0, atol=1e-8)
    q = random_orthogonal(4, seed=1)  # commuting, non-diagonal covariances: same closed form
    s1, s2 = q @ np.diag(VAR1) @ q.T, q @ np.diag(VAR2) @ q.T
    assert_close(fid_from_stats(MU1, s1, MU2, s2), FID_CLOSED, rtol=0, atol=1e-8)


def test_fid_on_large_gaussian_samples_approaches_closed_form():
    rng = np.random.default_rng(0)
    a = MU1 + rng.normal(size=(20_000, 4)) * np.sqrt(VAR1)
    b = MU2 + rng.normal(size=(20_000, 4)) * np.sqrt(VAR2)
    assert_close(fid(a, b), FID_CLOSED, rtol=0.02, atol=0)


def test_fid_matches_float64_scipy_reference_and_accepts_float32_tensors():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16))
    b = 0.5 + rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16))
    assert_close(fid(a, b), fid_reference(a, b), rtol=1e-6, atol=0)
    a32, b32 = torch.from_numpy(a).float(), torch.from_numpy(b).float()
    assert_close(fid(a32, b32), fid_reference(a32.double().numpy(), b32.double().numpy()), rtol=1e-6, atol=0)


def test_fid_of_a_set_with_itself_is_zero_and_fid_is_symmetric():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
    y = rng.normal(size=(500, 16))
    # Tr(S) is ~250 here; sqrtm(S S) recovers S to ~1e-13 relative (1e-11 absolute observed),
    # so 1e-6 leaves five orders of magnitude of headroom yet catches any real bias
    assert abs(fid(x, x)) < 1e-6
    assert abs(fid(x, x[::-1])) < 1e-6  # order of samples does not matter
    assert_close(fid(x, y), fid(y, x), rtol=1e-9, atol=0)


def test_running_stats_in_uneven_batches_equal_numpy_moments():
    x = 5.0 + np.random.default_rng(4).normal(size=(1000, 6)) @ np.diag([1, 2, 3, 0.5, 0.1, 10])
    stats = RunningStats(6)
    for batch in np.split(x, [1, 3, 100, 101, 500, 777]):  # 7 uneven batches, one of a single row
        stats.update(torch.from_numpy(batch))
    assert_close(stats.mean(), x.mean(axis=0), rtol=0, atol=1e-10)
    assert_close(stats.cov(), np.cov(x, rowvar=False), rtol=0, atol=1e-10)
    assert_close(fid_from_stats(stats.mean(), stats.cov(), stats.mean(), stats.cov()), 0.0, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="batch has feature dimension 5"):
        stats.update(np.zeros((3, 5)))


# ---------------------------------------------------------------- KID

def kid_double_loop(a: np.ndarray, b: np.ndarray, degree: int, gamma: float, coef0: float) -> float:
    """Unbiased MMD^2 of Bińkowski et al. 2018, eq. (3), written pair by pair."""
    def k(x, y):
        return (gamma * float(x @ y) + coef0) ** degree
    m = len(a)
    within = sum(k(a[i], a[j]) + k(b[i], b[j]) for i in range(m) for j in range(m) if i != j)
    cross = sum(k(a[i], b[j]) for i in range(m) for j in range(m))
    return within / (m * (m - 1)) - 2 * cross / (m * m)


@pytest.mark.parametrize("degree, gamma, coef0", [(3, None, 1), (2, 0.7, 0.5)])
def test_kid_with_one_full_subset_equals_double_loop_estimator(degree, gamma, coef0):
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(7, 3)), 0.3 + rng.normal(size=(7, 3))
    expected = kid_double_loop(a, b, degree, 1 / 3 if gamma is None else gamma, coef0)
    mean, std = kid(a, b, subsets=1, subset_size=7, degree=degree, gamma=gamma, coef0=coef0)
    assert_close(mean, expected, rtol=0, atol=1e-10)
    assert std == 0.0


def test_kid_same_distribution_near_zero_shifted_clearly_positive():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
    mean, std = kid(a, b, subsets=50, subset_size=200)
    # subsets of 200 drawn from the same 1000 overlap, so the mean's error is that of one
    # estimate on ~all the data (~0.45 std), not std / sqrt(50); over 10 seeds |mean| / std <= 0.49
    assert abs(mean) < std
    shifted, shifted_std = kid(a, b + 0.5, subsets=50, subset_size=200)
    assert shifted > 0.5 and shifted > 5 * shifted_std  # 1.06 and 0.15 here: a 0.5 shift in 8 dims


def test_kid_clips_subset_size_to_smallest_set():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(30, 4)), rng.normal(size=(20, 4))
    assert kid(a, b, subsets=3, subset_size=1000) == kid(a, b, subsets=3, subset_size=20)


# ---------------------------------------------------------------- Inception Score

def test_inception_score_closed_forms():
    k = 5
    one_hot = np.tile(np.eye(k), (20, 1))  # every split of 10 rows holds each class twice
    assert_close(inception_score(one_hot, splits=1), (float(k), 0.0), rtol=0, atol=1e-12)
    assert_close(inception_score(one_hot, splits=10), (float(k), 0.0), rtol=0, atol=1e-12)
    same = np.tile([[0.2, 0.3, 0.5]], (40, 1))
    assert_close(inception_score(same, splits=4), (1.0, 0.0), rtol=0, atol=1e-12)
    # p(y) = (3/4, 1/4); KL rows: log(4/3) and 0.5 log(2/3) + 0.5 log 2 = 0.5 log(4/3)
    assert_close(inception_score(torch.tensor([[1.0, 0.0], [0.5, 0.5]]), splits=1)[0], (4 / 3) ** 0.75,
                 rtol=0, atol=1e-12)


def test_inception_score_rejects_non_probabilities():
    with pytest.raises(ValueError, match="row 1 sums to 1.1"):
        inception_score(np.array([[0.5, 0.5], [0.6, 0.5]]), splits=1)
    with pytest.raises(ValueError, match="non-negative"):
        inception_score(np.array([[1.5, -0.5], [0.5, 0.5]]), splits=1)
    with pytest.raises(ValueError, match="splits must be in"):
        inception_score(np.eye(3), splits=4)


# ---------------------------------------------------------------- precision / recall, density / coverage

def embed_1d(t: list[float]) -> np.ndarray:
    """Points on a line inside 3D, offset so no coordinate is trivially zero."""
    return np.array([[x, 0.0, 0.0] for x in t]) + np.array([1.0, -2.0, 3.0])


def test_prdc_hand_counted_1d_example():
    real, fake = embed_1d([0, 1, 2, 3, 10]), embed_1d([0.5, 1.5, 12, 13, 40])
    # k=1 radii: real [1, 1, 1, 1, 7]; fake [1, 1, 1, 1, 27]
    # fake in real balls: 0.5 -> {0, 1}, 1.5 -> {1, 2}, 12 -> {10}, 13 -> {10}, 40 -> none
    # real in fake balls: 0, 1, 2 yes; 3 (1.5 away from 1.5) no; 10 (30 from 40 > 27) no
    assert precision_recall(real, fake, k=1) == {"precision": 0.8, "recall": 0.6}
    # density (2 + 2 + 1 + 1) / (1 * 5); covered real balls 0, 1, 2, 10 but not 3
    assert_close(density_coverage(real, fake, k=1), {"density": 1.2, "coverage": 0.8}, rtol=0, atol=1e-12)
    # self is excluded by index, not by value: a duplicate is a neighbour at distance 0
    points = torch.tensor([[0.0], [1.0], [3.0], [3.0]], dtype=torch.float64)
    assert_close(knn_radii(points, 1), torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64))


def test_prdc_identical_and_far_apart_sets():
    real = np.random.default_rng(8).normal(size=(200, 5))
    assert precision_recall(real, real.copy()) == {"precision": 1.0, "recall": 1.0}
    assert density_coverage(real, real.copy())["coverage"] == 1.0
    assert precision_recall(real, real + 100) == {"precision": 0.0, "recall": 0.0}
    assert density_coverage(real, real + 100) == {"density": 0.0, "coverage": 0.0}


def test_prdc_chunked_equals_unchunked():
    rng = np.random.default_rng(9)
    real, fake = rng.normal(size=(300, 4)), 0.3 + rng.normal(size=(250, 4))
    assert_close(knn_radii(torch.from_numpy(real), 3, chunk_size=64), knn_radii(torch.from_numpy(real), 3),
                 rtol=0, atol=1e-12)
    for metric in (precision_recall, density_coverage):
        assert_close(metric(real, fake, chunk_size=64), metric(real, fake, chunk_size=1024), rtol=0, atol=1e-12)
    pr = precision_recall(real, fake)
    assert 0.5 < pr["precision"] < 1.0 and 0.5 < pr["recall"] < 1.0  # overlapping, not identical


# ---------------------------------------------------------------- shape errors

@pytest.mark.parametrize("call, names", [
    (lambda a, b: fid(a, b), ("feats_a", "feats_b")),
    (lambda a, b: kid(a, b, subsets=1), ("feats_a", "feats_b")),
    (lambda a, b: precision_recall(real=a, fake=b), ("real", "fake")),
    (lambda a, b: density_coverage(real=a, fake=b), ("real", "fake")),
])
def test_bad_shapes_name_the_argument_and_the_shapes(call, names):
    good = np.zeros((10, 3))
    with pytest.raises(ValueError, match=rf"{names[0]} must be 2D \(N, D\) features, got shape \(10,\)"):
        call(np.zeros(10), good)
    with pytest.raises(ValueError, match=rf"{names[1]} must be 2D .* got shape \(2, 10, 3\)"):
        call(good, np.zeros((2, 10, 3)))
    with pytest.raises(ValueError, match=rf"{names[0]} and {names[1]} .* \(10, 3\) and \(10, 4\)"):
        call(good, np.zeros((10, 4)))


def test_inception_score_and_fid_from_stats_shape_errors():
    with pytest.raises(ValueError, match=r"probs must be 2D .* got shape \(3,\)"):
        inception_score(np.ones(3) / 3)
    with pytest.raises(ValueError, match=r"sigma2 has shape \(3, 3\), expected \(2, 2\)"):
        fid_from_stats(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3))


def test_fid_eigen_trace_matches_scipy_sqrtm_on_singular_covariances():
    """Fewer samples than dimensions (as with 2048-d Inception features and small n): still within 1e-6 of SciPy."""
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(60, 96)), 0.2 + 1.3 * rng.normal(size=(80, 96))
    assert_close(fid(a, b), fid_reference(a, b), rtol=1e-6, atol=0)
