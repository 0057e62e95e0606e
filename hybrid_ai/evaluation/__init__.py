"""Evaluation: suites (items with references) and graders. `hybrid-ai eval` builds on these."""
