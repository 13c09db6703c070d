"""The relay: sends a request's attempts upstream in plan order and moves the answer back.

Before the first content event any retryable failure moves on to the next attempt, unseen by
the client. The first content event is the commit point: from then on the stream belongs to
that channel, and a failure becomes one in-band error event, never a switch of channel.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from django.conf import settings

from billing.pricing import usage_cost
from channels.adapters import operation_adapter, passthrough_for
from channels.adapters.base import (
    Adapter,
    BadUpstreamResponse,
    Metering,
    ResponseIdentity,
    StreamTranslator,
    UnsupportedContent,
    UpstreamStreamError,
    UpstreamTarget,
)
from core.usage import UsageStatus
from gateway import breakers, stats
from gateway.accounting import AttemptLog, UsageDraft, offer_prices
from gateway.bridge.journal import RELAYED_EVERY_SECONDS, journal
from gateway.edge.drain import drain
from gateway.errors import InvalidRequest, ShuttingDown
from gateway.estimate import estimate_prompt_tokens, estimate_usage
from gateway.failures import (
    Failure,
    answer_failure,
    connection_failure,
    exhausted,
    stream_error_message,
    timeout_failure,
)
from gateway.schemas import ChatRequest, Offer
from gateway.upstream_client import upstream_client

T = TypeVar("T")

UPSTREAM_ENDED_EARLY = "the upstream closed the stream before finishing"
UPSTREAM_STALLED = "the upstream sent nothing for {seconds:g} s"
UPSTREAM_BROKE = "the connection to the upstream broke"
UPSTREAM_GARBLED = "the upstream sent a malformed event"
NO_ADAPTER = "this gateway cannot speak the channel's protocol '{api_type}' yet"
NESTED_TOO_DEEPLY = "The request body is nested too deeply to be forwarded."
SHUTTING_DOWN = "The gateway is shutting down; send the request again."
CANCELLED = UsageStatus.CANCELLED.value
CLIENT_DISCONNECTED = "client_disconnected"
# Attempts ended by the client or the gateway, not by the channel: never a channel failure.
ABANDONED_BY = {
    CANCELLED: "the client disconnected",
    ShuttingDown.code: "the gateway shut down before the answer",
}


@dataclass(slots=True)
class Exchange:
    """One client request on its way through the relay."""

    chat: ChatRequest
    draft: UsageDraft
    started: float
    deadline: float
    _prompt_tokens: int | None = None
    in_flight: Offer | None = None
    """The offer of the attempt under way (or the last one)."""
    in_flight_started: float = 0.0

    def remaining(self) -> float:
        """Seconds left before the request's overall deadline."""
        return self.deadline - time.monotonic()

    def metering(self, offer: Offer) -> Metering:
        """Prices and usage estimation for an attempt on `offer`."""
        prices = offer_prices(offer)
        return Metering(
            cost=lambda usage: usage_cost(usage, prices),
            estimate=lambda chars: estimate_usage(
                prompt_tokens=self.prompt_tokens(), completion_chars=chars
            ),
        )

    def bill_abandoned(self, outcome: str = CANCELLED) -> None:
        """The client left (or the drain ended the wait) while an upstream had the request:
        bill the prompt as the upstream will (an estimate: the upstream's usage never reaches
        the gateway), and count the attempt as `outcome`, not as the channel's failure."""
        offer = self.in_flight
        if offer is not None:
            self.draft.serve(offer, self.metering(offer).estimate(0), estimated=True)
            reason = Failure(outcome, False, ABANDONED_BY[outcome])
            self.log(offer, outcome, self.in_flight_started, reason)

    def prompt_tokens(self) -> int:
        """The estimated prompt size, computed once and only when needed."""
        if self._prompt_tokens is None:
            self._prompt_tokens = estimate_prompt_tokens(self.chat.body)
        return self._prompt_tokens

    def log(self, offer: Offer, outcome: str, started: float, failure: Failure | None) -> None:
        """Add an attempt to the draft and feed the channel's live figures."""
        self.draft.attempts.append(
            AttemptLog(
                channel=offer.channel_name,
                provider=offer.provider,
                outcome=outcome,
                http_status=failure.status if failure else 200,
                latency_ms=round((time.monotonic() - started) * 1000),
                error=failure.message[:300] if failure else "",
                channel_id=offer.channel_id,
                model=offer.model,
            )
        )
        if failure is None or not failure.concerns_channel:
            return
        reason = f"{failure.status} {failure.outcome}" if failure.status else failure.outcome
        if failure.concerns_model:
            stats.record_model_failure(offer.channel_id, model=offer.model, reason=reason)
            return
        cooling = failure.retry_after if failure.outcome == "rate_limited" else None
        stats.record_failure(offer.channel_id, retry_after=cooling, reason=reason)


@dataclass(frozen=True, slots=True)
class Wire:
    """How one attempt speaks to its channel: the adapter and the body it is given; `native`
    when both are the client's own dialect, so the answer goes back as the upstream sent it."""

    adapter: Adapter
    body: Mapping[str, Any]
    native: bool = False


async def _send(wire: Wire, exchange: Exchange, offer: Offer, stream: bool) -> httpx.Response:
    """Open the upstream request; the caller closes the response."""
    try:
        upstream = wire.adapter.build_request(
            body=wire.body,
            target=UpstreamTarget(
                offer.base_url,
                offer.api_key,
                offer.upstream_model,
                # What admission reserved for: protocols that cap the answer never ask for more.
                offer.max_output_tokens or settings.GATEWAY_DEFAULT_MAX_TOKENS,
                channel_id=offer.channel_id,
            ),
            stream=stream,
        )
    except TypeError:  # orjson: nesting deeper than it serialises
        raise InvalidRequest(NESTED_TOO_DEEPLY) from None
    except UnsupportedContent as error:
        raise InvalidRequest(error.message, param=error.param) from None
    client = upstream_client()
    request = client.build_request(
        "POST", upstream.url, headers=upstream.headers, content=upstream.content
    )
    return await client.send(request, stream=True)


async def _failure_of(adapter: Adapter, response: httpx.Response, offer: Offer) -> Failure:
    """Classify a non-200 answer from its status, message (scrubbed) and retry-after."""
    return answer_failure(
        adapter,
        status=response.status_code,
        payload=await response.aread(),
        retry_after=response.headers.get("retry-after"),
        secret=offer.api_key,
    )


def _identity(offer: Offer, chat: ChatRequest) -> ResponseIdentity:
    return ResponseIdentity(
        model=offer.model, provider=offer.provider, exclude_reasoning=chat.exclude_reasoning
    )


class _AttemptFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _wire_of(chat: ChatRequest, offer: Offer) -> Wire:
    """The client's own body to a channel of its dialect, else the chat body through the
    offer's adapter; a protocol this gateway cannot speak yet fails only this attempt."""
    native = chat.native
    if native is not None and offer.speaks(native.api_type):
        return Wire(passthrough_for(native.api_type, native.headers), native.body, native=True)
    try:
        return Wire(operation_adapter(offer.api_type, chat.operation, chat.body), chat.body)
    except KeyError:
        message = NO_ADAPTER.format(api_type=offer.api_type)
        raise _AttemptFailed(Failure("unsupported_protocol", True, message)) from None


async def _first_success(
    exchange: Exchange,
    plan: list[Offer],
    attempt: Callable[[Offer, Wire], Awaitable[T]],
    limit_of: Callable[[Offer], float],
) -> tuple[T, Offer, float]:
    """Run `attempt` on each offer in turn, each within its time limit, until one succeeds;
    return its result, the offer and when it started. Raise when every attempt failed."""
    failures: list[Failure] = []
    for offer in plan:
        if exchange.remaining() <= 0:
            break
        if not await breakers.claim_trial(offer.channel_id, offer.model):
            continue  # its breaker is half-open and another request is its trial
        started = time.monotonic()
        limit = min(limit_of(offer), exchange.remaining())
        failure: Failure
        journal.attempt(exchange.draft.id, offer)
        exchange.in_flight, exchange.in_flight_started = offer, started
        try:
            return (
                await drain.within(limit, attempt(offer, _wire_of(exchange.chat, offer))),
                offer,
                started,
            )
        except _AttemptFailed as error:
            failure = error.failure
        except TimeoutError:
            if drain.over:
                exchange.bill_abandoned(ShuttingDown.code)
                raise ShuttingDown(SHUTTING_DOWN, retry_after=1) from None
            failure = timeout_failure(limit)
        except httpx.TransportError as error:
            failure = connection_failure(error)
        except BadUpstreamResponse:
            failure = Failure("bad_response", True, UPSTREAM_GARBLED)
        except UpstreamStreamError as error:
            failure = Failure(
                "stream_error", True, stream_error_message(error, secret=offer.api_key)
            )
        finally:
            breakers.end_trial(offer.channel_id, offer.model)
        exchange.log(offer, failure.outcome, started, failure)
        failures.append(failure)
        if not failure.retryable:
            break
    raise exhausted(failures, exchange.chat.model)


@dataclass(frozen=True, slots=True)
class Completed:
    """A non-streaming answer: its JSON body, and whether it is in the client's own dialect."""

    body: bytes
    native: bool = False


async def _answer(exchange: Exchange, offer: Offer, wire: Wire) -> Completed:
    """One non-streaming attempt: the upstream's answer, translated."""
    response = await _send(wire, exchange, offer, stream=False)
    try:
        if response.status_code != 200:
            raise _AttemptFailed(await _failure_of(wire.adapter, response, offer))
        payload = await response.aread()
    finally:
        await response.aclose()
    translated = wire.adapter.translate_response(
        payload=payload, identity=_identity(offer, exchange.chat), metering=exchange.metering(offer)
    )
    exchange.draft.serve(offer, translated.usage, estimated=translated.usage_estimated)
    return Completed(translated.body, wire.native)


async def complete(exchange: Exchange, plan: list[Offer]) -> Completed:
    """Run a non-streaming request through the plan; the client's JSON body, or raise."""
    try:
        completed, offer, started = await _first_success(
            exchange,
            plan,
            lambda offer, wire: _answer(exchange, offer, wire),
            lambda offer: offer.timeout,
        )
    except asyncio.CancelledError:
        exchange.bill_abandoned()
        raise
    exchange.log(offer, "ok", started, None)
    elapsed = time.monotonic() - started
    stats.record_success(
        offer.channel_id,
        model=offer.model,
        ttft_ms=elapsed * 1000,
        completion_tokens=exchange.draft.usage.completion_tokens,
        generation_seconds=elapsed,
    )
    return completed


@dataclass(slots=True)
class OpenStream:
    """A stream committed to one channel: the events read so far and the live upstream."""

    offer: Offer
    response: httpx.Response
    chunks: AsyncIterator[bytes]
    translator: StreamTranslator
    buffered: list[bytes] = field(default_factory=list)
    attempt_started: float = 0.0
    settled: bool = False
    native: bool = False
    """The events are the client's own dialect, as the upstream sent them."""


async def _until_content(exchange: Exchange, offer: Offer, wire: Wire) -> OpenStream:
    """Open a stream on `offer` and read until its first content event (or its proper end)."""
    response = await _send(wire, exchange, offer, stream=True)
    try:
        if response.status_code != 200:
            raise _AttemptFailed(await _failure_of(wire.adapter, response, offer))
        translator = wire.adapter.stream_translator(
            identity=_identity(offer, exchange.chat),
            include_usage=exchange.chat.include_usage,
            metering=exchange.metering(offer),
        )
        opened = OpenStream(offer, response, response.aiter_raw(), translator, native=wire.native)
        while not (translator.content_started or translator.done):
            try:
                chunk = await anext(opened.chunks)
            except StopAsyncIteration:
                translator.end_of_input()  # a stream without a terminator may end complete
                if translator.done:
                    break
                raise _AttemptFailed(Failure("cut", True, UPSTREAM_ENDED_EARLY)) from None
            opened.buffered.extend(translator.feed(chunk))
            if translator.failure is not None:
                raise translator.failure
        return opened
    except BaseException:
        await response.aclose()
        raise


async def open_stream(exchange: Exchange, plan: list[Offer]) -> OpenStream:
    """Try the plan until one channel's stream reaches content; raise if none does."""
    try:
        opened, _, started = await _first_success(
            exchange,
            plan,
            lambda offer, wire: _until_content(exchange, offer, wire),
            lambda offer: min(offer.first_token_timeout, offer.timeout),
        )
    except asyncio.CancelledError:
        exchange.bill_abandoned()
        raise
    opened.attempt_started = started
    exchange.draft.ttft_ms = round((time.monotonic() - exchange.started) * 1000)
    return opened


async def relay_events(
    exchange: Exchange, opened: OpenStream, on_end: Callable[[], None]
) -> AsyncIterator[bytes]:
    """The client's SSE body: buffered events, then the live stream; `on_end` runs last."""
    offer, translator = opened.offer, opened.translator
    draft = exchange.draft
    idle = settings.GATEWAY_IDLE_TIMEOUT
    error: tuple[str, str] | None = None
    noted_at = time.monotonic()
    try:
        if opened.buffered:
            yield b"".join(opened.buffered)
        while not translator.done:
            wait = min(idle, opened.attempt_started + offer.timeout - time.monotonic())
            try:
                chunk = await drain.within(wait, anext(opened.chunks))
            except StopAsyncIteration:
                translator.end_of_input()  # a stream without a terminator may end complete
                if translator.done:
                    continue  # the loop ends and `finish` runs
                error = _stream_failure(translator, offer) or (
                    UPSTREAM_ENDED_EARLY,
                    "upstream_stream_error",
                )
            except TimeoutError:
                error = (
                    (SHUTTING_DOWN, ShuttingDown.code)
                    if drain.over
                    else (UPSTREAM_STALLED.format(seconds=max(wait, 0)), "upstream_timeout")
                )
            except httpx.TransportError:
                error = (UPSTREAM_BROKE, "upstream_stream_error")
            else:
                events = translator.feed(chunk)
                if events:
                    yield b"".join(events)
                    if time.monotonic() >= noted_at + RELAYED_EVERY_SECONDS:
                        journal.relayed(draft.id, translator.completion_chars)
                        noted_at = time.monotonic()
                error = _stream_failure(translator, offer)
            if error is not None:
                break
        # The client saw a 200 either way; a failure after the commit point is in-band.
        if error is None:
            draft.end(UsageStatus.OK, 200)
        else:
            draft.end(UsageStatus.ERROR, 200, error[1])
        if error is None:
            last = b"".join(translator.finish())
        else:
            last = translator.error_event(message=error[0], code=error[1]) + translator.error_tail
        # Billed (and journaled) before the client has the last byte: a crash now loses nothing.
        await _settle(exchange, opened, on_end, failure=error)
        yield last
    except (asyncio.CancelledError, GeneratorExit):
        if not opened.settled:  # a client gone after the last byte was billed is not cancelled
            draft.end(UsageStatus.CANCELLED, 499, CLIENT_DISCONNECTED)
        raise
    finally:
        await _settle(exchange, opened, on_end, failure=error)


def _stream_failure(translator: StreamTranslator, offer: Offer) -> tuple[str, str] | None:
    """The in-band error for a translator that met a broken or failed upstream stream."""
    failure = translator.failure
    if isinstance(failure, UpstreamStreamError):
        message = stream_error_message(failure, secret=offer.api_key)
        return message, failure.code or "upstream_stream_error"
    if failure is not None:
        return UPSTREAM_GARBLED, "bad_upstream_response"
    return None


async def abandon_stream(
    exchange: Exchange, opened: OpenStream, on_end: Callable[[], None]
) -> None:
    """For a stream whose body the server never finished sending: close and bill it as cancelled."""
    if not opened.settled:
        draft = exchange.draft
        draft.end(UsageStatus.CANCELLED, 499, CLIENT_DISCONNECTED)
        await _settle(exchange, opened, on_end, failure=None)


async def _settle(
    exchange: Exchange,
    opened: OpenStream,
    on_end: Callable[[], None],
    *,
    failure: tuple[str, str] | None,
) -> None:
    """Close the upstream and bill the stream — once, however the stream ended."""
    if opened.settled:
        return
    opened.settled = True
    try:
        await opened.response.aclose()
    finally:
        _bill_stream(exchange, opened, failure=failure)
        on_end()


def _bill_stream(
    exchange: Exchange, opened: OpenStream, *, failure: tuple[str, str] | None
) -> None:
    """Bill the stream: the upstream's usage, or an estimate of what was generated."""
    translator, offer, draft = opened.translator, opened.offer, exchange.draft
    usage = translator.usage
    if usage is None:
        usage = exchange.metering(offer).estimate(translator.completion_chars)
    draft.serve(offer, usage, estimated=translator.usage is None)
    if failure is not None:
        message, code = failure
        drained = code == ShuttingDown.code  # the gateway's own end, not the channel's failure
        outcome = code if drained else "stream_error"
        exchange.log(offer, outcome, opened.attempt_started, Failure(code, not drained, message))
        return
    exchange.log(offer, draft.status, opened.attempt_started, None)
    if draft.status == UsageStatus.OK:
        stats.record_success(
            offer.channel_id,
            model=offer.model,
            ttft_ms=float(draft.ttft_ms or 0),
            completion_tokens=usage.completion_tokens,
            generation_seconds=time.monotonic() - opened.attempt_started,
        )
