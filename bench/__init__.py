"""Switchyard benchmark tooling: the fake upstream, the load driver and the report."""
