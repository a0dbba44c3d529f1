"""Problem 2's helpers beside vae_sevens.py. For the VAE: MNIST's clean sevens (`mnist`), the run's
data (`data`), the warped broadcast decoder (`warped_decoder`), the axes the code is read on
(`axes`), the run's figures (`figures`) and its metrics.json (`run_record`). Then what was done to
the poor sevens, one question per module, in reading order:

- `critic`: does anything differ? A two-sample critic, poor sevens against clean ones;
- `image_checks`: what do the images themselves say (noise, a map of the square, only the greys,
  only the fine detail, a few pixels)? `evidence_from_images` gathers them;
- `changes`: the candidate changes as differentiable code (warps, blurs, stroke width, the
  one-parameter kinds);
- `descriptors`: how well each family of change explains a change, and its null (unrelated pairs);
- `verdict`: which family, beyond its null, and in what words;
- `cross_checks`: does the named change look like the poor sevens to the critic? Else the images
  name a filter or content;
- `along_axis`: all of it along the effect axis of a VAE's code (`describe_axis`).
"""
