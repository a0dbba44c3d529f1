"""Problem 1's helpers beside speaker_verification.py: the field's measures of a verifier (`measures`) and
the run's figures (`figures`)."""
