"""Execution and scoring: the judge. Bottom layer — imports neither `synth` nor `train`."""
