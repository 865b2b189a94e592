"""Pure decisions and the vocabulary they speak: rejections by input position, the
message-index map, the lifecycle table, the retry policy, reconciliation after a lost
answer, paging bounds. No file, clock, network or randomness of its own: everything
is passed in, so every decision is tested without a server.

May import: engine.errors.
"""
