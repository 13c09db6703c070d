"""The client-facing API: auth, request parsing, routing, relay and the /v1 views. No models."""
