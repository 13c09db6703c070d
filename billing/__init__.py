"""Accounts, API keys, usage records and the ledger: who may call, and what it cost."""
