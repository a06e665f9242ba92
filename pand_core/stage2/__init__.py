"""Stage 2, Neighborhood-aware Structural Distillation: the trainer, what it trains on, the teacher targets."""
