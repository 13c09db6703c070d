"""No HTML and no 500 on client paths: OPTIONS answers, unknown paths get a 404 envelope naming
them, and the inputs that once crashed a view get a 400 or a 404; client strings repeated in
errors and logs are bounded."""

import logging

import httpx
import orjson
import pytest

from gateway.clip import CUT_MARK
from tests.gateway.client_errors_helpers import MESSAGES, MODEL, assert_envelope, post
from tests.gateway.process_helpers import gateway_process

ENDPOINTS = {
    "/v1/chat/completions": "POST, OPTIONS",
    "/api/v1/chat/completions": "POST, OPTIONS",
    "/openai/v1/chat/completions": "POST, OPTIONS",
    "/chat/completions": "POST, OPTIONS",
    "/v1/models": "GET, HEAD, OPTIONS",
    "/v1/models/gpt-4o-mini": "GET, HEAD, OPTIONS",
    "/v1/key": "GET, HEAD, OPTIONS",
    "/v1/generation": "GET, HEAD, OPTIONS",
    "/v1/embeddings": "POST, OPTIONS",
}


@pytest.mark.parametrize("with_key", [True, False])
@pytest.mark.parametrize(("path", "allow"), ENDPOINTS.items())
def test_options_answers_the_methods_an_endpoint_takes(gateway, path, allow, with_key):
    headers = {"Authorization": f"Bearer {gateway.key}"} if with_key else {}
    response = httpx.options(gateway.url + path, headers=headers)
    assert response.status_code == 204
    assert response.headers["allow"] == allow


@pytest.mark.parametrize(
    "path",
    [
        "/v1/completions",
        "/v1/chat/completions/",
        "/V1/chat/completions",
        "/api/v1/nothing/here",
        "/openai/v1/",
        "/v1/" + "x" * 5000,
    ],
)
def test_unknown_client_paths_get_a_404_envelope_naming_the_path(gateway, path):
    with gateway.http() as http:
        response = http.post(path, json={"model": MODEL, "messages": MESSAGES})
    error = assert_envelope(response, 404, "invalid_request_error", "not_found")
    assert f"'POST {path[:200]}" in error["message"]
    assert len(error["message"]) < 300


def test_paths_outside_the_client_api_keep_django_s_page(gateway):
    response = httpx.get(gateway.url + "/nothing-here/")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_tools_nested_deeper_than_json_writes_are_a_400(gateway):
    gateway.channel("paths")
    # Parses (orjson reads up to 1024 levels) but is deeper than orjson writes (254 levels).
    schema = b'{"type": "object", "properties": {"x": ' * 300 + b"{}" + b"}}" * 300
    body = (
        b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "tools": '
        b'[{"type": "function", "function": {"name": "f", "parameters": ' + schema + b"}}]}"
    )
    response = post(gateway, body)
    assert_envelope(response, 400, "invalid_request_error", "invalid_request", "tools")


@pytest.mark.parametrize("record_id", ["\x00", "req_\x00abc", "r" * 5000])
def test_a_generation_id_no_record_can_have_is_a_404(gateway, record_id):
    with gateway.http() as http:
        response = http.get("/v1/generation", params={"id": record_id})
    error = assert_envelope(response, 404, "invalid_request_error", "generation_not_found", "id")
    assert len(error["message"]) < 300


def test_a_huge_model_name_is_cut_in_the_error_the_log_and_the_record(gateway, caplog):
    gateway.channel("paths")
    model = "m" * 19_000_000
    with caplog.at_level(logging.INFO, logger="switchyard.requests"):
        response = post(gateway, {"model": model, "messages": MESSAGES})
    error = assert_envelope(response, 404, "invalid_request_error", "model_not_found", "model")
    assert error["message"] == (
        f"The model '{'m' * 200}{CUT_MARK}' does not exist or no channel serves it."
    )
    assert len(response.content) < 1000
    assert max(len(record.getMessage()) for record in caplog.records) < 2000
    (line,) = [r.getMessage() for r in caplog.records if r.name == "switchyard.requests"]
    assert orjson.loads(line)["model"] == "m" * 200 + CUT_MARK
    assert gateway.record().model == "m" * 200


def test_cors_preflight_and_headers_for_an_allowed_origin(gateway):
    origin = "https://app.example.com"
    with gateway_process(GATEWAY_CORS_ORIGINS=origin) as (_, url):
        preflight = httpx.options(
            f"{url}/v1/chat/completions",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        answer = httpx.get(f"{url}/v1/models", headers={"Origin": origin})
        stranger = httpx.get(f"{url}/v1/models", headers={"Origin": "https://evil.example"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == origin
    assert "x-request-id" in answer.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in stranger.headers


def test_client_mistakes_write_no_django_request_lines(gateway, caplog):
    with caplog.at_level(logging.INFO), httpx.Client(base_url=gateway.url) as http:
        for _ in range(20):
            http.get("/v1/" + "x" * 5000)
            http.get("/v1/models", headers={"Authorization": "Bearer sk-sy-nobody"})
    assert [r for r in caplog.records if r.name == "django.request"] == []
