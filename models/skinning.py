"""Linear blend skinning for SMPL-format arrays, written from the equations of the SMPL paper (Loper et al.,
"SMPL: A Skinned Multi-Person Linear Model", SIGGRAPH Asia 2015, section 3).

A body is posed in four steps, each a function here:
1. Shape: the rest template plus a linear combination of shape directions, `T(beta) = T + S beta`.
2. Rest joints: a fixed linear regression of the shaped rest vertices, `J(beta) = R T(beta)`.
3. Pose correctives (optional): offsets linear in the entries of `rotation - identity` of the 23 non-root
   joints, `P (vec(R_1 - I), ..., vec(R_23 - I))`.
4. Skinning: every joint's world transform along the kinematic chain, made relative to its rest position,
   and every vertex moved by the skinning-weighted blend of those transforms.

All functions are batched (batch first) and differentiable; none of them loops over the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import torch


def shape_blend(template: torch.Tensor, shape_directions: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
    """Shaped rest vertices `T + S beta`.

    Args:
        template: (V, 3) rest template.
        shape_directions: (V, 3, K') shape directions, K' >= K (the first K are used).
        betas: (B, K) shape coefficients.
    Returns:
        (B, V, 3) shaped rest vertices.
    """
    directions = shape_directions[..., : betas.shape[1]]
    return template + torch.einsum("bk,vck->bvc", betas, directions)


def regress_joints(regressor: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """Joints as fixed linear combinations of vertices.

    Args:
        regressor: (J, V) weights, one row per joint.
        vertices: (B, V, 3).
    Returns:
        (B, J, 3).
    """
    return torch.einsum("bvc,jv->bjc", vertices, regressor)  # this operand order is the fastest on CPUs


def pose_corrective_offsets(rotations: torch.Tensor, pose_directions: torch.Tensor) -> torch.Tensor:
    """Pose-dependent vertex offsets, linear in `R_k - I` of every joint but the root.

    Args:
        rotations: (B, J, 3, 3) joint rotations relative to the parent, root first.
        pose_directions: (9 (J - 1), 3 V) corrective directions, rows in (joint, row, column) order.
    Returns:
        (B, V, 3) offsets to add to the shaped rest vertices.
    """
    identity = torch.eye(3, dtype=rotations.dtype, device=rotations.device)
    features = (rotations[:, 1:] - identity).flatten(1)  # (B, 9 (J - 1))
    return (features @ pose_directions).view(rotations.shape[0], -1, 3)


@cache
def _depth_levels(parents: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """The joints grouped by their depth in the tree (root alone first), so that every joint's parent is in
    an earlier group: the chain is then composed one level at a time instead of one joint at a time."""
    depth = [0] * len(parents)
    for joint, parent in enumerate(parents):
        if joint == 0:
            continue
        if not 0 <= parent < joint:
            raise ValueError(f"Joint {joint}'s parent {parent} must come before it in the kinematic tree.")
        depth[joint] = depth[parent] + 1
    return tuple(
        tuple(j for j in range(len(parents)) if depth[j] == level) for level in range(1, max(depth) + 1)
    )


def kinematic_chain(
    rotations: torch.Tensor, rest_joints: torch.Tensor, parents: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """World rotations and positions of every joint, composed down the kinematic tree.

    Joint k's local transform is `[R_k | J_k - J_parent(k)]` (the root's translation is its rest position);
    its world transform is its parent's world transform times its local one. The chain is composed one
    depth level at a time, every joint of a level in one batched product.

    Args:
        rotations: (B, J, 3, 3) rotations relative to the parent, root first.
        rest_joints: (B, J, 3) joint positions in the rest pose.
        parents: (J,) parent index of each joint, the root's is -1; parents come before their children.
    Returns:
        world_rotations (B, J, 3, 3) and posed_joints (B, J, 3).
    """
    parents = tuple(int(p) for p in parents)
    batch, num_joints = rotations.shape[:2]
    offsets = rest_joints - rest_joints[:, [max(p, 0) for p in parents]]
    offsets[:, 0] = rest_joints[:, 0]
    bottom_row = rotations.new_tensor([0.0, 0.0, 0.0, 1.0]).expand(batch, num_joints, 1, 4)
    local = torch.cat([torch.cat([rotations, offsets.unsqueeze(-1)], dim=3), bottom_row], dim=2)  # (B,J,4,4)
    world = list(local.unbind(1))  # the root's world transform is its local one; the rest are set below
    for level in _depth_levels(parents):
        parent_world = torch.stack([world[parents[j]] for j in level], dim=1)
        for joint, transform in zip(level, (parent_world @ local[:, list(level)]).unbind(1), strict=True):
            world[joint] = transform
    stacked = torch.stack(world, dim=1)
    return stacked[..., :3, :3], stacked[..., :3, 3]


def skin(
    rest_vertices: torch.Tensor,
    skinning_weights: torch.Tensor,
    world_rotations: torch.Tensor,
    rest_joints: torch.Tensor,
    posed_joints: torch.Tensor,
) -> torch.Tensor:
    """Move every vertex by the weighted blend of its joints' rigid motions from rest to pose.

    Joint k moves a rest point x to `G_k (x - J_k) + J'_k`, with `G_k` its world rotation, `J_k` its rest
    and `J'_k` its posed position; a vertex takes the skinning-weighted sum of these affine maps.

    Args:
        rest_vertices: (B, V, 3) shaped (and pose-corrected) rest vertices.
        skinning_weights: (V, J) weights, rows summing to 1.
        world_rotations: (B, J, 3, 3) from `kinematic_chain`.
        rest_joints: (B, J, 3).
        posed_joints: (B, J, 3) from `kinematic_chain`.
    Returns:
        (B, V, 3) posed vertices.
    """
    translations = posed_joints - (world_rotations @ rest_joints.unsqueeze(-1)).squeeze(-1)  # (B, J, 3)
    # The blended rotation part and translation part, each one product over all joints (kept apart: the
    # rotation then applies as one contiguous batched product, the fastest form forward and backward).
    rotation = torch.einsum("vj,bjk->bvk", skinning_weights, world_rotations.flatten(2))
    rotation = rotation.view(*rest_vertices.shape[:2], 3, 3)  # (B, V, 3, 3)
    translation = torch.einsum("vj,bjk->bvk", skinning_weights, translations)  # (B, V, 3)
    return (rotation @ rest_vertices.unsqueeze(-1)).squeeze(-1) + translation
