"""Settings: the packaged and local profiles, the RC_* environment, credentials, and
where each effective value came from (`a2p config`). Reads files; connects to nothing.

May import: engine.errors and the pure rooms (core, reading, batching).
"""
