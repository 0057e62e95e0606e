"""Adapters to other packages' extension points (each imports its package only when used)."""
