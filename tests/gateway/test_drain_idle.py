"""SIGTERM with idle kept-alive connections: a request a proxy sends on one as the gateway stops
is answered as that connection's last, not reset (a proxy may not send such a POST elsewhere),
and the connection closes at its keep-alive timeout at the latest."""

import signal
import socket
import time

from tests.gateway.process_helpers import gateway_process

KEEPALIVE_SECONDS = 2


def _answer(sock: socket.socket) -> bytes:
    """One chunked answer to a GET /healthz."""
    answer = b""
    while not answer.endswith(b"0\r\n\r\n"):
        received = sock.recv(65536)
        assert received, f"closed after {answer!r}"
        answer += received
    return answer


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while received := sock.recv(65536):
        data += received
    return data


def test_a_request_on_an_idle_connection_as_the_gateway_stops_is_answered(gateway):
    environment = {"GATEWAY_KEEPALIVE_TIMEOUT": str(KEEPALIVE_SECONDS)}
    with gateway_process(**environment) as (server, url):
        port = int(url.rsplit(":", 1)[1])
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as used,
            socket.create_connection(("127.0.0.1", port), timeout=10) as unused,
        ):
            used.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _answer(used).startswith(b"HTTP/1.1 200")
            server.send_signal(signal.SIGTERM)
            time.sleep(0.5)  # the listener has closed; both connections are idle
            used.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            last = _answer(used)
            started = time.monotonic()
            closed_unused = _read_all(unused)
            waited = time.monotonic() - started

            assert last.startswith(b"HTTP/1.1 200")
            assert b"connection: close" in last.lower()
            assert _read_all(used) == b""
            assert closed_unused == b""
            assert waited < KEEPALIVE_SECONDS + 1
        server.wait(timeout=15)  # and the process stops
