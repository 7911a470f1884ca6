"""Fréchet Inception Distance and Kernel Inception Distance on feature matrices, in float64.

FID (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to two feature sets,
||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)). It is biased by the sample count: figures at
different counts do not compare, so callers name them with the count (`fid_2k`).

KID (Binkowski et al. 2018): the unbiased squared MMD with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over random subsets (mean and standard deviation).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

__all__ = [
    "feature_moments",
    "frechet_distance",
    "fid_from_features",
    "polynomial_mmd2",
    "kernel_inception_distance",
]


def feature_moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [D], covariance [D, D]) in float64 of features [N, D] (N >= 2)."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features must be [N >= 2, D], got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (eigh; eigenvalues
    below 0, which are rounding, clipped)."""
    values, vectors = linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """The Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), float64.

    tr((S1 S2)^(1/2)) is computed as the sum of the singular values of S1^(1/2) S2^(1/2) (the
    eigenvalues of S1 S2 are the squares of those): exact in exact arithmetic, and stable when
    the covariances are singular (fewer samples than the 2,048 features), where scipy's general
    matrix square root of S1 S2 returned values of 1e54 on a set scored against itself.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"shapes differ: {mu1.shape}/{mu2.shape}, {sigma1.shape}/{sigma2.shape}")
    singular_values = linalg.svd(_psd_sqrt(sigma1) @ _psd_sqrt(sigma2), compute_uv=False)
    trace_root = float(np.sum(singular_values))
    difference = mu1 - mu2
    return float(difference @ difference + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_root)


def fid_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two feature matrices [N1, D] and [N2, D].

    With fewer samples than features (min(N1, N2) <= D: 2,048 for Inception pool3) the trace
    term is computed from the centred samples: with S1 = A'A / (N1 - 1) and S2 = B'B / (N2 - 1),
    the non-zero eigenvalues of S1 S2 are the squared singular values of
    A B' / sqrt((N1 - 1)(N2 - 1)), an N1 x N2 matrix, so no D x D decomposition is needed
    (exactly equal to `frechet_distance` on the moments; seconds faster per call). Otherwise the
    moments are used.
    """
    a = np.asarray(features1, np.float64)
    b = np.asarray(features2, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"features must be [N >= 2, D] with the same D, got {a.shape}, {b.shape}")
    if min(len(a), len(b)) > a.shape[1]:
        return frechet_distance(*feature_moments(a), *feature_moments(b))
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    centred_a, centred_b = a - mean_a, b - mean_b
    scale_a, scale_b = 1.0 / (len(a) - 1), 1.0 / (len(b) - 1)
    cross = (centred_a @ centred_b.T) * np.sqrt(scale_a * scale_b)
    trace_root = float(np.sum(linalg.svd(cross, compute_uv=False)))
    difference = mean_a - mean_b
    return float(
        difference @ difference
        + np.sum(centred_a**2) * scale_a
        + np.sum(centred_b**2) * scale_b
        - 2.0 * trace_root
    )


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased squared MMD of x [m, D] and y [n, D] with k(a, b) = (a.b / D + 1)^3."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    dimension = x.shape[1]
    k_xx = (x @ x.T / dimension + 1.0) ** 3
    k_yy = (y @ y.T / dimension + 1.0) ** 3
    k_xy = (x @ y.T / dimension + 1.0) ** 3
    m, n = len(x), len(y)
    return float(
        (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
        + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
        - 2.0 * k_xy.mean()
    )


def kernel_inception_distance(
    features1: np.ndarray,
    features2: np.ndarray,
    *,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, standard deviation) of the unbiased polynomial MMD^2 over random subsets.

    Args:
      features1, features2: [N1, D], [N2, D].
      num_subsets: subsets drawn (without replacement within a subset).
      subset_size: at most this many rows of each set per subset (capped by the smaller set).
      seed: seed of the draws.
    """
    size = min(subset_size, len(features1), len(features2))
    if size < 2:
        raise ValueError("KID needs at least 2 rows in each feature set")
    rng = np.random.default_rng(seed)
    values = [
        polynomial_mmd2(
            features1[rng.choice(len(features1), size, replace=False)],
            features2[rng.choice(len(features2), size, replace=False)],
        )
        for _ in range(num_subsets)
    ]
    return float(np.mean(values)), float(np.std(values))
