"""Fits of the open body model: convex vertex regressors (joints, keypoints) and the PCA shape space."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def project_to_simplex(w: np.ndarray) -> np.ndarray:
    """Euclidean projection of a vector (K,) onto {w >= 0, sum(w) = 1} (sort-based, exact)."""
    u = np.sort(w)[::-1]
    cumulative = np.cumsum(u) - 1.0
    ranks = np.arange(1, len(w) + 1)
    last = np.flatnonzero(u - cumulative / ranks > 0)[-1]
    return np.maximum(w - cumulative[last] / (last + 1), 0.0)


def fit_convex_regressor(
    points: np.ndarray, targets: np.ndarray, ridge: float = 1e-6, iterations: int = 3000, prune: float = 1e-4
) -> np.ndarray:
    """Convex weights w (K,) such that sum_k w_k points[n, k] ~ targets[n] for every body n.

    Minimises mean_n |points[n].T w - targets[n]|^2 + ridge |w|^2 over the simplex (w >= 0, sum 1) by
    accelerated projected gradient (FISTA). Convexity keeps the regressed point among the vertices it is
    made of and makes it translation-equivariant; the ridge spreads the weights over equivalent vertices.
    Weights below `prune` are dropped and the rest renormalised, so rows stay sparse.

    Args:
        points: (N, K, 3) candidate vertices of N bodies.
        targets: (N, 3) the point to reproduce on each body.
    Returns:
        (K,) float64 weights summing to 1.
    """
    offsets = points - targets[:, None, :]  # (N, K, 3); sum_k w_k offsets[n, k] is the residual
    gram = np.einsum("nkc,nlc->kl", offsets, offsets) / len(points) + ridge * np.eye(points.shape[1])
    step = 1.0 / (2.0 * np.linalg.eigvalsh(gram)[-1])
    w = np.full(points.shape[1], 1.0 / points.shape[1])
    momentum, t = w, 1.0
    for _ in range(iterations):
        w_next = project_to_simplex(momentum - step * 2.0 * gram @ momentum)
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        momentum = w_next + (t - 1.0) / t_next * (w_next - w)
        w, t = w_next, t_next
    w[w < prune] = 0.0
    return w / w.sum()


@dataclass(frozen=True)
class ShapeSpace:
    """A PCA shape space: vertices = mean + dirs @ betas, with betas ~ N(0, I) over the population.

    Attributes:
        mean: (V, 3) mean body.
        dirs: (V, 3, C) principal directions scaled by their standard deviations.
    """

    mean: np.ndarray
    dirs: np.ndarray


def shape_pca(bodies: np.ndarray, num_components: int) -> ShapeSpace:
    """PCA of bodies (N, V, 3) in correspondence.

    Each direction's sign is chosen so that +1 grows the mean body outwards from its centroid (for the
    first component, a larger body), which makes the result reproducible across runs and libraries.
    """
    count, num_vertices, _ = bodies.shape
    mean = bodies.mean(axis=0)
    centred = (bodies - mean).reshape(count, -1)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    std = singular[:num_components] / np.sqrt(count - 1)
    dirs = components[:num_components].reshape(num_components, num_vertices, 3)
    outward = (mean - mean.mean(axis=0)).reshape(-1)
    signs = np.where(dirs.reshape(num_components, -1) @ outward < 0, -1.0, 1.0)
    dirs = dirs * (signs * std)[:, None, None]
    return ShapeSpace(mean=mean, dirs=np.moveaxis(dirs, 0, -1))
