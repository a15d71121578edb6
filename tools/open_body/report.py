"""Statistics of a built open body model, and its README (`README.template.md` filled with them).

Everything here is computed from the float32 arrays as written, so the README describes the shipped files.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np

from tools.open_body import preview, skeleton
from tools.open_body.anny_source import ADULT_AGE_YEARS, GENDER_RANGES
from tools.open_body.parts import PART_NAMES
from utils.joint_names import COCO17_NAMES, SMPL_JOINT_NAMES

TEMPLATE = Path(__file__).with_name("README.template.md")


def stature(vertices: np.ndarray) -> np.ndarray:
    """(..., V, 3) -> (...,) vertical extent in metres."""
    return np.ptp(vertices[..., 1], axis=-1)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def shape_table(models: dict[str, dict[str, np.ndarray]], bodies_vertices: dict[str, np.ndarray]) -> str:
    """Per model: mean stature, stature at beta_0 = -2 / +2, variance kept by the 10 components, and how
    far the fitted bodies are from their projection on the shape space."""
    rows = []
    for gender, arrays in models.items():
        mean, dirs = arrays["v_template"].astype(np.float64), arrays["shapedirs"].astype(np.float64)
        flat_dirs = dirs.reshape(-1, dirs.shape[-1])
        bodies = bodies_vertices[gender]
        centred = (bodies - mean).reshape(len(bodies), -1)
        betas = np.linalg.lstsq(flat_dirs, centred.T, rcond=None)[0].T  # (N, 10)
        residual = np.linalg.norm((centred - betas @ flat_dirs.T).reshape(bodies.shape), axis=-1)
        kept = 1.0 - np.sum((centred - betas @ flat_dirs.T) ** 2) / np.sum(centred**2)
        low, high = (stature(mean + dirs[:, :, 0] * s) for s in (-2.0, 2.0))
        p5, median, p95 = np.percentile(stature(bodies), [5, 50, 95])
        rows.append(
            [
                gender,
                str(len(bodies)),
                f"{p5:.3f} / {median:.3f} / {p95:.3f}",
                f"{stature(mean):.3f}",
                f"{low:.3f} / {high:.3f}",
                f"{100 * kept:.1f} %",
                f"{1000 * residual.mean():.1f} / {1000 * residual.max():.1f}",
            ]
        )
    return _table(
        [
            "model",
            "bodies",
            "sampled stature p5 / median / p95 (m)",
            "mean-body stature (m)",
            "stature at beta_0 = -2 / +2 (m)",
            "shape variance kept",
            "fitted bodies to shape space, mean / max (mm)",
        ],
        rows,
    )


def joint_table(j_regressor: np.ndarray, vertices: np.ndarray, joints: np.ndarray) -> str:
    """Per SMPL joint: where it comes from, its regressor's vertex count and error over the fitted bodies."""
    errors = np.linalg.norm(np.einsum("jv,nvc->njc", j_regressor, vertices) - joints, axis=-1) * 1000
    rows = []
    for j, name in enumerate(SMPL_JOINT_NAMES):
        rows.append(
            [
                f"{j} {name}",
                _describe_position(name),
                ", ".join(skeleton.joint_bones(name)),
                str(int(np.count_nonzero(j_regressor[j]))),
                f"{errors[:, j].mean():.1f} / {errors[:, j].max():.1f}",
            ]
        )
    return _table(
        [
            "SMPL joint",
            "position (Anny bone heads)",
            "Anny bones skinned",
            "vertices",
            "fit error mean / max (mm)",
        ],
        rows,
    )


def _describe_position(joint: str) -> str:
    if joint == "pelvis":
        return f"hip joints' midpoint, raised to the height of {skeleton.PELVIS_HEIGHT_BONE}"
    bones = skeleton.joint_position_bones(joint)
    return bones[0] if len(bones) == 1 else "mean of " + ", ".join(bones)


def keypoint_errors(
    regressor: np.ndarray, vertices: np.ndarray, targets: np.ndarray, rows: tuple[int, ...]
) -> str:
    """Mean / max distance in mm between regressed keypoints `rows` and their targets over the bodies."""
    errors = np.linalg.norm(np.einsum("kv,nvc->nkc", regressor, vertices) - targets, axis=-1) * 1000
    return ", ".join(f"{COCO17_NAMES[k]} {errors[:, k].mean():.1f} / {errors[:, k].max():.1f}" for k in rows)


def render_readme(**fields: str) -> str:
    """The README: the template with its $fields substituted (a missing field is an error)."""
    return string.Template(TEMPLATE.read_text()).substitute(
        ages=f"{ADULT_AGE_YEARS[0]:.0f}-{ADULT_AGE_YEARS[1]:.0f}",
        male_genders=f"{GENDER_RANGES['male'][0]}-{GENDER_RANGES['male'][1]}",
        female_genders=f"{GENDER_RANGES['female'][0]}-{GENDER_RANGES['female'][1]}",
        **fields,
    )


def write_documentation(
    out_dir: Path,
    vertices: np.ndarray,
    joints: np.ndarray,
    coco17: np.ndarray,
    gender: np.ndarray,
    fields: dict[str, str],
    coco17_to_smpl: dict[int, int],
    refitted_keypoints: tuple[int, ...],
) -> None:
    """Writes `preview.png` and `README.md` next to the model files already in out_dir.

    Args:
        vertices, joints, coco17: (N, V, 3), (N, 24, 3), (N, 17, 3) the fitted bodies and their targets.
        gender: (N,) "male" or "female" per body.
        fields: template fields known to the caller (command, seed, bodies_per_gender, anny_version).
        coco17_to_smpl: COCO keypoint index -> index of the SMPL joint it names.
        refitted_keypoints: COCO keypoints refitted on the skin.
    """
    models = {g: dict(np.load(out_dir / f"OPEN_BODY_{g.upper()}.npz")) for g in ("neutral", "male", "female")}
    extras = dict(np.load(out_dir / "open_body_extras.npz"))
    neutral = models["neutral"]
    mean, dirs, faces = neutral["v_template"], neutral["shapedirs"], neutral["f"]
    variations = [("beta_0", 0, -2.0), ("beta_0", 0, 2.0), ("beta_1", 1, -2.0), ("beta_1", 1, 2.0)]
    preview.write_preview(
        out_dir / "preview.png",
        [mean] + [mean + s * dirs[:, :, k] for _, k, s in variations],
        faces,
        ["mean"] + [f"{name} = {s:+.0f}" for name, _, s in variations],
    )
    mean_joints = neutral["J_regressor"] @ mean
    keypoints = extras["coco17_regressor"] @ mean
    distances = [np.linalg.norm(keypoints[c] - mean_joints[j]) for c, j in coco17_to_smpl.items()]
    wrists = mean_joints[[20, 21], 1] - mean_joints[[16, 17], 1]
    sizes = {path.name: path.stat().st_size / 1e6 for path in sorted(out_dir.glob("*.npz"))}
    sizes["preview.png"] = (out_dir / "preview.png").stat().st_size / 1e6
    parts = np.bincount(extras["face_parts"], minlength=len(PART_NAMES) + 1)[1:]
    bodies_by_model = {
        "neutral": vertices,
        "male": vertices[gender == "male"],
        "female": vertices[gender == "female"],
    }
    readme = render_readme(
        **fields,
        num_vertices=str(len(mean)),
        num_faces=str(len(faces)),
        sizes=", ".join(f"`{name}` {size:.2f} MB" for name, size in sizes.items())
        + f", {sum(sizes.values()):.1f} MB in all",
        joint_table=joint_table(neutral["J_regressor"].astype(np.float64), vertices, joints),
        shape_table=shape_table(models, bodies_by_model),
        wrist_height=f"{1000 * np.abs(wrists).max():.1f} mm from shoulder height",
        wrist_span=f"{mean_joints[20, 0] - mean_joints[21, 0]:.3f}",
        hand_span=f"{np.ptp(mean[:, 0]):.3f}",
        coco_distance=f"{100 * min(distances):.1f} to {100 * max(distances):.1f} cm",
        eye_errors=keypoint_errors(
            extras["coco17_regressor"].astype(np.float64), vertices, coco17, refitted_keypoints
        ),
        part_counts=", ".join(f"{name} {count}" for name, count in zip(PART_NAMES, parts, strict=True)),
    )
    (out_dir / "README.md").write_text(readme)
