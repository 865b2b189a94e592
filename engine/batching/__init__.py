"""Pure: records into request bodies that stay under the byte limit, byte-exact, and the
dry-run plan (`a2p plan`).

May import: engine.errors, engine.core, engine.reading.
"""
