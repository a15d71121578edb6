"""The proxy representation and its inverse, one home for training, validation, prediction and evaluation.

- `proxy.crop`: the body crop (silhouette bounding box -> square box -> resampled maps and joints);
- `proxy.heatmaps`: 2D joints -> the original's Gaussian heatmaps;
- `proxy.representation`: silhouette + heatmaps -> the network input (B, 18, R, R);
- `proxy.bodies`: the regressor's output -> rotation matrices -> posed bodies (`BodyEstimate`).
Whatever the regressor sees or returns passes through these modules, so training and inference cannot
drift apart.
"""
