"""Evaluation: metrics (pure functions), the evaluator and result tables."""
