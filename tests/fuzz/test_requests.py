"""Fuzzed requests against the live gateway: any method on client paths, junk paths and query
strings, random and broken Authorization and other headers, and HTTP framing sent over a raw
socket (bad Content-Length, chunked junk, header junk)."""

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import strategies as fuzz
from tests.fuzz.checks import Answer, violation
from tests.fuzz.live import FUZZ, NORMAL_BODY, FuzzRequest, exchange

pytestmark = pytest.mark.django_db

body = st.one_of(st.none(), st.just(b'{"model": "gpt-4o-mini", "messages": []}'), fuzz.odd_body)


@settings(FUZZ, max_examples=250)
@given(method=st.sampled_from(fuzz.METHODS), path=fuzz.client_path(), data=st.data(), body=body)
def test_any_method_path_and_headers_are_answered_within_the_rule(
    live_gateway, http, method, path, data, body
):
    headers = data.draw(fuzz.headers(live_gateway.key))
    exchange(live_gateway, http, FuzzRequest(method, path, headers, body))


def _framing(key: str) -> st.SearchStrategy[bytes]:
    """A request as raw bytes whose HTTP framing may be broken anywhere."""
    valid = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'
    length = st.one_of(
        st.sampled_from([b"-1", b"abc", b"99999999999", b"1e3", b"", b" 5", b"0x10", b"10, 20"]),
        st.integers(0, 200).map(lambda n: str(n).encode()),
    )
    chunked = st.sampled_from(
        [b"zz\r\nabc\r\n0\r\n\r\n", b"5\r\nab\r\n0\r\n\r\n", b"ffffffffffff\r\n", b"0\r\n\r\n"]
    )
    junk_header = st.sampled_from(
        [b"NoColon", b": empty-name", b"X-\x00: nul", b"X-A:\r\n b", b"X-B: \xff\xfe", b" lead: x"]
    )

    @st.composite
    def request(draw: st.DrawFn) -> bytes:
        line = draw(
            st.sampled_from(
                [
                    b"POST /v1/chat/completions HTTP/1.1",
                    b"POST /v1/chat/completions HTTP/1.0",
                    b"POST /v1/chat/completions HTTP/9.9",
                    b"POST  /v1/chat/completions HTTP/1.1",
                    b"BREW /v1/models HTTP/1.1",
                    b"GET /v1/models\x00 HTTP/1.1",
                    b"GET http://evil.example/v1/models HTTP/1.1",
                    b"GET * HTTP/1.1",
                ]
            )
        )
        heads = [b"Host: 127.0.0.1", b"Authorization: Bearer " + key.encode()]
        framing = draw(st.sampled_from(["length", "chunked", "both", "none"]))
        content = valid
        if framing in ("length", "both"):
            heads.append(b"Content-Length: " + draw(length))
        if framing in ("chunked", "both"):
            heads.append(b"Transfer-Encoding: chunked")
            content = draw(chunked)
        heads.extend(draw(st.lists(junk_header, max_size=2)))
        return line + b"\r\n" + b"\r\n".join(heads) + b"\r\n\r\n" + content

    return request()


def _raw(port: int, request: bytes) -> bytes:
    """Send `request`, half-close, and read what comes back until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return received


@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_broken_http_framing_is_answered_within_the_rule(live_gateway, data):
    request = data.draw(_framing(live_gateway.key))
    received = _raw(live_gateway.port, request)
    if not received:
        return  # the server may close a connection it cannot parse at all
    head, _, rest = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1").strip()
        for name, _, value in (line.partition(b":") for line in header_lines)
    }
    body = rest
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunked(rest)
    answer = Answer(status, headers, body)
    problem = violation(answer, method="POST", path="/v1/chat/completions")
    assert problem is None, f"{problem}\nrequest: {request[:400]!r}\nanswer: {received[:600]!r}"


def _unchunked(data: bytes) -> bytes:
    body = b""
    while data:
        size, _, data = data.partition(b"\r\n")
        length = int(size.split(b";")[0] or b"0", 16)
        if length == 0:
            break
        body, data = body + data[:length], data[length + 2 :]
    return body


def test_the_gateway_still_answers_a_normal_request(live_gateway, http):
    response = http.post(
        "/v1/chat/completions",
        json=NORMAL_BODY,
        headers={"Authorization": f"Bearer {live_gateway.key}"},
    )
    assert response.status_code == 200
