"""Graders of answers and the LLM-judge prompt, shared by the eval and shadow mode."""
