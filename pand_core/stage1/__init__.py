"""Stage 1, Prompt-aware Semantic Calibration: the prompt learner, its training and a Stage 1 run."""
