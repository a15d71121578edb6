"""Helpers every layer may use: rotations, cameras, metrics, file reading, runtime, the error hierarchy."""
