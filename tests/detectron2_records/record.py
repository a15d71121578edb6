"""Record what a real detectron2 reports about the detectron2 backend's models, for the tests that run
without it:

    python tests/detectron2_records/record.py DETECTRON2_SOURCE_DIR

(in an environment with detectron2 and DensePose installed; DETECTRON2_SOURCE_DIR is a detectron2 source
checkout, for its yaml files). Writes beside this file:
- state_dict_shapes.json: {model: {state-dict name: shape}} of the models built from our config values;
- configs.json: {model: {"defaults": flat config, "from_yaml": flat config}}: detectron2's default config
  (with the project's additions) and the same after merging the model's yaml chain.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from predict.detectors.detectron2_configs import (  # noqa: E402
    DENSEPOSE,
    DENSEPOSE_LEGACY,
    KEYPOINT_RCNN,
    POINTREND,
    config_overrides,
)

MODELS = {
    "keypointrcnn": (KEYPOINT_RCNN, "configs/COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x.yaml"),
    "pointrend": (
        POINTREND,
        "projects/PointRend/configs/InstanceSegmentation/pointrend_rcnn_R_50_FPN_3x_coco.yaml",
    ),
    "densepose": (DENSEPOSE, "projects/DensePose/configs/densepose_rcnn_R_101_FPN_s1x.yaml"),
    "densepose_legacy": (
        DENSEPOSE_LEGACY,
        "projects/DensePose/configs/densepose_rcnn_R_101_FPN_s1x_legacy.yaml",
    ),
}


def base_config(model: str):
    from detectron2.config import get_cfg

    cfg = get_cfg()
    if model == "pointrend":
        from detectron2.projects.point_rend import add_pointrend_config

        add_pointrend_config(cfg)
    elif model.startswith("densepose"):
        from densepose import add_densepose_config

        add_densepose_config(cfg)
    return cfg


def flat(node, prefix: str = "") -> dict:
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = plain(value)
    return out


def plain(value):
    return [plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def main(source: Path) -> None:
    from detectron2.modeling import build_model

    shapes, configs = {}, {}
    for model, (values, yaml_file) in MODELS.items():
        defaults = base_config(model)
        from_yaml = base_config(model)
        from_yaml.merge_from_file(str(source / yaml_file))
        configs[model] = {"defaults": flat(defaults), "from_yaml": flat(from_yaml)}
        ours = base_config(model)
        ours.merge_from_list(config_overrides(values))
        ours.MODEL.DEVICE = "cpu"
        network = build_model(ours)
        shapes[model] = {name: list(t.shape) for name, t in network.state_dict().items()}
        print(f"{model}: {len(shapes[model])} weights")
    (HERE / "state_dict_shapes.json").write_text(json.dumps(shapes, indent=0) + "\n")
    (HERE / "configs.json").write_text(json.dumps(configs, indent=0, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
