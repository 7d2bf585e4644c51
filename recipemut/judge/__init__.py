"""Judging a prediction like an A/B test: statistics and verdicts."""
