"""Anchoring: the outbox's pending leaves -> one Merkle root per batch -> TraceAnchor -> final.

worker (AnchorWorker), transactions (the anchoring calls, signed into the store), finality
(when a block counts as final), lease (one sending worker per account).
"""
