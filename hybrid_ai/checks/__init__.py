"""Checks of an answer: cascade mode's verifier and its answer features, and the check of a structured (JSON) answer."""
