"""RingCentral over HTTP: the transport seam (the one place aiohttp is touched), the API
client (the A2P calls), the OAuth session (auth), rate budgets, Basic auth, RingCentral's
error codes.

May import: engine.errors, core, reading, batching, config.
"""
