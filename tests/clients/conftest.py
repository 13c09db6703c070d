"""The client recipes run as their users run them: each a program of its own, in its own
process, against the live gateway and fake upstream of tests/gateway/conftest.py."""

from tests.gateway.conftest import (  # noqa: F401 (fixtures)
    gateway,
    gateway_server,
    upstream_server,
)
