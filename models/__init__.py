"""The regressor (ResNet + IEF), its checkpoints, and the SMPL-format body models behind one bundle."""
