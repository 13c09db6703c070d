"""Hypothesis strategies for what clients send: JSON values, chat bodies with every field the
wrong type in turn, deep nesting, bytes that are not JSON, paths, methods and headers.

Bodies are drawn as Python values and encoded by `encode`, which can also write what no JSON
library writes: numbers past float range (`1e400`), lone surrogates (`"\\ud800"`) and deep
nesting past any encoder's limit, through placeholders swapped in after `json.dumps`.
"""

import json
import string
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from tests.fuzz.live import ANTHROPIC_MODEL, GEMINI_MODEL, OPENAI_MODEL

# --- scalars -------------------------------------------------------------------------------

RAW_NUMBERS = (
    "1e400",
    "-1e400",
    "1E+999",
    "1e-400",
    "-0",
    "123456789012345678901234567890",
    "-99999999999999999999999",
    "0.00000000000000000000000000000000001",
    "1180591620717411303424",  # 2**70
)
RAW_PLACEHOLDER = "RAWNUMBER{}X"
SPECIAL_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "x\ud83dy",
    "\u202e\u200b\ufeff",
    "🚀模型ünï",
    "%00",
    "%",
    "../../../etc/passwd",
    "{{7*7}}${jndi:x}",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "\r\n\r\nHTTP/1.1 200 OK",
    "NaN",
    "Infinity",
    "-inf",
    "1e400",
    "null",
    "true",
    "x" * 5000,
)
HUGE_INTS = (2**31, 2**53 + 1, 2**63, 2**64, 2**70, -(2**63) - 1, 10**40)

text = st.one_of(st.text(max_size=24), st.sampled_from(SPECIAL_TEXT))
raw_number = st.sampled_from(range(len(RAW_NUMBERS))).map(RAW_PLACEHOLDER.format)
number = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True),
    raw_number,
)
scalar = st.one_of(st.none(), st.booleans(), number, text)
json_value = st.recursive(
    scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(text, children, max_size=4)
    ),
    max_leaves=12,
)


def either(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes any JSON value at all."""
    return st.one_of(valid, valid, json_value)


# --- chat bodies ---------------------------------------------------------------------------

MODELS = (OPENAI_MODEL, ANTHROPIC_MODEL, GEMINI_MODEL)
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
DATA_URL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
URLS = (
    DATA_URL,
    "data:image/png;base64,",
    "data:;base64,@@@",
    "data:application/pdf;base64,JVBERi0x",
    "http://127.0.0.1:9/a.png",
    "file:///etc/passwd",
    "",
    "data:image/png,\x00",
)

model = either(st.sampled_from(MODELS))
name = either(st.from_regex(r"[a-zA-Z0-9_-]{1,64}", fullmatch=True) | text)
json_schema = st.recursive(
    st.fixed_dictionaries({"type": either(st.sampled_from(["string", "number", "object"]))}),
    lambda children: st.one_of(
        st.fixed_dictionaries(
            {
                "type": st.just("object"),
                "properties": either(st.dictionaries(text, children, max_size=3)),
            },
            optional={"required": either(st.lists(text, max_size=3))},
        ),
        st.fixed_dictionaries({"type": st.just("array"), "items": either(children)}),
    ),
    max_leaves=6,
)
content_part = st.one_of(
    st.fixed_dictionaries({"type": either(st.just("text")), "text": either(text)}),
    st.fixed_dictionaries(
        {
            "type": st.just("image_url"),
            "image_url": either(
                st.fixed_dictionaries(
                    {"url": either(st.sampled_from(URLS))},
                    optional={"detail": either(st.sampled_from(["auto", "low", "high"]))},
                )
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("input_audio"),
            "input_audio": either(
                st.fixed_dictionaries(
                    {
                        "data": either(st.sampled_from(["UklGRg==", "", "!!!"])),
                        "format": either(st.sampled_from(["wav", "mp3"])),
                    }
                )
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("file"),
            "file": either(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "file_data": either(st.sampled_from((*URLS[3:4], "JVBERi0x", "%%%"))),
                        "filename": either(text),
                        "file_id": either(text),
                    },
                )
            ),
        }
    ),
    st.fixed_dictionaries({"type": st.just("refusal"), "refusal": either(text)}),
    json_value,
)
content = st.one_of(text, st.lists(content_part, max_size=3), st.none(), json_value)
tool_call = st.fixed_dictionaries(
    {
        "id": either(text),
        "type": either(st.just("function")),
        "function": either(
            st.fixed_dictionaries({"name": name, "arguments": either(st.just('{"a":1}') | text)})
        ),
    },
    optional={"index": either(st.integers(0, 3))},
)
message = st.fixed_dictionaries(
    {"role": either(st.sampled_from(ROLES)), "content": content},
    optional={
        "name": name,
        "tool_calls": either(st.lists(tool_call, max_size=2)),
        "tool_call_id": either(text),
        "refusal": either(text),
        "reasoning_content": either(text),
    },
)
messages = either(st.lists(either(message), min_size=1, max_size=4))
tool = st.fixed_dictionaries(
    {
        "type": either(st.sampled_from(["function", "custom"])),
        "function": either(
            st.fixed_dictionaries(
                {"name": name},
                optional={
                    "description": either(text),
                    "parameters": either(json_schema),
                    "strict": either(st.booleans()),
                },
            )
        ),
    }
)
tool_choice = either(
    st.one_of(
        st.sampled_from(["none", "auto", "required"]),
        st.fixed_dictionaries({"type": st.just("function"), "function": either(st.builds(dict))}),
        st.fixed_dictionaries(
            {
                "type": st.just("allowed_tools"),
                "allowed_tools": either(
                    st.fixed_dictionaries(
                        {
                            "mode": either(st.sampled_from(["auto", "required"])),
                            "tools": either(st.lists(either(st.builds(dict)), max_size=2)),
                        }
                    )
                ),
            }
        ),
    )
)
response_format = either(
    st.fixed_dictionaries(
        {"type": either(st.sampled_from(["text", "json_object", "json_schema"]))},
        optional={
            "json_schema": either(
                st.fixed_dictionaries(
                    {"name": name, "schema": either(json_schema)},
                    optional={"strict": either(st.booleans()), "description": either(text)},
                )
            )
        },
    )
)
numberish = st.one_of(number, st.booleans(), st.sampled_from(["1", "NaN", "-inf", "1e400", ""]))
provider_names = either(
    st.lists(either(st.sampled_from(["openai", "backup", "anthropic"])), max_size=3)
)
price = either(st.fixed_dictionaries({}, optional={"prompt": numberish, "completion": numberish}))
provider = either(
    st.fixed_dictionaries(
        {},
        optional={
            "order": provider_names,
            "only": provider_names,
            "ignore": provider_names,
            "allow_fallbacks": either(st.booleans()),
            "require_parameters": either(st.booleans()),
            "sort": either(
                st.sampled_from(["price", "throughput", "latency"])
                | st.fixed_dictionaries(
                    {"by": either(st.sampled_from(["price", "latency"]))},
                    optional={"partition": either(st.sampled_from(["model", "none"]))},
                )
            ),
            "max_price": price,
            "data_collection": either(st.sampled_from(["allow", "deny"])),
            "quantizations": either(st.lists(text, max_size=2)),
            "x_junk": json_value,
        },
    )
)
OPTIONAL_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "temperature": numberish,
    "top_p": numberish,
    "n": numberish,
    "max_tokens": numberish,
    "max_completion_tokens": numberish,
    "presence_penalty": numberish,
    "seed": numberish,
    "stop": either(st.lists(text, max_size=5) | text),
    "logit_bias": either(st.dictionaries(text, numberish, max_size=3)),
    "logprobs": either(st.booleans()),
    "top_logprobs": numberish,
    "stream": st.one_of(st.booleans(), st.sampled_from(["yes", "true", 1, 0]), json_value),
    "stream_options": either(
        st.fixed_dictionaries({}, optional={"include_usage": either(st.booleans())})
    ),
    "tools": either(st.lists(tool, max_size=3)),
    "tool_choice": tool_choice,
    "parallel_tool_calls": either(st.booleans()),
    "response_format": response_format,
    "reasoning_effort": either(st.sampled_from(["none", "low", "high", "max"])),
    "reasoning": either(st.fixed_dictionaries({}, optional={"effort": text, "max_tokens": number})),
    "provider": provider,
    "models": either(st.lists(model, max_size=3)),
    "user": either(text),
    "metadata": either(st.dictionaries(text, either(text), max_size=4)),
    "store": either(st.booleans()),
    "modalities": either(st.lists(text, max_size=2)),
    "x_unknown": json_value,
}
chat_body = st.fixed_dictionaries(
    {"model": model, "messages": messages}, optional=OPTIONAL_FIELDS
) | st.fixed_dictionaries({}, optional={"model": model, "messages": messages, **OPTIONAL_FIELDS})


# --- deep nesting --------------------------------------------------------------------------

DEEP_PLACEHOLDER = "DEEPNESTINGX"
DEEP_SHAPES = {
    "arrays": (b"[", b"]"),
    "objects": (b'{"a":', b"}"),
    "schemas": (b'{"type":"object","properties":{"p":', b"}}"),
    "items": (b'{"type":"array","items":', b"}"),
    "mixed": (b'[{"a":', b"}]"),
}
DEEP_SLOTS: dict[str, Any] = {
    "extra field": {"x_deep": DEEP_PLACEHOLDER},
    "tool parameters": {
        "tools": [{"type": "function", "function": {"name": "f", "parameters": DEEP_PLACEHOLDER}}]
    },
    "json schema": {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "r", "schema": DEEP_PLACEHOLDER},
        }
    },
    "tool choice": {"tool_choice": DEEP_PLACEHOLDER},
    "content": {"messages": [{"role": "user", "content": DEEP_PLACEHOLDER}]},
    "messages": {"messages": DEEP_PLACEHOLDER},
    "provider": {"provider": {"order": DEEP_PLACEHOLDER}},
    "metadata": {"metadata": {"k": DEEP_PLACEHOLDER}},
    "tool arguments": {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "f", "arguments": DEEP_PLACEHOLDER},
                    }
                ],
            },
        ]
    },
}


@st.composite
def deep_body(draw: st.DrawFn) -> bytes:
    """A chat body (streamed or not, any served model) with 200 to 1,100 levels of nesting in one
    field: past orjson's output limit (254) and, sometimes, its input limit (1,024)."""
    depth = draw(st.one_of(st.integers(200, 400), st.integers(250, 1100)))
    opening, closing = DEEP_SHAPES[draw(st.sampled_from(sorted(DEEP_SHAPES)))]
    leaf = draw(st.sampled_from([b"1", b"null", b'"x"', b"{}", b"[]"]))
    body: dict[str, Any] = {
        "model": draw(st.sampled_from(MODELS)),
        "messages": [{"role": "user", "content": "hi"}],
        "stream": draw(st.booleans()),
    }
    body.update(DEEP_SLOTS[draw(st.sampled_from(sorted(DEEP_SLOTS)))])
    if draw(st.booleans()) and "tools" in body:
        body["tool_choice"] = "auto"
    nested = opening * depth + leaf + closing * depth
    return json.dumps(body).encode().replace(json.dumps(DEEP_PLACEHOLDER).encode(), nested)


def encode(value: Any, *, ascii_only: bool) -> bytes:
    """`value` as JSON bytes, raw-number placeholders swapped for their literals; with
    `ascii_only` every non-ASCII character (lone surrogates too) is a `\\u` escape, otherwise
    the text is UTF-8 with surrogates passed through (invalid UTF-8)."""
    encoded = json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)
    for index, literal in enumerate(RAW_NUMBERS):
        encoded = encoded.replace(json.dumps(RAW_PLACEHOLDER.format(index)), literal)
    return encoded.encode("utf-8", "surrogatepass")


# --- bytes that are not (quite) JSON, and content types ------------------------------------

VALID_BODY = json.dumps({"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "hi"}]})
ODD_BYTES = (
    b"",
    b"{",
    b'{"model":',
    b"\xff\xfe\x00\x00",
    b"null",
    b"[]",
    b'"a string"',
    b"{}",
    b"0",
    b"NaN",
    b"\xef\xbb\xbf" + VALID_BODY.encode(),
    VALID_BODY.encode() + b"garbage",
    VALID_BODY.encode() + b"\x00",
    VALID_BODY.encode("utf-16"),
    VALID_BODY.replace("hi", "\\ud800").encode(),
    VALID_BODY.replace('"hi"', '"\\u0000"').encode(),
    VALID_BODY.replace('"hi"', '"\\x41"').encode(),
    VALID_BODY.replace('"hi"', "'hi'").encode(),
    VALID_BODY.replace("}", ',"model": 5}', 1).encode(),
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00",
    b"model=gpt-4o-mini&messages=hi",
    b"--x\r\nContent-Disposition: form-data; name=model\r\n\r\ngpt-4o-mini\r\n--x--\r\n",
)
CONTENT_TYPES = (
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=utf-16",
    "application/json; charset=nonsense",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "multipart/form-data",
    "application/octet-stream",
    "*/*",
    ";;;",
    "application/vnd.api+json",
)
odd_body = st.one_of(st.sampled_from(ODD_BYTES), st.binary(max_size=200))
content_type = st.sampled_from(CONTENT_TYPES)


# --- paths, methods, headers ---------------------------------------------------------------

PREFIXES = ("/v1", "/api/v1", "/openai/v1")
CHAT_PATHS = (*(prefix + "/chat/completions" for prefix in PREFIXES), "/chat/completions")
ENDPOINTS = ("/chat/completions", "/models", "/key", "/generation", "/models/" + OPENAI_MODEL)
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
SAFE_PATH_CHARS = string.ascii_letters + string.digits + "-._~/:@!$&'()*+,;="


def quoted(value: str) -> str:
    """`value` percent-encoded as UTF-8 (lone surrogates as their escaped bytes)."""
    raw = value.encode("utf-8", "surrogatepass")
    return quote(raw, safe=SAFE_PATH_CHARS)


junk_segment = st.one_of(
    text.map(quoted),
    st.sampled_from(["%00", "%ff", "%", "%zz", "..", "%2e%2e", "%2F", "//", "models/../key", "~"]),
)
generation_id = st.one_of(
    text.map(lambda value: quote(value.encode("utf-8", "surrogatepass"), safe="")),
    st.sampled_from(["%00", "req_%00", "req_00000001", "", "%", "%ff%fe", "a&id=b", "x" * 3000]),
)


@st.composite
def client_path(draw: st.DrawFn) -> str:
    """A request target on the client API: an endpoint, a junk model or unknown path under a
    prefix, or the generation lookup with a junk id."""
    prefix = draw(st.sampled_from(PREFIXES))
    kind = draw(st.sampled_from(["endpoint", "model", "unknown", "generation", "query"]))
    if kind == "endpoint":
        return prefix + draw(st.sampled_from(ENDPOINTS))
    if kind == "model":
        return prefix + "/models/" + draw(junk_segment)
    if kind == "unknown":
        return prefix + "/" + draw(junk_segment)
    if kind == "generation":
        return prefix + "/generation?id=" + draw(generation_id)
    endpoint = draw(st.sampled_from(ENDPOINTS))
    return prefix + endpoint + "?" + draw(junk_segment) + "=" + draw(junk_segment)


# Header values h11 lets a client send: visible Latin-1, spaces and tabs inside.
header_value = st.binary(max_size=60).map(
    lambda raw: bytes(byte for byte in raw if byte == 9 or 32 <= byte <= 126 or byte >= 128).strip()
)
HEADER_NAME_CHARS = string.ascii_letters + string.digits + "-_!#$%&'*+.^`|~"
header_name = st.text(HEADER_NAME_CHARS, min_size=1, max_size=20)
RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "x-fake-fault"}


def authorization(valid_key: str) -> st.SearchStrategy[bytes | None]:
    """Authorization values: none, the valid key, its prefix with junk, junk of every kind
    (drawn in the test with `st.data()`, since the key exists only once the gateway runs)."""
    key = valid_key.encode()
    return st.one_of(
        st.none(),
        st.just(b"Bearer " + key),
        st.sampled_from([b"bearer " + key, b"Bearer  " + key + b" ", b"Bearer " + key + b"x"]),
        st.integers(1, len(key) - 1).map(lambda cut: b"Bearer " + key[:cut]),
        header_value.map(lambda junk: b"Bearer " + key[:10] + junk),
        header_value.map(lambda junk: b"Bearer sk-sy-" + junk),
        header_value.map(lambda junk: b"Bearer " + junk),
        header_value,
        st.sampled_from([b"Bearer", b"Bearer ", b"Basic dXNlcjpwYXNz", b"Token abc", b"\xff\xfe"]),
        st.sampled_from([b"Bearer " + b"A" * 9000, b"Bearer sk-sy-" + b"\xe9" * 500]),
    )


def headers(valid_key: str) -> st.SearchStrategy[tuple[tuple[bytes, bytes], ...]]:
    """An Authorization header (or none) and a few other random headers."""
    extra = st.lists(
        st.tuples(
            header_name.filter(lambda value: value.lower() not in RESERVED_HEADERS).map(str.encode),
            header_value,
        ),
        max_size=3,
    )

    def assemble(
        auth: bytes | None, others: list[tuple[bytes, bytes]]
    ) -> tuple[tuple[bytes, bytes], ...]:
        if auth is None:
            return tuple(others)
        return ((b"authorization", auth.strip()), *others)  # HTTP trims a value's ends

    return st.builds(assemble, authorization(valid_key), extra)
