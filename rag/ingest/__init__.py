"""From files, web addresses and feeds to `Document`s and their chunks: reading and decoding,
news metadata, guarded fetching, feed subscriptions, chunking.
"""
