"""Durable state: unit state item by item in a table, and the ledger of what the alerts topic says."""
