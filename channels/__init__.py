"""Upstream channels: provider accounts, the models they serve and their prices, and health."""
