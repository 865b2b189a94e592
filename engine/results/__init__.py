"""Every recipient's fate after a run (`a2p outcomes`, engine.outcomes): the journal's
rows matched to the message store, and the outcomes file.

May import: every room below it (errors, core, reading, batching, config, rc, run).
"""
