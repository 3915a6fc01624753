"""Settlement: delivery + SLA terms + the agreed devices' readings -> the oracle's attestation
-> dispute window -> payouts.

worker (SettlementWorker), attestation / attestation_v2 (the facts each escrow release attests),
oracle_tx (the oracle's one transaction in flight).
"""
