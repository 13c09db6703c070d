"""Parse and validate a chat completion request body.

Everything a client can get wrong is answered here with a 400 naming `param`; unknown fields
are kept and go upstream untouched. Below this module the request is assumed valid.
"""

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, cast

import orjson

from channels.adapters.reasoning import reasoning_of
from channels.models import PARAMETERS
from gateway.errors import InvalidRequest
from gateway.schemas import ChatRequest, ProviderPreferences, SortBy

GATEWAY_FIELDS = ("provider", "models", "route")
MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
REASONING_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"})
RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})
TOOL_CHOICES = frozenset({"none", "auto", "required"})
SORTS = frozenset({"price", "latency", "throughput"})
PARTITIONS = frozenset({"model", "none"})
MAX_FALLBACK_MODELS = 10

INVALID_JSON = "The request body is not valid JSON."
NOT_AN_OBJECT = "The request body must be a JSON object."

Check = Callable[[Any, str], None]


def _fail(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid value for '{param}': {message}", param=param)


def _is_choice(value: Any, choices: frozenset[str]) -> bool:
    """Whether `value` is one of the allowed strings (any JSON value may arrive here)."""
    return isinstance(value, str) and value in choices


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def number_in(low: float, high: float) -> Check:
    """A number (or null) within [low, high]."""

    def check(value: Any, param: str) -> None:
        if value is not None and not (_is_number(value) and low <= value <= high):
            raise _fail(param, f"expected a number from {low:g} to {high:g}.")

    return check


def int_in(low: int, high: int | None = None) -> Check:
    """An integer (or null) of at least `low` and at most `high`."""

    def check(value: Any, param: str) -> None:
        if value is None:
            return
        if not _is_int(value) or value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise _fail(param, f"expected an integer {bound}.")

    return check


def of_type(kind: type, name: str) -> Check:
    """A value (or null) of the given JSON type."""

    def check(value: Any, param: str) -> None:
        if value is not None and not isinstance(value, kind):
            raise _fail(param, f"expected {name}.")

    return check


def one_of(choices: frozenset[str]) -> Check:
    """One of the given strings (or null)."""

    def check(value: Any, param: str) -> None:
        if value is not None and not _is_choice(value, choices):
            raise _fail(param, f"expected one of {', '.join(sorted(choices))}.")

    return check


def _check_stop(value: Any, param: str) -> None:
    if value is None or isinstance(value, str):
        return
    if not (
        isinstance(value, list)
        and 1 <= len(value) <= 4
        and all(isinstance(item, str) for item in value)
    ):
        raise _fail(param, "expected a string or an array of 1 to 4 strings.")


def _check_logit_bias(value: Any, param: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not all(
        _is_int(bias) and -100 <= bias <= 100 for bias in value.values()
    ):
        raise _fail(param, "expected an object of token ids to integers from -100 to 100.")


def _check_tools(value: Any, param: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise _fail(param, "expected an array of tools.")
    for index, tool in enumerate(value):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise _fail(f"{param}[{index}]", "expected a tool object with a 'type'.")
        function = tool.get("function")
        if tool["type"] == "function" and not (
            isinstance(function, dict) and isinstance(function.get("name"), str)
        ):
            raise _fail(f"{param}[{index}].function", "expected an object with a 'name'.")


def _check_tool_choice(value: Any, param: str) -> None:
    if value is None or _is_choice(value, TOOL_CHOICES):
        return
    if not (isinstance(value, dict) and isinstance(value.get("type"), str)):
        raise _fail(param, "expected none, auto, required or a tool choice object.")


def _check_response_format(value: Any, param: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not _is_choice(value.get("type"), RESPONSE_FORMATS):
        raise _fail(param, "expected an object whose 'type' is text, json_object or json_schema.")
    if value["type"] == "json_schema" and not isinstance(value.get("json_schema"), dict):
        raise _fail(f"{param}.json_schema", "expected an object.")


def _check_reasoning(value: Any, param: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _fail(param, "expected an object.")
    effort = value.get("effort")
    if effort is not None and not _is_choice(effort, REASONING_EFFORTS):
        raise _fail(f"{param}.effort", f"expected one of {', '.join(sorted(REASONING_EFFORTS))}.")
    int_in(0)(value.get("max_tokens"), f"{param}.max_tokens")
    for name in ("exclude", "enabled"):
        of_type(bool, "a boolean")(value.get(name), f"{param}.{name}")


def _check_metadata(value: Any, param: str) -> None:
    if value is None:
        return
    if (
        not isinstance(value, dict)
        or len(value) > 16
        or not all(
            isinstance(key, str) and len(key) <= 64 and isinstance(item, str) and len(item) <= 512
            for key, item in value.items()
        )
    ):
        raise _fail(param, "expected at most 16 string pairs (keys ≤ 64, values ≤ 512 chars).")


FIELD_CHECKS: dict[str, Check] = {
    "temperature": number_in(0, 2),
    "top_p": number_in(0, 1),
    "n": int_in(1, 128),
    "stream": of_type(bool, "a boolean"),
    "stream_options": of_type(dict, "an object"),
    "stop": _check_stop,
    "max_tokens": int_in(1),
    "max_completion_tokens": int_in(1),
    "presence_penalty": number_in(-2, 2),
    "frequency_penalty": number_in(-2, 2),
    "logit_bias": _check_logit_bias,
    "logprobs": of_type(bool, "a boolean"),
    "top_logprobs": int_in(0, 20),
    "seed": int_in(-(2**63), 2**63 - 1),
    "user": of_type(str, "a string"),
    "tools": _check_tools,
    "tool_choice": _check_tool_choice,
    "parallel_tool_calls": of_type(bool, "a boolean"),
    "response_format": _check_response_format,
    "reasoning_effort": one_of(REASONING_EFFORTS),
    "metadata": _check_metadata,
    "store": of_type(bool, "a boolean"),
    "top_k": int_in(-1),
    "min_p": number_in(0, 1),
    "repetition_penalty": number_in(0, 2),
    "reasoning": _check_reasoning,
}


def _check_message(message: Any, param: str) -> None:
    if not isinstance(message, dict):
        raise _fail(param, "expected a message object.")
    role = message.get("role")
    if not _is_choice(role, MESSAGE_ROLES):
        raise _fail(f"{param}.role", f"expected one of {', '.join(sorted(MESSAGE_ROLES))}.")
    content = message.get("content")
    if content is None:
        if role == "assistant" and (message.get("tool_calls") or message.get("function_call")):
            return
        if role == "assistant" and "content" in message:
            return
        raise _fail(f"{param}.content", "a message needs content.")
    if isinstance(content, list):
        for index, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise _fail(f"{param}.content[{index}]", "expected a part with a 'type'.")
    elif not isinstance(content, str):
        raise _fail(f"{param}.content", "expected a string or an array of parts.")
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise _fail(f"{param}.tool_call_id", "a tool message needs its tool_call_id.")


def _string_list(value: Any, param: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise _fail(param, "expected an array of non-empty strings.")
    return tuple(value)


def _max_price(value: Any, param: str) -> tuple[Decimal | None, Decimal | None]:
    if not isinstance(value, dict):
        raise _fail(param, "expected an object with 'prompt' and/or 'completion'.")
    limits: list[Decimal | None] = []
    for name in ("prompt", "completion"):
        limit = value.get(name)
        if limit is not None and not (_is_number(limit) and limit >= 0):
            raise _fail(f"{param}.{name}", "expected a non-negative number (USD per 1M tokens).")
        limits.append(None if limit is None else Decimal(str(limit)))
    return limits[0], limits[1]


def _sort(value: Any, param: str) -> tuple[SortBy | None, str]:
    partition = "model"
    if isinstance(value, dict):
        partition = value.get("partition") or "model"
        if not _is_choice(partition, PARTITIONS):
            raise _fail(f"{param}.partition", "expected model or none.")
        value = value.get("by")
    if value is not None and not _is_choice(value, SORTS):
        raise _fail(param, "expected price, latency or throughput.")
    return cast(SortBy | None, value), partition


def request_needs(data: Mapping[str, Any]) -> frozenset[str]:
    """The capabilities a request uses: `tools`, `vision` (an image part), `json_schema`."""
    needs = set()
    if data.get("tools"):
        needs.add("tools")
    response_format = data.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        needs.add("json_schema")
    for message in data.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(
            isinstance(part, dict) and part.get("type") == "image_url" for part in content
        ):
            needs.add("vision")
            break
    return frozenset(needs)


def request_parameters(data: Mapping[str, Any]) -> frozenset[str]:
    """The optional parameters a request sets (`reasoning_effort` counts as `reasoning`)."""
    used = {name for name in PARAMETERS if data.get(name) is not None}
    if data.get("reasoning_effort") is not None:
        used.add("reasoning")
    return frozenset(used)


def parse_provider(value: Any, data: Mapping[str, Any] | None = None) -> ProviderPreferences:
    """OpenRouter's `provider` object with what the request body `data` needs of a channel;
    slugs lower-cased; unknown preferences are ignored."""
    body: Mapping[str, Any] = data or {}
    needs, parameters = request_needs(body), request_parameters(body)
    if value is None:
        return ProviderPreferences(needs=needs, parameters=parameters)
    if not isinstance(value, dict):
        raise _fail("provider", "expected an object.")
    allow_fallbacks = value.get("allow_fallbacks", True)
    if not isinstance(allow_fallbacks, bool):
        raise _fail("provider.allow_fallbacks", "expected a boolean.")
    require_parameters = value.get("require_parameters", False)
    if not isinstance(require_parameters, bool):
        raise _fail("provider.require_parameters", "expected a boolean.")

    def slugs(name: str) -> tuple[str, ...] | None:
        raw = value.get(name)
        if raw is None:
            return None
        return tuple(slug.lower() for slug in _string_list(raw, f"provider.{name}"))

    sort, partition = _sort(value.get("sort"), "provider.sort")
    prompt, completion = (
        _max_price(value["max_price"], "provider.max_price")
        if value.get("max_price") is not None
        else (None, None)
    )
    return ProviderPreferences(
        only=slugs("only"),
        ignore=slugs("ignore") or (),
        order=slugs("order"),
        allow_fallbacks=allow_fallbacks,
        sort=sort,
        sort_partition="none" if partition == "none" else "model",
        max_price_prompt=prompt,
        max_price_completion=completion,
        require_parameters=require_parameters,
        needs=needs,
        parameters=parameters,
    )


def parse_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; InvalidRequest when it is not valid JSON or not an object."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(INVALID_JSON) from None
    if not isinstance(data, dict):
        raise InvalidRequest(NOT_AN_OBJECT)
    return data


def parse_fallbacks(data: Mapping[str, Any], model: str) -> tuple[str, ...]:
    """OpenRouter's `models` (fallbacks after `model`, which is left out of them); InvalidRequest
    naming `models` when it is not a short list of model ids."""
    fallback_models = data.get("models")
    fallbacks = () if fallback_models is None else _string_list(fallback_models, "models")
    if len(fallbacks) > MAX_FALLBACK_MODELS:
        raise _fail("models", f"at most {MAX_FALLBACK_MODELS} fallback models.")
    return tuple(name for name in fallbacks if name != model)


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Validate a chat completion body; raise InvalidRequest naming the first bad `param`."""
    data = parse_object(raw)
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise _fail("model", "a model id is required.")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _fail("messages", "expected a non-empty array of messages.")
    for index, message in enumerate(messages):
        _check_message(message, f"messages[{index}]")
    for name, check in FIELD_CHECKS.items():
        if name in data:
            check(data[name], name)
    if data.get("top_logprobs") is not None and data.get("logprobs") is not True:
        raise _fail("top_logprobs", "requires logprobs to be true.")
    fallbacks = parse_fallbacks(data, model)
    stream_options: Mapping[str, Any] = data.get("stream_options") or {}
    max_output = data.get("max_completion_tokens") or data.get("max_tokens")
    reasoning = reasoning_of(data)
    return ChatRequest(
        model=model,
        body={key: value for key, value in data.items() if key not in GATEWAY_FIELDS},
        stream=data.get("stream") is True,
        include_usage=stream_options.get("include_usage") is True,
        fallback_models=fallbacks,
        provider=parse_provider(data.get("provider"), data),
        max_output_tokens=max_output,
        n=data.get("n") or 1,
        user=data.get("user") or "",
        exclude_reasoning=reasoning is not None and reasoning.exclude,
    )
