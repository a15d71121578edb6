"""The detectron2 model configurations of the original's detectors, as config values (no yaml files).

Each model is detectron2's default config plus the values below, which are what the model-zoo and project
yaml chains set for inference (Base-RCNN-FPN, then the model's own file); training-only values are left out.
Keeping them here means any working detectron2 install serves: a regular (non-editable) install has no
`projects/*/configs`, and its model-zoo configs need `pkg_resources`, which setuptools 82 removed.

- `KEYPOINT_RCNN`: COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x, ROI_HEADS.SCORE_THRESH_TEST 0.7 as in the
  original; weights from detectron2's model zoo (`KEYPOINT_RCNN_WEIGHTS_URL`).
- `POINTREND`: PointRend InstanceSegmentation/pointrend_rcnn_R_50_FPN_3x_coco (R50-FPN, 80 COCO classes,
  coarse mask head FC 1024 x 2 on p2 at 7 x 7, point head FC 256 x 3), detectron2's default thresholds.
  Weights in the layout before detectron2's 2020-11 PointRend rewrite (the original's file) are renamed to
  this layout when read (`detectron2_weights`).
- `DENSEPOSE`: DensePose densepose_rcnn_R_101_FPN_s1x (R101-FPN, DensePoseV1ConvXHead, 2 coarse
  segmentation channels, 28 x 28 pooler, decoder); `DENSEPOSE_LEGACY` the same model with the heads the
  original's file has (15 coarse segmentation channels, 14 x 14 pooler, 56 px heatmaps, no decoder), chosen
  by the weights' shapes.
"""

from __future__ import annotations

from typing import Any

KEYPOINT_RCNN_WEIGHTS_URL = (
    "https://dl.fbaipublicfiles.com/detectron2/COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x/137849621/"
    "model_final_a6e10b.pkl"
)

# Base-RCNN-FPN: ResNet-FPN backbone, RPN on p2-p6, standard ROI heads on p2-p5.
_RCNN_FPN: dict[str, Any] = {
    "MODEL.META_ARCHITECTURE": "GeneralizedRCNN",
    "MODEL.BACKBONE.NAME": "build_resnet_fpn_backbone",
    "MODEL.RESNETS.OUT_FEATURES": ["res2", "res3", "res4", "res5"],
    "MODEL.FPN.IN_FEATURES": ["res2", "res3", "res4", "res5"],
    "MODEL.ANCHOR_GENERATOR.SIZES": [[32], [64], [128], [256], [512]],
    "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS": [[0.5, 1.0, 2.0]],
    "MODEL.RPN.IN_FEATURES": ["p2", "p3", "p4", "p5", "p6"],
    "MODEL.RPN.PRE_NMS_TOPK_TEST": 1000,
    "MODEL.RPN.POST_NMS_TOPK_TEST": 1000,
    "MODEL.ROI_HEADS.NAME": "StandardROIHeads",
    "MODEL.ROI_HEADS.IN_FEATURES": ["p2", "p3", "p4", "p5"],
    "MODEL.ROI_BOX_HEAD.NAME": "FastRCNNConvFCHead",
    "MODEL.ROI_BOX_HEAD.NUM_FC": 2,
    "MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION": 7,
    # No dataset metadata is looked up at inference.
    "DATASETS.TEST": [],
}
# Base-RCNN-FPN's mask head (Base-DensePose-RCNN-FPN, otherwise the same, leaves it at the defaults).
_MASK_HEAD: dict[str, Any] = {
    "MODEL.ROI_MASK_HEAD.NAME": "MaskRCNNConvUpsampleHead",
    "MODEL.ROI_MASK_HEAD.NUM_CONV": 4,
    "MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION": 14,
}

KEYPOINT_RCNN: dict[str, Any] = {
    **_RCNN_FPN,
    **_MASK_HEAD,
    "MODEL.KEYPOINT_ON": True,
    "MODEL.RESNETS.DEPTH": 50,
    "MODEL.ROI_HEADS.NUM_CLASSES": 1,
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST": 0.7,
}

POINTREND: dict[str, Any] = {
    **_RCNN_FPN,
    **_MASK_HEAD,
    "MODEL.MASK_ON": True,
    "MODEL.RESNETS.DEPTH": 50,
    "MODEL.ROI_MASK_HEAD.NAME": "PointRendMaskHead",
    "MODEL.ROI_MASK_HEAD.POOLER_TYPE": "",  # the coarse head samples p2 itself
    "MODEL.ROI_MASK_HEAD.FC_DIM": 1024,
    "MODEL.ROI_MASK_HEAD.NUM_FC": 2,
    "MODEL.ROI_MASK_HEAD.OUTPUT_SIDE_RESOLUTION": 7,
    "MODEL.ROI_MASK_HEAD.IN_FEATURES": ["p2"],
    "MODEL.ROI_MASK_HEAD.POINT_HEAD_ON": True,
    "MODEL.POINT_HEAD.FC_DIM": 256,
    "MODEL.POINT_HEAD.NUM_FC": 3,
    "MODEL.POINT_HEAD.IN_FEATURES": ["p2"],
}

DENSEPOSE: dict[str, Any] = {
    **_RCNN_FPN,
    "MODEL.DENSEPOSE_ON": True,
    "MODEL.RESNETS.DEPTH": 101,
    "MODEL.ROI_HEADS.NAME": "DensePoseROIHeads",
    "MODEL.ROI_HEADS.NUM_CLASSES": 1,
    "MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO": 2,
    "MODEL.ROI_BOX_HEAD.POOLER_TYPE": "ROIAlign",
    "MODEL.ROI_DENSEPOSE_HEAD.NAME": "DensePoseV1ConvXHead",
    "MODEL.ROI_DENSEPOSE_HEAD.POOLER_TYPE": "ROIAlign",
    "MODEL.ROI_DENSEPOSE_HEAD.NUM_COARSE_SEGM_CHANNELS": 2,
}

DENSEPOSE_LEGACY: dict[str, Any] = {
    **DENSEPOSE,
    "MODEL.ROI_DENSEPOSE_HEAD.NUM_COARSE_SEGM_CHANNELS": 15,
    "MODEL.ROI_DENSEPOSE_HEAD.POOLER_RESOLUTION": 14,
    "MODEL.ROI_DENSEPOSE_HEAD.HEATMAP_SIZE": 56,
    "MODEL.ROI_DENSEPOSE_HEAD.DECODER_ON": False,
}


def config_overrides(values: dict[str, Any]) -> list[Any]:
    """Config values as the flat [key, value, key, value, ...] list of detectron2's `merge_from_list`."""
    return [item for pair in values.items() for item in pair]
