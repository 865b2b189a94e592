"""Build tools run by hand (python -m tools.X): never imported by the engine, not shipped."""
