"""Training-only random changes of shapes, cameras, crops and proxy representations, batch-vectorised."""
