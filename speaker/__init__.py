"""Problem 1's helpers beside speaker_verification.py, each named after what it holds: the data
(`data`), the training augmentations (`augment`), the scoring of the fixed pair sets (`evaluation`),
the field's measures of a verifier (`measures`), the baseline without training (`baseline`), the
run's figures (`figures`) and metrics.json's description of a run (`run_description`)."""
