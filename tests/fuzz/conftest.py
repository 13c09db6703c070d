"""Fixtures of the fuzz suite: one live gateway process for the package, an HTTP client.

The data is committed (the subprocess reads it over its own connections) and flushed when the
package is done, as `transactional_db` does after each of its tests.
"""

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from django.core.management import call_command

from bench.fake_upstream import running_fake_upstream
from tests.fuzz.live import LiveGateway, stderr_into, stock
from tests.gateway.process_helpers import gateway_process


@pytest.fixture(scope="package")
def live_gateway(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    """The gateway in a subprocess for the fuzz package; it must still serve at the end."""
    log = tmp_path_factory.mktemp("fuzz-gateway") / "gateway.log"
    with running_fake_upstream() as upstream:
        with django_db_blocker.unblock():
            key = stock(upstream)
        try:
            with ExitStack() as stack:
                with stderr_into(log):
                    process, url = stack.enter_context(gateway_process())
                live = LiveGateway(url=url, process=process, key=key, log=log)
                yield live
                live.assert_serving()
        finally:
            with django_db_blocker.unblock():
                call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def http(live_gateway: LiveGateway) -> Iterator[httpx.Client]:
    """A plain keep-alive HTTP client on the gateway, without a key of its own."""
    with httpx.Client(base_url=live_gateway.url, timeout=30) as client:
        yield client
