"""Fault directives: the grammar that tells the fake upstream how to misbehave for one request.

A directive is ``key=value`` options separated by ``;``. It travels either in the
``x-fake-fault`` request header or after the last ``@`` of the requested model name
(``gpt-4o-mini@status=429;retry_after=2``); when both are present, header options win.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

FAULT_HEADER = "x-fake-fault"
MODEL_SEPARATOR = "@"
OPTION_SEPARATOR = ";"
DEFAULT_WORDS = 8
MAX_WORDS = 100_000
_MAX_MS = 3_600_000
_MAX_COUNT = 1_000_000

# key -> (minimum, maximum) for integer options.
_INT_OPTIONS: dict[str, tuple[int, int]] = {
    "status": (400, 599),
    "latency_ms": (0, _MAX_MS),
    "ttft_ms": (0, _MAX_MS),
    "stall_after": (0, _MAX_COUNT),
    "stall_ms": (-1, _MAX_MS),
    "cut_after": (0, _MAX_COUNT),
    "malformed_after": (0, _MAX_COUNT),
    "error_after": (0, _MAX_COUNT),
    "words": (0, MAX_WORDS),
    "chunk_delay_ms": (0, _MAX_MS),
    "cached_tokens": (0, _MAX_COUNT),
    "cache_write_tokens": (0, _MAX_COUNT),
    "cache_write_1h_tokens": (0, _MAX_COUNT),
}
_FLOAT_OPTIONS: dict[str, tuple[float, float]] = {"retry_after": (0.0, 86_400.0)}
_BOOL_OPTIONS = frozenset({"no_usage", "echo", "drop", "echo_credential", "no_tools"})
# key -> the values it takes.
_CHOICE_OPTIONS: dict[str, frozenset[str]] = {"prompt_tokens": frozenset({"words", "bytes"})}
_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no"})
KNOWN_OPTIONS = (
    frozenset(_INT_OPTIONS) | frozenset(_FLOAT_OPTIONS) | _BOOL_OPTIONS | frozenset(_CHOICE_OPTIONS)
)


class FaultDirectiveError(ValueError):
    """A directive that cannot be parsed; the server answers it with HTTP 400."""


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do wrong (or how to pace) for one request; the defaults mean "behave normally"."""

    status: int | None = None
    retry_after: float | None = None
    latency_ms: int = 0
    ttft_ms: int = 0
    stall_after: int | None = None
    stall_ms: int = -1
    cut_after: int | None = None
    malformed_after: int | None = None
    error_after: int | None = None
    no_usage: bool = False
    words: int = DEFAULT_WORDS
    chunk_delay_ms: int = 0
    echo: bool = False
    drop: bool = False
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    """Prompt tokens reported as written to the cache (Anthropic's 5-minute cache)."""
    cache_write_1h_tokens: int = 0
    """Prompt tokens reported as written to Anthropic's 1-hour cache."""
    no_tools: bool = False
    """Answer text even when tools are offered."""
    echo_credential: bool = False
    """The injected error (``status`` or ``error_after``) repeats the credential the request
    presented, raw and encoded (see ``bench.fake_upstream.echo``)."""
    prompt_tokens: str = "words"
    """How prompt tokens are counted: ``words`` (whitespace-separated), or ``bytes`` (UTF-8, the
    most any tokenizer makes of a text: the adversarial worst case for a gateway's estimate)."""


NO_FAULT = Fault()


def split_model(model: str) -> tuple[str, str]:
    """Split ``name@directive`` at the last ``@`` into (name, directive); directive may be ""."""
    name, separator, directive = model.rpartition(MODEL_SEPARATOR)
    if not separator:
        return model, ""
    return name, directive


def parse_options(text: str) -> dict[str, str]:
    """Split a directive into raw ``{key: value}``; raise FaultDirectiveError on bad syntax."""
    options: dict[str, str] = {}
    for raw in text.split(OPTION_SEPARATOR):
        item = raw.strip()
        if not item:
            continue
        key, equals, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not key or not value:
            raise FaultDirectiveError(f"fault option {item!r} is not key=value")
        if key not in KNOWN_OPTIONS:
            known = ", ".join(sorted(KNOWN_OPTIONS))
            raise FaultDirectiveError(f"unknown fault option {key!r} (known: {known})")
        if key in options:
            raise FaultDirectiveError(f"fault option {key!r} given twice")
        options[key] = value
    return options


def _int_value(key: str, value: str) -> int:
    low, high = _INT_OPTIONS[key]
    try:
        number = int(value)
    except ValueError:
        raise FaultDirectiveError(f"fault option {key}={value!r} is not an integer") from None
    if not low <= number <= high:
        raise FaultDirectiveError(f"fault option {key}={number} is outside {low}..{high}")
    return number


def _float_value(key: str, value: str) -> float:
    low, high = _FLOAT_OPTIONS[key]
    try:
        number = float(value)
    except ValueError:
        raise FaultDirectiveError(f"fault option {key}={value!r} is not a number") from None
    if not low <= number <= high:
        raise FaultDirectiveError(f"fault option {key}={value} is outside {low:g}..{high:g}")
    return number


def _bool_value(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise FaultDirectiveError(f"fault option {key}={value!r} is not a boolean (1/0)")


def _choice_value(key: str, value: str) -> str:
    choices = _CHOICE_OPTIONS[key]
    if value not in choices:
        allowed = ", ".join(sorted(choices))
        raise FaultDirectiveError(f"fault option {key}={value!r} is not one of {allowed}")
    return value


def fault_from_options(options: dict[str, str]) -> Fault:
    """Build a validated Fault from raw options; raise FaultDirectiveError on bad values."""
    values: dict[str, Any] = {}
    for key, value in options.items():
        if key in _INT_OPTIONS:
            values[key] = _int_value(key, value)
        elif key in _FLOAT_OPTIONS:
            values[key] = _float_value(key, value)
        elif key in _CHOICE_OPTIONS:
            values[key] = _choice_value(key, value)
        else:
            values[key] = _bool_value(key, value)
    if "retry_after" in values and "status" not in values:
        raise FaultDirectiveError("fault option retry_after requires status")
    if values.get("echo_credential") and "status" not in values and "error_after" not in values:
        raise FaultDirectiveError("fault option echo_credential requires status or error_after")
    if "stall_ms" in values and "stall_after" not in values:
        raise FaultDirectiveError("fault option stall_ms requires stall_after")
    return replace(NO_FAULT, **values)


def parse_fault(text: str) -> Fault:
    """Parse one directive (``"status=429;retry_after=2"``) into a Fault; "" means no fault."""
    return fault_from_options(parse_options(text))


def request_fault(model_directive: str, header_directive: str) -> Fault:
    """Combine the model-name and header directives (header options win) into one Fault."""
    if not model_directive and not header_directive:
        return NO_FAULT
    options = parse_options(model_directive)
    options.update(parse_options(header_directive))
    return fault_from_options(options)


def _render_value(value: int | float | bool | str) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def fault_directive(**options: int | float | bool | str | None) -> str:
    """Render options as directive text (None values skipped); raise on unknown or bad options."""
    text = OPTION_SEPARATOR.join(
        f"{key}={_render_value(value)}" for key, value in options.items() if value is not None
    )
    parse_fault(text)
    return text


def fault_model(model: str, /, **options: int | float | bool | str | None) -> str:
    """Return ``model@directive`` (``fault_model("m", status=503)`` -> ``"m@status=503"``)."""
    directive = fault_directive(**options)
    return f"{model}{MODEL_SEPARATOR}{directive}" if directive else model
