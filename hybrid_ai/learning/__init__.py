"""Offline learning from outcomes: outcome data, router and verifier training, calibration, router metrics,
shadow outcomes, and the `hybrid-ai router` commands."""
