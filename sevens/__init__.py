"""Problem 2's helpers beside vae_sevens.py: MNIST's clean sevens (`mnist`), the description of what changed
in the poor sevens (`image_change`) and the run's figures (`figures`)."""
