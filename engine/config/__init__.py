"""Settings: the packaged and local profiles, the RC_* environment, credentials, and
where each effective value came from (`a2p config`). Reads files; connects to nothing.

settings (the profile's sections and ``load_settings``), table (reading a table by the types of
a dataclass's fields), profiles (which profile, and where), credentials (RC_* or the demo
ones), effective (`a2p config`).

May import: engine.errors and the pure rooms (core, reading, batching).
"""
