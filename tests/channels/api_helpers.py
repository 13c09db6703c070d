"""Shared URLs, payloads and assertions for the channel management API tests."""

from typing import Any

from rest_framework.response import Response

LIST = "/api/admin/channels/"
SECRET = "sk-upstream-0123456789-SECRETabcd"
OTHER_SECRET = "sk-upstream-9876543210-ROTATEDwxyz"


def detail(channel_id: int) -> str:
    return f"{LIST}{channel_id}/"


def payload(**overrides: Any) -> dict[str, Any]:
    """A complete, valid channel as an operator would create it."""
    body: dict[str, Any] = {
        "name": "openai-main",
        "provider": "openai",
        "api_type": "openai",
        "base_url": "https://api.openai.com/v1",
        "api_key": SECRET,
        "priority": 10,
        "weight": 3,
        "enabled": True,
        "first_token_timeout": 5.5,
        "timeout": 60.0,
        "models": [
            {
                "model": "openai/gpt-4o-mini",
                "upstream_model": "gpt-4o-mini",
                "input_price": "0.15",
                "output_price": "0.6",
                "cached_input_price": "0.075",
                "cache_write_price": "0.1875",
                "cache_write_1h_price": "0.3",
            },
            {"model": "openai/gpt-4o", "input_price": "2.5", "output_price": "10"},
        ],
    }
    body.update(overrides)
    return body


def dig(body: Any, path: tuple[str | int, ...]) -> Any:
    """The error(s) at `path` in a DRF error body; fails the test when the path is absent."""
    node = body
    for step in path:
        assert isinstance(node, dict | list), f"no {path!r} in {body!r}"
        if isinstance(node, dict):
            # DRF reports errors of list items either as a list or keyed by the item's index.
            key = str(step) if isinstance(step, int) and step not in node else step
            assert key in node, f"no {path!r} in {body!r}"
            node = node[key]
        else:
            assert isinstance(step, int), f"no {path!r} in {body!r}"
            assert step < len(node), f"no {path!r} in {body!r}"
            node = node[step]
    return node


def assert_secret_hidden(response: Response, *secrets: str) -> None:
    """Neither a secret nor anything but its last four characters appears in the body."""
    text = response.content.decode()
    for secret in secrets:
        assert secret not in text
        assert secret[:-4] not in text
    assert "api_key_encrypted" not in text
