"""The reports benchmark: every report query and dashboard page over a million usage records."""
