"""Stored Responses-API responses (#15): a conversation continued by `previous_response_id` is
every earlier turn's input and output, oldest first, for the key that made it only; the
retrieval endpoints answer the real openai SDK; retention prunes old responses."""

import asyncio
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import openai
import pytest
from celery.schedules import crontab
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.keys import hash_key
from billing.models import ApiKey
from gateway.bridge import responses_store, store
from gateway.errors import InvalidRequest, ResponseNotFound
from gateway.models import StoredResponse
from gateway.stored_responses import MAX_CONVERSATION_RESPONSES, stored_responses_prune
from gateway.tasks import prune_stored_responses
from tests.access_helpers import staff_with, support_user
from tests.factories import ApiKeyFactory
from tests.gateway.conftest import Gateway

T = TypeVar("T")


LOOP = asyncio.new_event_loop()
"""One loop for the module, with one worker thread: the thread keeps its pooled database
connection between calls, as a server's do, and gives it back at the module's end."""
WORKER = ThreadPoolExecutor(max_workers=1)
LOOP.set_default_executor(WORKER)


@pytest.fixture(autouse=True, scope="module")
def _worker_connection_returned():
    """The worker's connection goes back to the pool, for the tests after this module."""
    yield
    WORKER.submit(connections.close_all).result()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return LOOP.run_until_complete(coroutine)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def answer(response_id: str, text: str, *, created_at: int | None = None) -> dict[str, Any]:
    """A Response object as the Responses door answers one."""
    message = {
        "type": "message",
        "id": f"msg_{response_id}",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at or int(time.time()),
        "status": "completed",
        "model": "gpt-4o-mini",
        "output": [message],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 5,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 3,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 8,
        },
    }


def key_id(gateway: Gateway, secret: str | None = None) -> int:
    return ApiKey.objects.get(key_hash=hash_key(secret or gateway.key)).pk


def remember(
    key: int,
    response_id: str,
    inputs: list[dict[str, Any]],
    reply: str,
    previous: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    response = answer(response_id, reply, **options)
    run(
        responses_store.remember(
            key_id=key,
            response=response,
            input_items=inputs,
            previous_response_id=previous,
            channel_id=None,
        )
    )
    return response


def three_turns(key: int) -> list[dict[str, Any]]:
    """resp_1 ← resp_2 ← resp_3; returns their Response objects."""
    return [
        remember(key, "resp_1", [user("one")], "first"),
        remember(key, "resp_2", [user("two")], "second", previous="resp_1"),
        remember(key, "resp_3", [user("three")], "third", previous="resp_2"),
    ]


def test_a_conversation_is_every_turns_input_then_output_oldest_first(gateway):
    key = key_id(gateway)
    responses = three_turns(key)

    items = run(responses_store.conversation(key_id=key, response_id="resp_3"))
    middle = run(responses_store.conversation(key_id=key, response_id="resp_2"))

    outputs = [response["output"][0] for response in responses]
    assert items == [
        user("one"),
        outputs[0],
        user("two"),
        outputs[1],
        user("three"),
        outputs[2],
    ]
    assert middle == items[:4]


AT_ONCE = 8
"""Fewer than the database pool lends (20) with the gateway's own threads holding some."""


@pytest.fixture(autouse=True)
def _database_reachable_again():
    """A pool timeout in one test must not make the next ones refuse (the outage window)."""
    yield
    store._outage.until = 0.0


def test_responses_stored_at_once_are_all_kept(gateway):
    key = key_id(gateway)

    async def store_many() -> None:
        await asyncio.gather(
            *(
                responses_store.remember(
                    key_id=key,
                    response=answer(f"resp_many{n}", f"reply {n}"),
                    input_items=[user(f"turn {n}")],
                    previous_response_id=None,
                    channel_id=None,
                )
                for n in range(AT_ONCE)
            )
        )

    run(store_many())

    replies = [
        run(responses_store.retrieve(key_id=key, response_id=f"resp_many{n}"))["output"][0]
        for n in range(AT_ONCE)
    ]
    texts = [reply["content"][0]["text"] for reply in replies]
    assert texts == [f"reply {n}" for n in range(AT_ONCE)]


def test_another_keys_or_an_unknown_response_is_not_found(gateway):
    three_turns(key_id(gateway))
    other = key_id(gateway, gateway.new_key())

    for response_id in ("resp_3", "resp_nope", "x" * 500, "resp_\x00"):
        with pytest.raises(ResponseNotFound) as raised:
            run(responses_store.conversation(key_id=other, response_id=response_id))
        assert raised.value.http_status == 404
        assert raised.value.param == "previous_response_id"
    assert raised.value.envelope()["error"]["type"] == "invalid_request_error"
    with pytest.raises(ResponseNotFound) as raised:
        run(responses_store.conversation(key_id=other, response_id="resp_3"))
    assert raised.value.message == "Previous response with id 'resp_3' not found."
    with pytest.raises(ResponseNotFound):
        run(responses_store.retrieve(key_id=other, response_id="resp_3"))
    assert not run(responses_store.delete(key_id=other, response_id="resp_3"))
    assert StoredResponse.objects.filter(pk="resp_3").exists()


def test_a_deleted_response_is_gone_and_breaks_the_conversations_after_it(gateway):
    key = key_id(gateway)
    three_turns(key)

    assert run(responses_store.delete(key_id=key, response_id="resp_2"))
    assert not run(responses_store.delete(key_id=key, response_id="resp_2"))

    with pytest.raises(ResponseNotFound):
        run(responses_store.retrieve(key_id=key, response_id="resp_2"))
    with pytest.raises(ResponseNotFound) as raised:
        run(responses_store.conversation(key_id=key, response_id="resp_3"))
    assert "'resp_2'" in raised.value.message
    assert run(responses_store.retrieve(key_id=key, response_id="resp_1"))["id"] == "resp_1"


def test_turns_name_the_channel_that_served_each_response(gateway):
    key = key_id(gateway)
    for response_id, previous, channel in (("resp_a", None, 7), ("resp_b", "resp_a", None)):
        run(
            responses_store.remember(
                key_id=key,
                response=answer(response_id, "hi"),
                input_items=[user("hello")],
                previous_response_id=previous,
                channel_id=channel,
            )
        )

    turns = run(responses_store.turns(key_id=key, response_id="resp_b"))

    assert [(turn.response_id, turn.channel_id) for turn in turns] == [
        ("resp_a", 7),
        ("resp_b", None),
    ]


def test_a_conversation_past_the_chain_bound_is_refused_not_cut(gateway):
    key = key_id(gateway)
    count = MAX_CONVERSATION_RESPONSES + 1
    StoredResponse.objects.bulk_create(
        StoredResponse(
            id=f"resp_chain{n}",
            key_id=key,
            previous_response_id=f"resp_chain{n - 1}" if n else "",
            input_items=[user(str(n))],
            response=answer(f"resp_chain{n}", str(n)),
        )
        for n in range(count)
    )

    longest = run(responses_store.conversation(key_id=key, response_id=f"resp_chain{count - 2}"))
    with pytest.raises(InvalidRequest) as raised:
        run(responses_store.conversation(key_id=key, response_id=f"resp_chain{count - 1}"))

    assert len(longest) == MAX_CONVERSATION_RESPONSES  # one input item each, no output
    assert longest[0] == user("0")
    assert raised.value.param == "previous_response_id"


FIVE = [user(f"item {n}") for n in range(4)] + [
    {"type": "function_call_output", "call_id": "call_1", "output": "42"}
]


def page(key: int, **query: Any) -> dict[str, Any]:
    query = {"after": None, "limit": 20, "order": "desc", **query}
    return run(responses_store.input_items(key_id=key, response_id="resp_items", **query))


def test_input_items_page_newest_first_with_stable_ids(gateway):
    key = key_id(gateway)
    remember(key, "resp_items", FIVE, "done")

    first = page(key, limit=2)
    second = page(key, limit=2, after=first["last_id"])
    last = page(key, limit=2, after=second["last_id"])
    ascending = page(key, order="asc")

    assert first["object"] == "list"
    listed = first["data"] + second["data"] + last["data"]
    assert [item.get("output") or item["content"][0]["text"] for item in listed] == [
        "42",
        "item 3",
        "item 2",
        "item 1",
        "item 0",
    ]
    assert (first["has_more"], second["has_more"], last["has_more"]) == (True, True, False)
    assert (first["first_id"], first["last_id"]) == (listed[0]["id"], listed[1]["id"])
    assert len({item["id"] for item in listed}) == 5
    assert ascending["data"] == list(reversed(listed))
    assert ascending["data"][0] == {
        "role": "user",
        "type": "message",
        "content": [{"type": "input_text", "text": "item 0"}],
        "id": "msg_items_0",
    }
    with pytest.raises(InvalidRequest) as raised:
        page(key, after="msg_elsewhere")
    assert raised.value.param == "after"


def test_prune_deletes_responses_past_the_retention_and_keeps_younger_ones(gateway, settings):
    settings.GATEWAY_RESPONSES_RETENTION_DAYS = 30
    key = key_id(gateway)
    old = int((timezone.now() - timedelta(days=31)).timestamp())
    young = int((timezone.now() - timedelta(days=29)).timestamp())
    remember(key, "resp_old", [user("old")], "old", created_at=old)
    remember(key, "resp_young", [user("young")], "young", previous="resp_old", created_at=young)

    assert stored_responses_prune(days=0) == 0
    assert prune_stored_responses() == 1

    assert list(StoredResponse.objects.values_list("pk", flat=True)) == ["resp_young"]
    with pytest.raises(ResponseNotFound) as raised:
        run(responses_store.conversation(key_id=key, response_id="resp_young"))
    assert "'resp_old'" in raised.value.message


# The endpoints, with the real openai SDK.


def test_the_sdk_retrieves_a_stored_response(gateway):
    three_turns(key_id(gateway))

    response = gateway.client().responses.retrieve("resp_2")

    assert response.id == "resp_2"
    assert response.output_text == "second"
    assert response.usage is not None
    assert response.usage.total_tokens == 8
    with pytest.raises(openai.NotFoundError) as raised:
        gateway.client(gateway.new_key()).responses.retrieve("resp_2")
    assert raised.value.body == {
        "message": "Response with id 'resp_2' not found.",
        "type": "invalid_request_error",
        "param": None,
        "code": "response_not_found",
    }


def test_the_sdk_deletes_a_stored_response_once(gateway):
    three_turns(key_id(gateway))
    client = gateway.client()
    with pytest.raises(openai.NotFoundError):
        gateway.client(gateway.new_key()).responses.delete("resp_1")

    raw = client.responses.with_raw_response.delete("resp_1")

    assert raw.http_request.method == "DELETE"
    assert raw.http_response.json() == {"id": "resp_1", "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_1")
    with pytest.raises(openai.NotFoundError):
        client.responses.delete("resp_1")


def test_the_sdk_lists_input_items_page_by_page(gateway):
    remember(key_id(gateway), "resp_items", FIVE, "done")
    client = gateway.client()

    newest_first = list(client.responses.input_items.list("resp_items", limit=2))
    oldest_first = client.responses.input_items.list(
        "resp_items", order="asc", include=["message.input_image.image_url"]
    )

    assert [item.type for item in newest_first] == ["function_call_output"] + ["message"] * 4
    assert newest_first[0].output == "42"
    assert [item.id for item in oldest_first.data] == [item.id for item in newest_first][::-1]
    assert oldest_first.has_more is False
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.input_items.list("resp_items", limit=101)
    assert raised.value.param == "limit"
    with pytest.raises(openai.NotFoundError):
        gateway.client(gateway.new_key()).responses.input_items.list("resp_items")


def test_other_methods_on_a_stored_response_are_refused_in_the_openai_envelope(gateway):
    three_turns(key_id(gateway))
    with pytest.raises(openai.BadRequestError) as replay:
        gateway.client().responses.retrieve("resp_1", stream=True)
    assert replay.value.param == "stream"
    assert gateway.client(prefix="/api/v1").responses.retrieve("resp_1").output_text == "first"
    with gateway.http() as http:
        compact = http.post("/v1/responses/compact", json={"model": "gpt-4o-mini"})
        put = http.put("/v1/responses/resp_1", json={})
        anonymous = http.get("/v1/responses/resp_1", headers={"Authorization": ""})

    assert compact.status_code == 400  # served since #15.3, and a body without input is refused
    assert compact.json()["error"]["param"] == "input"
    assert put.status_code == 405
    assert put.json()["error"]["code"] == "method_not_allowed"
    assert compact.json()["error"]["type"] == "invalid_request_error"
    assert anonymous.status_code == 401


def test_beat_prunes_stored_responses_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["prune-stored-responses"]

    assert entry["task"] == "gateway.tasks.prune_stored_responses"
    assert isinstance(entry["schedule"], crontab)


@pytest.mark.django_db
def test_the_admin_shows_stored_responses_only_to_staff_given_their_view_permission():
    StoredResponse.objects.create(
        id="resp_admin", key=ApiKeyFactory(), response=answer("resp_admin", "private words")
    )
    changelist = reverse("admin:gateway_storedresponse_changelist")
    detail = reverse("admin:gateway_storedresponse_change", args=["resp_admin"])
    support, viewer = Client(), Client()
    support.force_login(support_user())
    viewer.force_login(staff_with("gateway.view_storedresponse"))

    assert support.get(changelist).status_code == 403
    assert support.get(detail).status_code == 403
    assert "resp_admin" in viewer.get(changelist).content.decode()
    assert "private words" in viewer.get(detail).content.decode()
    assert viewer.get(reverse("admin:gateway_storedresponse_add")).status_code == 403
