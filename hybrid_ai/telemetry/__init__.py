"""Records, cost, energy, structlog processors and sinks."""
