"""Builds the open SMPL-format body model from Anny and writes `additional/open_body/`.

    python -m tools.open_body.build [--out additional/open_body] [--bodies-per-gender 300] [--seed 0]

Steps: sample adult Anny bodies of each gender; T-pose them (`tpose`); place SMPL's 24 joints on Anny's bones
(`skeleton`); move every body so that its pelvis joint sits where SMPL's does; keep the skin (Anny's
eyeballs and mouth interior are separate closed meshes, invisible in silhouettes); fit the joint, COCO-17
and LSP-14 regressors over all bodies; PCA shape spaces for neutral (both genders), male and female; write
the files, their README (statistics included) and a preview picture. Seeded: the same command writes the
same files (up to float32 round-off across platforms). Needs the development dependency `anny`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.open_body import anny_source, fitting, mesh, parts, report, skeleton, tpose
from utils.joint_names import NUM_BETAS, SMPL_PARENTS

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "additional" / "open_body"
GENDERS = ("neutral", "male", "female")
NUM_POSE_BASIS = 207  # 23 joints x 9 rotation-matrix entries: SMPL's pose correctives, zero here
# Where SMPL's neutral template has its pelvis joint (about 0.22 m below the origin): with the same origin
# convention, cameras placed for SMPL bodies (the original's t = (0, 0.2, 42) m) frame these bodies alike.
PELVIS_POSITION = np.array([0.0, -0.22, 0.03])
# Joint regressor rows use at most this many vertices, the nearest ones within this radius (metres) that the
# joint, its parent or its children skin. The radius must span the torso's half depth, or the spine joints,
# which lie near the back, fall outside the convex hull of their candidates.
REGRESSOR_RADIUS = 0.25
REGRESSOR_CANDIDATES = 600
EYE_RADIUS = 0.04  # skin vertices around an eye that replace Anny's eyeball vertices in the eye keypoints
HEAD_TOP_RADIUS = 0.01  # vertices averaged into the LSP head-top point
# LSP-14 (ORIGINAL.md §3): R ankle, R knee, R hip, L hip, L knee, L ankle, R wrist, R elbow, R shoulder,
# L shoulder, L elbow, L wrist, neck, head top. All but the head top are rows of the joint regressor.
LSP14_FROM_SMPL = (8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12)
# COCO-17 keypoints that name an SMPL joint (checked to lie close to it): COCO index -> SMPL joint index.
COCO17_TO_SMPL = {5: 16, 6: 17, 7: 18, 8: 19, 9: 20, 10: 21, 11: 1, 12: 2, 13: 4, 14: 5, 15: 7, 16: 8}


@dataclass(frozen=True)
class Bodies:
    """Sampled bodies, T-posed, pelvis at `PELVIS_POSITION`, skin vertices only (SMPL frame, float64).

    Attributes:
        vertices: (N, V, 3).
        joints: (N, 24, 3) SMPL joints placed on Anny's bones.
        coco17: (N, 17, 3) Anny's COCO keypoints (computed on the whole mesh, eyeballs included).
        gender: (N,) "male" or "female".
    """

    vertices: np.ndarray
    joints: np.ndarray
    coco17: np.ndarray
    gender: np.ndarray


@dataclass(frozen=True)
class OpenBodyModel:
    """Everything written to `additional/open_body/` (float64 here, float32 in the files)."""

    shape_spaces: dict[str, fitting.ShapeSpace]  # per gender
    faces: np.ndarray  # (F, 3)
    weights: np.ndarray  # (V, 24)
    j_regressor: np.ndarray  # (24, V)
    coco17_regressor: np.ndarray  # (17, V)
    lsp14_regressor: np.ndarray  # (14, V)
    face_parts: np.ndarray  # (F,) 1..6
    refitted_keypoints: tuple[int, ...]  # COCO-17 rows refitted on the skin (the eyes)


def mean_pose_6d() -> np.ndarray:
    """(144,) the IEF initial pose: global orientation 180 degrees about x, diag(1, -1, -1) (an upright body
    in the y-down camera frame), identity body joints (the T-pose); 6D layout of ORIGINAL.md §2.4, the first
    two columns of each rotation read row by row."""
    rotations = np.tile(np.eye(3), (skeleton.NUM_JOINTS, 1, 1))
    rotations[0] = np.diag([1.0, -1.0, -1.0])
    return rotations[:, :, :2].reshape(-1)


def sample_tposed_bodies(
    model, rig: anny_source.AnnyRig, skin: np.ndarray, per_gender: int, seed: int
) -> Bodies:
    """Samples `per_gender` bodies of each gender and brings them into the model's frame and pose."""
    vertices, joints, coco17, genders = [], [], [], []
    for offset, gender in enumerate(("male", "female")):
        sample = anny_source.sample_bodies(model, per_gender, gender, seed + offset)
        posed, heads = tpose.tpose(
            sample.vertices, sample.bone_heads, rig.bone_weights, rig.bone_labels, rig.bone_parents
        )
        body_joints = skeleton.smpl_joints(heads, rig.bone_labels)
        shift = (PELVIS_POSITION - body_joints[:, 0])[:, None, :]
        vertices.append(posed[:, skin] + shift)
        joints.append(body_joints + shift)
        coco17.append(np.einsum("kv,nvc->nkc", rig.coco17_regressor, posed) + shift)
        genders += [gender] * per_gender
    return Bodies(np.concatenate(vertices), np.concatenate(joints), np.concatenate(coco17), np.array(genders))


def _candidates(mean_vertices: np.ndarray, point: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Indices of the allowed vertices nearest to point: at most REGRESSOR_CANDIDATES, within
    REGRESSOR_RADIUS."""
    distance = np.where(allowed, np.linalg.norm(mean_vertices - point, axis=1), np.inf)
    nearest = np.argsort(distance, kind="stable")[:REGRESSOR_CANDIDATES]
    return nearest[distance[nearest] < REGRESSOR_RADIUS]


def _regressor_row(bodies_vertices: np.ndarray, targets: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(V,) convex regressor row over `candidates` reproducing targets (N, 3) on every body."""
    row = np.zeros(bodies_vertices.shape[1])
    row[candidates] = fitting.fit_convex_regressor(bodies_vertices[:, candidates], targets)
    return row


def fit_joint_regressor(bodies: Bodies, weights: np.ndarray) -> np.ndarray:
    """(24, V) convex rows reproducing each SMPL joint over all bodies, from vertices that the joint, its
    parent or one of its children skins."""
    mean_vertices = bodies.vertices.mean(axis=0)
    mean_joints = bodies.joints.mean(axis=0)
    parents = np.array(SMPL_PARENTS)
    rows = []
    for j in range(skeleton.NUM_JOINTS):
        related = [j, *np.flatnonzero(parents == j)] + ([parents[j]] if parents[j] >= 0 else [])
        candidates = _candidates(mean_vertices, mean_joints[j], weights[:, related].sum(axis=1) > 0)
        rows.append(_regressor_row(bodies.vertices, bodies.joints[:, j], candidates))
    return np.stack(rows)


def coco17_regressor(
    rig: anny_source.AnnyRig, skin: np.ndarray, bodies: Bodies
) -> tuple[np.ndarray, tuple[int, ...]]:
    """(17, V) Anny's COCO keypoint weights on the skin, and the rows refitted. Keypoints that use dropped
    vertices (the eyes, partly on the eyeballs) are refitted on the skin around them to reproduce Anny's
    keypoints over all bodies."""
    regressor = rig.coco17_regressor[:, skin]
    mean_vertices = bodies.vertices.mean(axis=0)
    refitted = tuple(int(k) for k in np.flatnonzero(rig.coco17_regressor[:, ~skin].sum(axis=1) > 0))
    for k in refitted:
        near = np.linalg.norm(mean_vertices - bodies.coco17[:, k].mean(axis=0), axis=1) < EYE_RADIUS
        regressor[k] = _regressor_row(bodies.vertices, bodies.coco17[:, k], np.flatnonzero(near))
    return regressor, refitted


def lsp14_regressor(j_regressor: np.ndarray, mean_vertices: np.ndarray) -> np.ndarray:
    """(14, V): joint-regressor rows, and the head top as the mean of the vertices within HEAD_TOP_RADIUS of
    the mean body's highest vertex."""
    top = mean_vertices[np.argmax(mean_vertices[:, 1])]
    head_top = (np.linalg.norm(mean_vertices - top, axis=1) < HEAD_TOP_RADIUS).astype(np.float64)
    return np.concatenate([j_regressor[list(LSP14_FROM_SMPL)], head_top[None] / head_top.sum()])


def build_model(
    per_gender: int, seed: int, log: Callable[[str], None] = print
) -> tuple[OpenBodyModel, Bodies]:
    """Runs Anny and every fit; returns the model (float64) and the bodies it was fitted on."""
    model = anny_source.load_anny()
    rig = anny_source.read_rig(model)
    components = mesh.vertex_components(rig.faces, len(rig.bone_weights))
    skin = components == np.bincount(components).argmax()
    new_index = np.cumsum(skin) - 1
    faces = new_index[rig.faces[skin[rig.faces].all(axis=1)]]
    log(f"Anny {anny_source.anny_version()}: skin {skin.sum()} of {len(skin)} vertices, {len(faces)} faces")

    bodies = sample_tposed_bodies(model, rig, skin, per_gender, seed)
    log(f"sampled and T-posed {len(bodies.vertices)} bodies")
    weights = skeleton.merge_weights(rig.bone_weights[skin], rig.bone_labels)
    j_regressor = fit_joint_regressor(bodies, weights)
    log("fitted the joint regressor")
    members = {"neutral": np.ones(len(bodies.gender), dtype=bool), "male": bodies.gender == "male"}
    members["female"] = bodies.gender == "female"
    shape_spaces = {
        gender: fitting.shape_pca(bodies.vertices[members[gender]], NUM_BETAS) for gender in GENDERS
    }
    coco17, refitted = coco17_regressor(rig, skin, bodies)
    open_body = OpenBodyModel(
        shape_spaces=shape_spaces,
        faces=faces,
        weights=weights,
        j_regressor=j_regressor,
        coco17_regressor=coco17,
        lsp14_regressor=lsp14_regressor(j_regressor, shape_spaces["neutral"].mean),
        face_parts=parts.face_parts(faces, weights),
        refitted_keypoints=refitted,
    )
    return open_body, bodies


def smpl_format_arrays(open_body: OpenBodyModel, gender: str) -> dict[str, np.ndarray]:
    """The keys `smplx.SMPL` reads, float32 (rows of `weights` and `J_regressor` sum to 1 in float32)."""
    space = open_body.shape_spaces[gender]
    num_vertices = len(space.mean)
    return {
        "v_template": space.mean.astype(np.float32),
        "shapedirs": space.dirs.astype(np.float32),
        "posedirs": np.zeros((num_vertices, 3, NUM_POSE_BASIS), dtype=np.float32),
        "J_regressor": _rows_summing_to_one(open_body.j_regressor),
        "weights": _rows_summing_to_one(open_body.weights),
        "kintree_table": np.array([SMPL_PARENTS, range(skeleton.NUM_JOINTS)], dtype=np.int64),
        "f": open_body.faces.astype(np.int32),
    }


def extras_arrays(open_body: OpenBodyModel) -> dict[str, np.ndarray]:
    return {
        "coco17_regressor": _rows_summing_to_one(open_body.coco17_regressor),
        "lsp14_regressor": _rows_summing_to_one(open_body.lsp14_regressor),
        "face_parts": open_body.face_parts.astype(np.int64),
        "mean_pose_6d": mean_pose_6d().astype(np.float32),
        "mean_betas": np.zeros(NUM_BETAS, dtype=np.float32),
    }


def _rows_summing_to_one(matrix: np.ndarray) -> np.ndarray:
    rows = matrix.astype(np.float32)
    return rows / rows.sum(axis=1, keepdims=True)


def write_files(open_body: OpenBodyModel, out_dir: Path) -> None:
    """Writes the three SMPL-format models and the extras into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for gender in GENDERS:
        np.savez_compressed(
            out_dir / f"OPEN_BODY_{gender.upper()}.npz", **smpl_format_arrays(open_body, gender)
        )
    np.savez_compressed(out_dir / "open_body_extras.npz", **extras_arrays(open_body))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--bodies-per-gender", type=int, default=300, help="Anny bodies sampled per gender")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    open_body, bodies = build_model(args.bodies_per_gender, args.seed)
    write_files(open_body, args.out)
    defaults = (args.bodies_per_gender, args.seed) == (parser.get_default("bodies_per_gender"), 0)
    options = "" if defaults else f" --bodies-per-gender {args.bodies_per_gender} --seed {args.seed}"
    report.write_documentation(
        args.out,
        bodies.vertices,
        bodies.joints,
        bodies.coco17,
        bodies.gender,
        fields={
            "command": f"python -m tools.open_body.build{options}",
            "anny_version": anny_source.anny_version(),
            "bodies_per_gender": str(args.bodies_per_gender),
            "seed": str(args.seed),
        },
        coco17_to_smpl=COCO17_TO_SMPL,
        refitted_keypoints=open_body.refitted_keypoints,
    )
    for path in sorted(args.out.iterdir()):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    print(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
