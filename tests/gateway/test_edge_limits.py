"""The edge's bounds, against a real gateway process over raw sockets: bodies refused before
they are read, connections that overstay closed, a connection flood that locks nobody out."""

import resource
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from billing.models import UsageRecord
from tests.gateway.process_helpers import gateway_process

GIB = 1024**3


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


@contextmanager
def _connection(url: str, timeout: float = 10) -> Iterator[socket.socket]:
    sock = socket.create_connection(_address(url), timeout=timeout)
    try:
        yield sock
    finally:
        sock.close()


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or a reset)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return received


def _status_and_body(response: bytes) -> tuple[int, dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), orjson.loads(body)


def _headers(response: bytes) -> dict[str, str]:
    """The response's headers by lower-case name (the last of each)."""
    lines = response.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}


def _written_bytes(pid: int) -> int:
    """Bytes the process has written with write() and friends: files, sockets, pipes."""
    with open(f"/proc/{pid}/io") as io:
        fields = dict(line.split(": ") for line in io.read().splitlines())
    return int(fields["wchar"])


def _upload(sock: socket.socket, head: bytes, chunk: bytes, total: int, sent: list[int]) -> None:
    """Send `head`, then `chunk` over and over up to `total` bytes or until the server hangs up."""
    try:
        sock.sendall(head)
        while sent[0] < total:
            sock.sendall(chunk)
            sent[0] += len(chunk)
    except OSError:
        pass


def _refused_upload(url: str, head: bytes, chunk: bytes, total: int) -> tuple[bytes, float, int]:
    """Upload while reading the answer: the answer, seconds until it came, body bytes sent."""
    with _connection(url) as sock:
        sent = [0]
        sender = threading.Thread(target=_upload, args=(sock, head, chunk, total, sent))
        started = time.monotonic()
        sender.start()
        response = _read_all(sock)
        elapsed = time.monotonic() - started
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sender.join(timeout=10)
    return response, elapsed, sent[0]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/admin/login/"])
def test_a_2_gb_upload_is_answered_413_at_once_and_nothing_is_spooled(gateway, path):
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {2 * GIB}\r\n\r\n"
    ).encode()
    with gateway_process() as (server, url):
        before = _written_bytes(server.pid)
        response, elapsed, sent = _refused_upload(url, head, b"x" * 1024 * 1024, 2 * GIB)
        written = _written_bytes(server.pid) - before
    status, body = _status_and_body(response)
    assert status == 413
    assert body["error"]["code"] == "request_too_large"
    assert elapsed < 1
    assert written < 64 * 1024  # the answer and a log line, not the upload
    assert sent < 256 * 1024 * 1024


def test_a_chunked_body_is_cut_off_at_the_limit(gateway):
    limit = 4 * 1024 * 1024
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + gateway.key.encode() + b"\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    with gateway_process(GATEWAY_MAX_BODY_BYTES=str(limit)) as (server, url):
        before = _written_bytes(server.pid)
        response, _, sent = _refused_upload(url, head, chunk, GIB)
        written = _written_bytes(server.pid) - before
    status, body = _status_and_body(response)
    assert status == 413
    assert body["error"]["message"] == f"The request body is larger than {limit} bytes."
    assert written < limit  # at most what Django spooled below the limit
    assert sent < limit + 64 * 1024 * 1024  # the rest was never read
    assert UsageRecord.objects.count() == 0  # refused before the view: nothing to bill


def test_a_content_length_longer_than_the_body_is_not_waited_for(gateway):
    with gateway_process() as (_, url), _connection(url) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 99999999999\r\n\r\n{}"
        )
        status, _ = _status_and_body(_read_all(sock))
        assert status == 413
        assert time.monotonic() - started < 1


def test_a_body_that_stops_arriving_is_timed_out(gateway):
    with gateway_process(GATEWAY_BODY_TIMEOUT="1") as (_, url), _connection(url) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"model": '
        )
        status, body = _status_and_body(_read_all(sock))
        assert status == 408
        assert body["error"]["code"] == "request_timeout"
        assert 0.9 < time.monotonic() - started < 5


def test_refused_bodies_carry_a_request_id_and_an_allowed_origins_cors_headers(gateway):
    origin = "https://app.example.com"
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOrigin: %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    )
    refused = []
    with gateway_process(GATEWAY_CORS_ORIGINS=origin, GATEWAY_BODY_TIMEOUT="1") as (_, url):
        for declared, sent in ((2 * GIB, b""), (100, b'{"model": ')):  # too large, too slow
            with _connection(url) as sock:
                sock.sendall(head % (origin.encode(), declared) + sent)
                refused.append(_read_all(sock))
    assert [_status_and_body(response)[0] for response in refused] == [413, 408]
    for response in refused:
        headers = _headers(response)
        assert headers["x-request-id"].startswith("req_")
        assert headers["access-control-allow-origin"] == origin
        assert "x-request-id" in headers["access-control-expose-headers"]


def test_connections_that_send_no_request_in_time_are_closed(gateway):
    with (
        gateway_process(GATEWAY_HEADER_TIMEOUT="1") as (_, url),
        _connection(url) as idle,
        _connection(url) as drip,
    ):
        started = time.monotonic()
        drip.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n")
        dripping = threading.Event()

        def drip_headers() -> None:
            try:
                for i in range(40):
                    drip.sendall(f"X-Drip-{i}: y\r\n".encode())
                    time.sleep(0.25)
            except OSError:
                dripping.set()

        threading.Thread(target=drip_headers, daemon=True).start()
        assert _read_all(idle) == b""
        assert time.monotonic() - started < 4
        assert dripping.wait(timeout=5), "a drip of headers kept its connection open"
        assert time.monotonic() - started < 6


def test_a_head_over_the_size_limit_is_refused_431(gateway):
    with gateway_process(GATEWAY_MAX_HEADER_BYTES="8192") as (_, url), _connection(url) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 20000 + b"\r\n")
        status, body = _status_and_body(_read_all(sock))
    assert status == 431
    assert body["error"]["code"] == "request_header_too_large"


def test_a_head_just_over_the_size_limit_in_one_read_is_refused_431(gateway):
    limit = 65536
    url_path, name = b"/v1/models", b"X-Junk"
    value = b"a" * (limit + 1 - len(url_path) - len(b"Host") - len(b"x") - len(name))
    head = b"GET %s HTTP/1.1\r\nHost: x\r\n%s: %s\r\n\r\n" % (url_path, name, value)
    with gateway_process(GATEWAY_MAX_HEADER_BYTES=str(limit)) as (_, url):
        with _connection(url) as sock:
            sock.sendall(head)
            refused = _read_all(sock)
        with _connection(url) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            normal = _read_all(sock)
    assert refused.startswith(b"HTTP/1.1 431 ")
    assert _status_and_body(refused)[1]["error"]["code"] == "request_header_too_large"
    assert normal.startswith(b"HTTP/1.1 200")


def test_an_idle_kept_alive_connection_is_closed(gateway):
    with gateway_process(GATEWAY_KEEPALIVE_TIMEOUT="1") as (_, url), _connection(url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while not first.endswith(b"0\r\n\r\n"):  # the end of the chunked answer
            first += sock.recv(65536)
        started = time.monotonic()
        assert first.startswith(b"HTTP/1.1 200")
        assert _read_all(sock) == b""
        assert time.monotonic() - started < 4


def test_a_flood_of_idle_connections_locks_no_client_out(gateway):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 1400:
        pytest.skip("this test opens 1,100 connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1400), hard))
    idle: list[socket.socket] = []
    try:
        with gateway_process(descriptors=1024) as (server, url):
            for _ in range(1100):
                try:
                    idle.append(socket.create_connection(_address(url), timeout=5))
                except OSError:
                    break
            time.sleep(0.5)
            headers = {"Authorization": f"Bearer {gateway.key}"}
            statuses = [
                httpx.get(f"{url}/v1/models", headers=headers, timeout=10).status_code
                for _ in range(20)
            ]
            assert server.poll() is None
    finally:
        for sock in idle:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert len(idle) == 1100
    assert statuses == [200] * 20


def test_a_client_that_stops_reading_a_stream_is_disconnected_and_billed(gateway):
    gateway.channel("edge-long", models={"long": "gpt-4o-mini@words=100000"})
    body = orjson.dumps(
        {
            "model": "long",
            "stream": True,
            "max_tokens": 100_000,
            "messages": [{"role": "user", "content": "talk"}],
        }
    )
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + gateway.key.encode() + b"\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    with gateway_process(GATEWAY_WRITE_TIMEOUT="1") as (_, url):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(_address(url))
        try:
            sock.sendall(head + body)
            deadline = time.monotonic() + 30
            while not UsageRecord.objects.filter(model="long").exists():
                assert time.monotonic() < deadline, "the stalled stream was never recorded"
                time.sleep(0.2)
        finally:
            sock.close()
    record = UsageRecord.objects.get(model="long")
    assert (record.status, record.error_code) == ("cancelled", "client_disconnected")
    assert record.completion_tokens > 0
    assert record.cost > 0
