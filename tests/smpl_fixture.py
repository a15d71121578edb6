"""Fake body-model assets for tests: structurally exact, body-like, written in well under 2 s.

Two builders, for any test that needs a body model without the licensed SMPL files or the shipped open model:

- `write_smpl_format_assets(root)` writes the original STRAPS `additional/` folder into `root`:
  `smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl` (chumpy-free SMPL pickles, protocol 2, SMPL key names, shapes and
  dtypes, dense `J_regressor`), `J_regressor_extra.npy` (9, 6890), `cocoplus_regressor.npy` (19, 6890),
  `J_regressor_h36m.npy` (17, 6890), `neutral_smpl_mean_params_6dpose.npz`, `smpl_faces.npy`,
  `vertex_texture.npy` (1, 13776, 2, 2, 2, 3) and `cube_parts.npy` (100, 92, 17), which encode the labels
  that `fixture_face_parts()` returns. Load it with `models.bundle.load_bundle("smpl", additional_dir=root)`.
- `write_open_format_assets(root)` writes `root/open_body/OPEN_BODY_{NEUTRAL,MALE,FEMALE}.npz` and
  `open_body_extras.npz` in the open kind's format, small by default. Load it with
  `load_bundle("open", additional_dir=root)`.

The mesh: a closed genus-0 triangle surface (so 6890 vertices give SMPL's 13776 faces) that runs as a tube
along every bone of an SMPL-like T-pose skeleton (metres, y up, facing +z, left at +x), down each bone and
back inside itself, so silhouettes look like a stick-figure body. Each ring of 12 vertices is skinned to the
joint that moves its bone; J_regressor rows average the ring centred on each joint, so the rest joints are
the skeleton's. SMPL's landmark vertex ids (nose 332, eyes, ears, toes, heels, fingertips) are placed on the
nearest tube vertices to where those landmarks are on a body. The geometry is fixed; `seed` drives the blend
shapes, the regressor weights and the colour-cube contents.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

RING_SIZE = 12
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
HEAD_TOP = 24  # an extra skeleton point above the head joint, ending the head tube
_PARENTS = SMPL_PARENTS + (15,)
# Approximate SMPL neutral T-pose joints relative to the pelvis, then the head top.
_REST_POINTS = np.array(
    [
        [0.0, 0.0, 0.0],  # 0 pelvis
        [0.07, -0.09, -0.01],  # 1 L hip
        [-0.07, -0.09, -0.01],  # 2 R hip
        [0.0, 0.12, -0.03],  # 3 spine1
        [0.10, -0.47, -0.01],  # 4 L knee
        [-0.10, -0.47, -0.01],  # 5 R knee
        [0.0, 0.25, 0.0],  # 6 spine2
        [0.09, -0.87, -0.05],  # 7 L ankle
        [-0.09, -0.87, -0.05],  # 8 R ankle
        [0.0, 0.305, 0.0],  # 9 spine3
        [0.12, -0.92, 0.07],  # 10 L foot
        [-0.12, -0.92, 0.07],  # 11 R foot
        [0.0, 0.51, -0.05],  # 12 neck
        [0.075, 0.42, -0.04],  # 13 L collar
        [-0.075, 0.42, -0.04],  # 14 R collar
        [0.0, 0.58, 0.01],  # 15 head
        [0.17, 0.45, -0.05],  # 16 L shoulder
        [-0.17, 0.45, -0.05],  # 17 R shoulder
        [0.43, 0.43, -0.07],  # 18 L elbow
        [-0.43, 0.43, -0.07],  # 19 R elbow
        [0.69, 0.43, -0.08],  # 20 L wrist
        [-0.69, 0.43, -0.08],  # 21 R wrist
        [0.77, 0.43, -0.085],  # 22 L hand
        [-0.77, 0.43, -0.085],  # 23 R hand
        [0.0, 0.78, 0.01],  # 24 head top
    ]
)
# Tube radius of the bone that ends at each point (index 0 unused).
_BONE_RADII = (0.0, 0.09, 0.09, 0.13, 0.075, 0.075, 0.13, 0.05, 0.05, 0.13, 0.04, 0.04, 0.12) + (
    0.06,
    0.06,
    0.05,
    0.055,
    0.055,
    0.045,
    0.045,
    0.038,
    0.038,
    0.03,
    0.03,
    0.095,
)
# Part label (1 L arm, 2 R arm, 3 head, 4 L leg, 5 R leg, 6 torso) of the bones each joint rotates.
_JOINT_PART = (6, 4, 5, 6, 4, 5, 6, 4, 5, 6, 4, 5, 3, 6, 6, 3, 1, 2, 1, 2, 1, 2, 1, 2)
_GENDER_SCALE = {"NEUTRAL": 1.0, "MALE": 1.04, "FEMALE": 0.96}
_FINGERTIPS = ("thumb", "index", "middle", "ring", "pinky")
# Where SMPL's landmark vertices lie, as (skeleton point, offset in metres).
_LANDMARKS = {
    "nose": (15, (0.0, 0.03, 0.11)),
    "reye": (15, (-0.035, 0.07, 0.09)),
    "leye": (15, (0.035, 0.07, 0.09)),
    "rear": (15, (-0.09, 0.05, 0.0)),
    "lear": (15, (0.09, 0.05, 0.0)),
    "LBigToe": (10, (0.0, -0.02, 0.06)),
    "LSmallToe": (10, (0.04, -0.02, 0.04)),
    "LHeel": (7, (0.0, -0.06, -0.06)),
    "RBigToe": (11, (0.0, -0.02, 0.06)),
    "RSmallToe": (11, (-0.04, -0.02, 0.04)),
    "RHeel": (8, (0.0, -0.06, -0.06)),
    # Fingertips fan out in z beyond the hand joints (thumb in front).
    **{f"l{tip}": (22, (0.05, 0.0, 0.04 - 0.02 * i)) for i, tip in enumerate(_FINGERTIPS)},
    **{f"r{tip}": (23, (-0.05, 0.0, 0.04 - 0.02 * i)) for i, tip in enumerate(_FINGERTIPS)},
}
# Skeleton point each extra regressor row regresses to (head landmarks of cocoplus are single vertices).
_EXTRA_POINTS = (2, 1, 12, HEAD_TOP, 0, 12, 6, 15, 15)
_COCOPLUS_POINTS = (8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12, HEAD_TOP)
_COCOPLUS_VERTEX_LANDMARKS = ("nose", "leye", "reye", "lear", "rear")
_H36M_POINTS = (0, 1, 4, 7, 2, 5, 8, 6, 12, 15, HEAD_TOP, 16, 18, 20, 17, 19, 21)
_LSP14_POINTS = (8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12, HEAD_TOP)
_COCO17_BODY_POINTS = (16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8)
# SPIN's mean shape (ORIGINAL.md §2.3), used as the fixture's mean betas.
_MEAN_BETAS = (
    0.20561,
    0.335563,
    -0.350683,
    0.356129,
    0.417541,
    0.030888,
    0.304757,
    0.236134,
    0.209127,
    0.312126,
)


@dataclass
class _Mesh:
    vertices: np.ndarray  # (V, 3)
    faces: np.ndarray  # (F, 3) int64
    weights: np.ndarray  # (V, 24)
    radial: np.ndarray  # (V, 3) unit vectors from each vertex's ring centre (zero at the poles)
    face_parts: np.ndarray  # (F,) int64 in 1..6
    anchor_rings: np.ndarray  # (25, RING_SIZE) vertex ids of the ring centred on each skeleton point
    landmarks: dict[str, int]  # vertex id of each SMPL landmark


def _children(point: int) -> list[int]:
    return [child for child, parent in enumerate(_PARENTS) if parent == point]


def _ring_basis(direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reference = np.array([0.0, 0.0, 1.0]) if abs(direction[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(direction, reference)
    u /= np.linalg.norm(u)
    return u, np.cross(direction, u)


def _ring_counts(num_rings: int) -> list[tuple[int, bool, int]]:
    """The tour of the skeleton as passes (bone end point, going down?, ring count): every down pass ends
    with a ring on its joint; the remaining rings go to passes in proportion to bone length."""
    passes: list[tuple[int, bool]] = []

    def visit(point: int) -> None:
        passes.append((point, True))
        for child in _children(point):
            visit(child)
        passes.append((point, False))

    for child in _children(0):
        visit(child)
    required = 1 + sum(down for _, down in passes)  # the root ring and one ring per down pass
    if num_rings < required:
        raise ValueError(f"The fixture mesh needs at least {2 + RING_SIZE * required} vertices.")
    lengths = np.array([np.linalg.norm(_REST_POINTS[p] - _REST_POINTS[_PARENTS[p]]) for p, _ in passes])
    share = lengths / lengths.sum() * (num_rings - required)
    extra = np.floor(share).astype(int)
    leftover = num_rings - required - extra.sum()
    extra[np.argsort(extra - share)[:leftover]] += 1  # largest remainders first
    return [(p, down, int(down) + int(n)) for (p, down), n in zip(passes, extra, strict=True)]


def _build_mesh(num_vertices: int, pinned_landmarks: bool) -> _Mesh:
    """The tube-tour mesh (see the module docstring). With `pinned_landmarks`, vertices are permuted so that
    SMPL's landmark ids (smplx's SMPL-H table) hold the landmarks."""
    if (num_vertices - 2) % RING_SIZE:
        raise ValueError(f"num_vertices must be 2 plus a multiple of {RING_SIZE}, got {num_vertices}.")
    angles = 2 * np.pi * np.arange(RING_SIZE) / RING_SIZE
    centres, directions, radii, skin = [], [], [], []
    anchor_ring = np.zeros(len(_PARENTS), dtype=np.int64)

    def add_ring(centre, direction, radius, joint_weights, anchor=None):
        if anchor is not None:
            anchor_ring[anchor] = len(centres)
        centres.append(centre)
        directions.append(direction)
        radii.append(radius)
        skin.append(joint_weights)

    up = _REST_POINTS[3] - _REST_POINTS[0]
    up /= np.linalg.norm(up)
    add_ring(_REST_POINTS[0], up, _BONE_RADII[3], {0: 1.0}, anchor=0)
    for point, down, count in _ring_counts((num_vertices - 2) // RING_SIZE):
        joint = _PARENTS[point]  # the joint whose rotation moves this bone
        start, end = _REST_POINTS[joint], _REST_POINTS[point]
        direction = (end - start) / np.linalg.norm(end - start)
        # Down passes end on the joint; the way back runs inside the outward tube, ends excluded.
        ts = np.arange(1, count + 1) / count if down else np.arange(count, 0, -1) / (count + 1)
        for t in ts:
            # Near the bone's start, blend with the parent joint for smooth skinning.
            blend = 0.5 * max(0.0, 1.0 - t / 0.25) if joint > 0 else 0.0
            weights = {joint: 1.0 - blend, _PARENTS[joint]: blend} if blend else {joint: 1.0}
            anchor = point if down and t == 1.0 else None
            add_ring(
                start + t * (end - start),
                direction,
                _BONE_RADII[point] * (1.0 if down else 0.8),
                weights,
                anchor,
            )

    num_rings = len(centres)
    vertices = [_REST_POINTS[0] - 0.1 * up]
    ring_weights = np.zeros((num_rings, 24))
    radial = [np.zeros(3)]
    for i in range(num_rings):
        u, w = _ring_basis(directions[i])
        offsets = np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * w
        vertices.extend(centres[i] + radii[i] * offsets)
        radial.extend(offsets)
        for joint, weight in skin[i].items():
            ring_weights[i, joint] += weight
    vertices.append(_REST_POINTS[0] + 0.05 * up)
    radial.append(np.zeros(3))
    vertices, radial = np.array(vertices), np.array(radial)
    weights = np.concatenate(
        [ring_weights[:1], np.repeat(ring_weights, RING_SIZE, axis=0), ring_weights[-1:]]
    )

    ring = 1 + RING_SIZE * np.arange(num_rings)[:, None] + np.arange(RING_SIZE)  # (R, K) vertex ids
    nxt = np.roll(ring, -1, axis=1)
    start_fan = np.stack([np.zeros(RING_SIZE, dtype=np.int64), nxt[0], ring[0]], axis=1)
    end_fan = np.stack([np.full(RING_SIZE, num_vertices - 1), ring[-1], nxt[-1]], axis=1)
    strips = np.concatenate(
        [
            np.stack([ring[:-1], ring[1:], nxt[:-1]], axis=-1).reshape(-1, 3),
            np.stack([nxt[:-1], ring[1:], nxt[1:]], axis=-1).reshape(-1, 3),
        ]
    )
    faces = np.concatenate([start_fan, strips, end_fan]).astype(np.int64)
    vertex_parts = np.array(_JOINT_PART)[weights.argmax(axis=1)]
    a, b, c = vertex_parts[faces].T
    face_parts = np.where(a == b, a, np.where(a == c, a, b))  # the majority label, else the second vertex's

    landmarks: dict[str, int] = {}
    taken: set[int] = set()
    for name, (point, offset) in _LANDMARKS.items():
        order = np.argsort(np.linalg.norm(vertices - (_REST_POINTS[point] + offset), axis=1))
        landmarks[name] = int(next(v for v in order if v not in taken))
        taken.add(landmarks[name])
    anchor_rings = ring[anchor_ring]
    if pinned_landmarks:
        # new vertex i = old vertex order[i]; swap each landmark into its SMPL id.
        order = np.arange(num_vertices)
        for name, old in landmarks.items():
            new = SMPLX_VERTEX_IDS["smplh"][name]
            position = int(np.flatnonzero(order == old)[0])
            order[[position, new]] = order[[new, position]]
        inverse = np.argsort(order)
        vertices, weights, radial = vertices[order], weights[order], radial[order]
        faces, anchor_rings = inverse[faces], inverse[anchor_rings]
        landmarks = {name: int(inverse[old]) for name, old in landmarks.items()}
    return _Mesh(vertices, faces, weights, radial, face_parts.astype(np.int64), anchor_rings, landmarks)


def _shape_and_pose_dirs(mesh: _Mesh, rng: np.random.Generator, pose_correctives: bool):
    """shapedirs (V, 3, 10): height, girth, then smooth random linear fields; posedirs (V, 3, 207)."""
    centred = mesh.vertices - _REST_POINTS[0]
    fields = [0.06 * centred * np.array([0.0, 1.0, 0.0]), 0.02 * mesh.radial]
    fields += [0.02 * centred @ rng.standard_normal((3, 3)) for _ in range(8)]
    shapedirs = np.stack(fields, axis=-1)
    num_vertices = len(mesh.vertices)
    if pose_correctives:
        posedirs = 1e-3 * rng.standard_normal((num_vertices, 3, 207))
    else:
        posedirs = np.zeros((num_vertices, 3, 207))
    return shapedirs, posedirs


def _ring_regressor(mesh: _Mesh, points: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """(len(points), V): each row a random convex combination of the ring around one skeleton point."""
    regressor = np.zeros((len(points), len(mesh.vertices)))
    for row, point in enumerate(points):
        regressor[row, mesh.anchor_rings[point]] = rng.dirichlet(np.ones(RING_SIZE))
    return regressor


def _model_arrays(mesh: _Mesh, gender: str, shapedirs: np.ndarray, posedirs: np.ndarray) -> dict:
    scale = _GENDER_SCALE[gender]
    v_template = _REST_POINTS[0] + scale * (mesh.vertices - _REST_POINTS[0])
    j_regressor = np.zeros((24, len(mesh.vertices)))
    for joint in range(24):
        j_regressor[joint, mesh.anchor_rings[joint]] = 1.0 / RING_SIZE
    return {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": j_regressor,
        "weights": mesh.weights,
        "f": mesh.faces,
        "J": j_regressor @ v_template,
    }


def _mean_pose_6d(rng: np.random.Generator) -> np.ndarray:
    """(144,) float32: global orientation diag(1, -1, -1) (upright in the camera frame), other joints near
    identity, in the 6D layout [R00, R01, R10, R11, R20, R21]."""
    rotations = np.repeat(np.eye(3)[None], 24, axis=0)
    rotations[0] = np.diag([1.0, -1.0, -1.0])
    six_d = rotations[:, :, :2].reshape(24, 6)
    six_d[1:] += 0.05 * rng.standard_normal((23, 6))
    return six_d.reshape(-1).astype(np.float32)


def fixture_face_parts(num_vertices: int = 6890) -> np.ndarray:
    """(F,) int64 labels 1..6 that both builders encode for a mesh of `num_vertices`."""
    return _build_mesh(num_vertices, pinned_landmarks=False).face_parts


def _colour_encoding(face_parts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random colour cube (100, 92, 17) of labels 1..6 and a per-face texture (1, F, 2, 2, 2, 3) whose
    colours fall, anywhere inside their cell, into cells holding each face's label."""
    cube_parts = rng.integers(1, 7, size=(100, 92, 17)).astype(np.float64)
    colours = np.zeros((len(face_parts), 3))
    for label in range(1, 7):
        cells = np.argwhere(cube_parts == label)
        faces = np.flatnonzero(face_parts == label)
        chosen = cells[rng.integers(0, len(cells), size=len(faces))]
        colours[faces] = (chosen + rng.uniform(0.1, 0.9, size=chosen.shape)) / 100
    texture = np.broadcast_to(colours[None, :, None, None, None, :], (1, len(face_parts), 2, 2, 2, 3))
    return texture.astype(np.float32), cube_parts


def write_smpl_format_assets(root: Path, num_vertices: int = 6890, seed: int = 0) -> Path:
    """Write a fake of the original's `additional/` folder into `root` (see the module docstring).

    Args:
        root: the folder to fill (created if needed); pass it as `additional_dir`.
        num_vertices: 6890 for a loadable SMPL fake (the landmark ids and regressors index SMPL's 6890
            vertices); other values (2 plus a multiple of 12, >= 6890) only serve tests of wrong files.
        seed: drives blend shapes, regressor weights, the mean pose and the colour cube.
    Returns:
        root.
    """
    root = Path(root)
    (root / "smpl").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    mesh = _build_mesh(num_vertices, pinned_landmarks=True)
    shapedirs, posedirs = _shape_and_pose_dirs(mesh, rng, pose_correctives=True)
    kintree_table = np.array([SMPL_PARENTS, range(24)], dtype=np.int64).astype(np.uint32)  # root: 2**32 - 1
    for gender in _GENDER_SCALE:
        model = _model_arrays(mesh, gender, shapedirs, posedirs)
        model.update(
            f=mesh.faces.astype(np.uint32), kintree_table=kintree_table, bs_style="lbs", bs_type="lrotmin"
        )
        with open(root / "smpl" / f"SMPL_{gender}.pkl", "wb") as file:
            pickle.dump(model, file, protocol=2)

    np.save(root / "J_regressor_extra.npy", _ring_regressor(mesh, _EXTRA_POINTS, rng))
    cocoplus = np.concatenate(
        [_ring_regressor(mesh, _COCOPLUS_POINTS, rng), np.zeros((5, num_vertices))], axis=0
    )
    for row, name in enumerate(_COCOPLUS_VERTEX_LANDMARKS, start=len(_COCOPLUS_POINTS)):
        cocoplus[row, mesh.landmarks[name]] = 1.0
    np.save(root / "cocoplus_regressor.npy", cocoplus)
    np.save(root / "J_regressor_h36m.npy", _ring_regressor(mesh, _H36M_POINTS, rng))
    np.savez(
        root / "neutral_smpl_mean_params_6dpose.npz",
        pose=_mean_pose_6d(rng),
        shape=np.array(_MEAN_BETAS, dtype=np.float32),
        cam=np.array([0.9, 0.0, 0.0], dtype=np.float32),
    )
    np.save(root / "smpl_faces.npy", mesh.faces.astype(np.int32))
    texture, cube_parts = _colour_encoding(mesh.face_parts, rng)
    np.save(root / "vertex_texture.npy", texture)
    np.save(root / "cube_parts.npy", cube_parts)
    return root


def write_open_format_assets(root: Path, num_vertices: int = 602, seed: int = 0) -> Path:
    """Write a fake of `additional/open_body/` into `root/open_body/` (the open kind's layout).

    `OPEN_BODY_{NEUTRAL,MALE,FEMALE}.npz` hold the SMPL-format keys (zero pose correctives, as the open model
    has none); `open_body_extras.npz` holds `coco17_regressor` (17, V) and `lsp14_regressor` (14, V) (face
    points single vertices, body points ring averages), `face_parts` (F,), `mean_pose_6d` (144,) and
    `mean_betas` (10,).

    Args:
        root: the assets folder; pass it as `additional_dir`.
        num_vertices: 2 plus a multiple of 12, at least 302.
        seed: drives blend shapes, regressor weights and the mean pose.
    Returns:
        root.
    """
    root = Path(root)
    folder = root / "open_body"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    mesh = _build_mesh(num_vertices, pinned_landmarks=False)
    shapedirs, posedirs = _shape_and_pose_dirs(mesh, rng, pose_correctives=False)
    kintree_table = np.array([SMPL_PARENTS, range(24)], dtype=np.int64)
    for gender in _GENDER_SCALE:
        model = _model_arrays(mesh, gender, shapedirs, posedirs)
        np.savez(folder / f"OPEN_BODY_{gender}.npz", kintree_table=kintree_table, **model)

    coco17 = np.zeros((17, num_vertices))
    for row, name in enumerate(("nose", "leye", "reye", "lear", "rear")):
        coco17[row, mesh.landmarks[name]] = 1.0
    coco17[5:] = _ring_regressor(mesh, _COCO17_BODY_POINTS, rng)
    np.savez(
        folder / "open_body_extras.npz",
        coco17_regressor=coco17,
        lsp14_regressor=_ring_regressor(mesh, _LSP14_POINTS, rng),
        face_parts=mesh.face_parts,
        mean_pose_6d=_mean_pose_6d(rng),
        mean_betas=np.zeros(10, dtype=np.float32),
    )
    return root
