"""Evaluation: `hybrid-ai eval` (suites, graders, the answer cache and runner, the sweep, reports)."""

DEFAULT_SUITE = "assistant-traffic"  # what `hybrid-ai eval` runs with no --suite
REPLAY_MODEL = "gpt-4-1106-preview"  # whose recorded answers replay the cloud tier by default (RouteLLM's strong model)
