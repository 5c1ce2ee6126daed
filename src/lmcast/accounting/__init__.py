"""Accounting: FLOP arithmetic per architecture, the ledger of reservations and charges,
and its database (SQLite or PostgreSQL). Built on :mod:`lmcast.core`; knows no model
weights.
"""
