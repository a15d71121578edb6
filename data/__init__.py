"""Pose sources for training and validation: the original's npz files and a procedural sampler."""
