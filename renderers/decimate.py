"""A coarse copy of a mesh for cheap silhouettes: vertex clustering on a grid, per skinning group.

A differentiable silhouette at 64-128 px cannot show detail finer than a pixel, about 2-3 cm of a person in
a crop, yet its cost grows with the number of faces. Clustering the rest-pose vertices into grid cells and
keeping one vertex per cell gives a mesh of a few thousand faces whose outline stays within about half a
cell of the original's.

Cells are also split by each vertex's dominant skinning joint, so that surfaces which are close in the rest
pose but move apart when posed (the inner thighs, an arm beside the torso) are never merged into one
cluster: every kept face then moves with the parts it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DecimatedMesh:
    """vertex_index: (K,) int64 indices of the kept vertices in the full mesh (select posed vertices with
    `vertices[:, vertex_index]`); faces: (F', 3) int64 triangles over the K kept vertices; cell_size: the
    grid cell in the rest pose's units (metres)."""

    vertex_index: np.ndarray
    faces: np.ndarray
    cell_size: float


def cluster_decimate(
    rest_vertices: np.ndarray, faces: np.ndarray, groups: np.ndarray, cell_size: float
) -> DecimatedMesh:
    """Merge the vertices of each (group, grid cell) into the member nearest the cell's mean.

    Args:
        rest_vertices: (V, 3) rest-pose vertex positions.
        faces: (F, 3) triangles.
        groups: (V,) integer group per vertex (e.g. the joint with the largest skinning weight).
        cell_size: grid cell side, in the units of rest_vertices.
    Returns:
        DecimatedMesh without degenerate or repeated faces.
    """
    if cell_size <= 0:
        raise ValueError(f"cell_size must be positive, got {cell_size}.")
    cells = np.floor((rest_vertices - rest_vertices.min(0)) / cell_size).astype(np.int64)
    keys = np.column_stack((groups.astype(np.int64), cells))
    _, cluster = np.unique(keys, axis=0, return_inverse=True)
    cluster = cluster.reshape(-1)
    num_clusters = int(cluster.max()) + 1

    # The representative of a cluster is its member closest to the members' mean.
    counts = np.bincount(cluster, minlength=num_clusters)
    means = (
        np.stack([np.bincount(cluster, rest_vertices[:, axis], num_clusters) for axis in range(3)], axis=1)
        / counts[:, None]
    )
    distance = np.linalg.norm(rest_vertices - means[cluster], axis=1)
    order = np.lexsort((distance, cluster))  # by cluster, nearest first
    first = np.searchsorted(cluster[order], np.arange(num_clusters))
    representative = order[first]

    merged = cluster[faces]
    distinct = (merged != np.roll(merged, 1, axis=1)).all(axis=1)
    merged = merged[distinct]
    # One copy of faces that became identical (whatever their winding: the silhouette is double-sided).
    _, unique_rows = np.unique(np.sort(merged, axis=1), axis=0, return_index=True)
    merged = merged[np.sort(unique_rows)]

    used, compact = np.unique(merged, return_inverse=True)
    return DecimatedMesh(
        vertex_index=representative[used].astype(np.int64),
        faces=compact.reshape(-1, 3).astype(np.int64),
        cell_size=float(cell_size),
    )


def decimate_to_faces(
    rest_vertices: np.ndarray, faces: np.ndarray, groups: np.ndarray, target_faces: int
) -> DecimatedMesh:
    """The clustering whose face count is closest to `target_faces` (a bisection on the cell size)."""
    if target_faces >= faces.shape[0]:
        return DecimatedMesh(np.arange(rest_vertices.shape[0]), faces.astype(np.int64), 0.0)
    extent = float((rest_vertices.max(0) - rest_vertices.min(0)).max())
    small, large = extent * 1e-4, extent / 4  # many faces ... few faces
    best = cluster_decimate(rest_vertices, faces, groups, large)
    for _ in range(18):
        middle = (small * large) ** 0.5
        mesh = cluster_decimate(rest_vertices, faces, groups, middle)
        if abs(mesh.faces.shape[0] - target_faces) < abs(best.faces.shape[0] - target_faces):
            best = mesh
        if mesh.faces.shape[0] > target_faces:
            small = middle
        else:
            large = middle
    return best
