"""Synthetic training: on-device batch generation (synthetic_batch, poses), losses, the training loop
(trainer, with training_model, validation, checkpointing, summaries, monitor, distributed), benchmark."""
