"""Connected components of triangle meshes (numpy only)."""

from __future__ import annotations

import numpy as np


def connected_components(num_nodes: int, edges: np.ndarray) -> np.ndarray:
    """(num_nodes,) component label of every node of an undirected graph given by edges (E, 2).

    Labels are the smallest node index of each component. Min-label propagation along the edges, with
    pointer jumping (each node takes its label's label) so that long chains settle in few sweeps.
    """
    labels = np.arange(num_nodes)
    a, b = edges[:, 0], edges[:, 1]
    while True:
        smaller = np.minimum(labels[a], labels[b])
        updated = labels.copy()
        np.minimum.at(updated, a, smaller)
        np.minimum.at(updated, b, smaller)
        updated = updated[updated]
        if np.array_equal(updated, labels):
            return labels
        labels = updated


def vertex_components(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """(V,) component label of every vertex; faces (F, 3) connect their three vertices."""
    return connected_components(num_vertices, np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]]))


def face_adjacency(faces: np.ndarray) -> np.ndarray:
    """(E, 2) pairs of faces that share an edge (faces (F, 3))."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(faces)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    edges, owner = edges[order], owner[order]
    # After sorting, the faces around one edge are consecutive rows: link each to the next one.
    same_edge = np.all(edges[1:] == edges[:-1], axis=1)
    return np.stack([owner[:-1][same_edge], owner[1:][same_edge]], axis=1)


def face_components(faces: np.ndarray) -> np.ndarray:
    """(F,) component label of every face, two faces being connected when they share an edge."""
    return connected_components(len(faces), face_adjacency(faces))
