"""Personal data masked on its way to the cloud (`personal_data` rule with `mask: true`): what the cloud gets (read
at a real OpenAI-compatible server on 127.0.0.1, through litellm), what the caller gets back, streamed or not, the
fallback to the local SLM, and the eval's replay of masked requests."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from conftest import hybrid_policy, user
from doubles import FakeUpstream
from test_eval import report, write_policy, write_suite

from hybrid_ai import AsyncHybridClient, HybridClient
from hybrid_ai.cli import main
from hybrid_ai.privacy.masking import Mask, Restorer, masked_tiers
from hybrid_ai.policy import load_policy

EMAIL, PHONE = "anna.meyer@example.com", "+44 20 7946 0958"
ASK = f"Rewrite politely: send the report to {EMAIL} or call {PHONE}. Again: {EMAIL}."


def masking_policy(base: str, tmp, **classifier) -> dict:
    pol = hybrid_policy(base, tmp=tmp, threshold=0.0)  # every request scores >= 0: to the cloud
    pol["rules"] = [{"type": "personal_data", "route": "local", "mask": True}]
    pol["classifier"].update(classifier)
    return pol


def echo(body: dict) -> str:  # the cloud copies the request into its answer, placeholders included
    return "Sure. " + body["messages"][-1]["content"]


def test_the_same_value_gets_the_same_placeholder_and_restores_exactly():
    mask = Mask(("email", "phone"))
    text = mask.text(ASK)
    assert EMAIL not in text and "7946" not in text and "anna" not in text
    assert text.count("[EMAIL_1]") == 2 and "[PHONE_1]" in text and mask.values == {EMAIL: "[EMAIL_1]",
                                                                                   PHONE: "[PHONE_1]"}
    assert mask.restore(text) == ASK
    assert mask.restore("[EMAIL_2] and [email_1] and [EMAIL_1]") == f"[EMAIL_2] and [email_1] and {EMAIL}"


def test_a_placeholder_the_user_wrote_is_neither_reused_nor_restored(tmp_path, cloud_key):
    ask = f"Explain the template field [EMAIL_1], then mail {EMAIL}."
    with FakeUpstream("ok", text=echo) as cloud, HybridClient(masking_policy(cloud.base, tmp_path)) as c:
        r = c.chat.completions.create(messages=user(ask))
    sent = json.dumps(cloud.requests[-1]["body"])
    assert EMAIL not in sent and "[EMAIL_1]" in sent and "[EMAIL_2]" in sent
    assert r.choices[0].message.content == f"Sure. {ask}"  # the user's own [EMAIL_1] stays as written


def test_an_abandoned_masked_stream_still_leaves_its_record(tmp_path, cloud_key):
    with FakeUpstream("ok", text=echo) as cloud, HybridClient(masking_policy(cloud.base, tmp_path)) as c:
        stream = c.chat.completions.create(messages=user(ASK), stream=True)
        next(iter(stream))
        stream.close()
    [row] = sqlite3.connect(tmp_path / "routes.db").execute("SELECT route, error FROM route_log").fetchall()
    assert row[0] == "cloud" and row[1].startswith("client went away") and EMAIL not in json.dumps(row)


def test_a_placeholder_split_across_stream_pieces_is_held_until_it_closes():
    mask = Mask(("email",))
    mask.text(f"to {EMAIL}")
    restorer = Restorer(mask)
    pieces = ["Send it to [EM", "AIL", "_1] today. A [note] and [", "EMAIL_1", "]", " and an open [bracket"]
    out = [restorer.piece(p) for p in pieces] + restorer.rest()
    assert out[0] == "Send it to " and out[1] == ""  # held while it could still be a placeholder
    assert "".join(out) == f"Send it to {EMAIL} today. A [note] and {EMAIL} and an open [bracket"


@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_arguments_get_the_values_back_even_split_across_streamed_pieces(tmp_path, cloud_key, stream):
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    with FakeUpstream("ok") as cloud, HybridClient(masking_policy(cloud.base, tmp_path)) as c:
        r = c.chat.completions.create(messages=user(ASK), tools=[weather], stream=stream)
        if stream:  # the fake streams each call's arguments in two halves, splitting a placeholder
            args = "".join(call.function.arguments or "" for ch in r if ch.choices
                           for call in ch.choices[0].delta.tool_calls or [])
        else:
            args = r.choices[0].message.tool_calls[0].function.arguments
    assert EMAIL not in json.dumps(cloud.requests[-1]["body"]) and json.loads(args)["query"] == ASK


def test_only_the_tiers_other_than_the_rules_route_are_masked():
    pol = load_policy(masking_policy("http://127.0.0.1:9", None))
    assert set(masked_tiers(pol)) == {"cloud"}
    assert set(masked_tiers(pol)["cloud"]) >= {"email", "phone", "iban", "card"}


@pytest.mark.parametrize("stream", [False, True])
def test_the_cloud_never_sees_the_data_and_the_caller_gets_it_back(tmp_path, cloud_key, stream):
    with FakeUpstream("ok", text=echo) as cloud, HybridClient(masking_policy(cloud.base, tmp_path)) as c:
        r = c.chat.completions.create(messages=user(ASK), stream=stream)
        chunks = list(r) if stream else []
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) if stream else \
            r.choices[0].message.content
        record = (chunks[-1] if stream else r).hybrid.record
    sent = json.dumps(cloud.requests[-1]["body"])
    assert EMAIL not in sent and "7946" not in sent and "anna" not in sent.lower()
    assert "[EMAIL_1]" in sent and "[PHONE_1]" in sent
    assert text == f"Sure. {ASK}"  # every placeholder restored, the repeated one too
    assert record.route == "cloud" and record.reason == "score>=threshold"  # routed by the score, not the rule
    rows = sqlite3.connect(tmp_path / "routes.db").execute("SELECT * FROM route_log").fetchall()
    assert rows and EMAIL not in json.dumps(rows)


@pytest.mark.parametrize("stream", [False, True])
def test_the_async_client_masks_and_restores_the_same_way(tmp_path, cloud_key, stream):
    async def ask(c):
        r = await c.chat.completions.create(messages=user(ASK), stream=stream)
        if not stream:
            return r.choices[0].message.content
        return "".join([ch.choices[0].delta.content or "" async for ch in r if ch.choices])

    async def run(base):
        async with AsyncHybridClient(masking_policy(base, tmp_path)) as c:
            return await ask(c)

    with FakeUpstream("ok", text=echo) as cloud:
        text = asyncio.run(run(cloud.base))
    assert EMAIL not in json.dumps(cloud.requests[-1]["body"]) and text == f"Sure. {ASK}"


def test_a_failed_cloud_falls_back_to_the_local_slm_which_sees_the_request_as_sent(tmp_path, cloud_key):
    with FakeUpstream("500", text=echo) as cloud, HybridClient(masking_policy(cloud.base, tmp_path)) as c:
        r = c.chat.completions.create(messages=user(f"Say hello to {EMAIL}."))
    assert EMAIL not in json.dumps(cloud.requests[-1]["body"]) and r.hybrid.route == "local"
    assert r.hybrid.record.fallback and r.choices[0].message.content


def test_the_eval_credits_a_masked_cloud_answer_only_when_it_could_come_from_the_masked_request(tmp_path):
    items = [
        {"id": "rewrite", "prompt": f"Rewrite politely: send it to {EMAIL} now", "reference": EMAIL,
         "standin": f"Could you please send it to {EMAIL}?"},
        {"id": "name", "prompt": f"Whose address is {EMAIL}? Give the first name.", "reference": "Anna",
         "standin": "Anna."},  # only readable from the value itself: the masked cloud cannot know it
        {"id": "plain", "prompt": "What is the capital of France?", "reference": "Paris", "standin": "Paris."},
    ]
    suite = write_suite(tmp_path / "suite", items)
    policy = write_policy(tmp_path / "policy.yaml")
    data = load_policy(str(policy)).model_dump(mode="json")
    for rule in data["rules"]:
        if rule["type"] == "personal_data":
            rule["mask"] = True
    policy.write_text(json.dumps(data))
    assert main(["eval", "--suite", str(suite), "--policy", str(policy), "--cache", str(tmp_path / "c.db"),
                 "--out", str(tmp_path / "r")]) == 0
    by_id = {i["id"]: i for i in report(tmp_path / "r")["items"]}
    assert by_id["mini/rewrite"]["cloud"]["quality"] == 1.0 and by_id["mini/rewrite"]["forced"] is None
    assert by_id["mini/name"]["cloud"]["quality"] == 0.0
    assert "personal data that the masked request hides" in by_id["mini/name"]["cloud"]["error"]
    assert by_id["mini/plain"]["cloud"]["quality"] == 1.0
    assert "(personal data masked)" in json.dumps(report(tmp_path / "r")).replace("\\", "")


@pytest.mark.slow
def test_a_request_that_cannot_be_masked_is_never_sent_and_the_local_tier_answers(tmp_path, cloud_key):
    many = " ".join(f"user{i}@example.com" for i in range(70))  # more values than one request masks
    with FakeUpstream("ok", text=echo) as cloud, HybridClient(masking_policy(cloud.base, tmp_path)) as c:
        r = c.chat.completions.create(messages=user(f"Sort these addresses: {many}"), max_tokens=4)
    assert cloud.requests == [] and r.hybrid.route == "local"
    assert "personal data not masked" in r.hybrid.record.fallback_reason


def test_an_injected_cloud_backend_is_masked_like_a_built_one(tmp_path, cloud_key):
    """`HybridClient(backends=...)` gets the same masking as the policy's own tiers: one wrapping for all."""
    from doubles import ScriptedBackend

    seen = []

    class Recording(ScriptedBackend):
        def complete(self, request, generation):
            seen.append(request.scan_text)
            return super().complete(request, generation)

    with FakeUpstream("ok") as cloud:
        client = HybridClient(masking_policy(cloud.base, tmp_path), backends={"cloud": Recording("cloud")})
        r = client.chat.completions.create(messages=user(ASK), user="anna.meyer@example.com", max_tokens=4)
    assert seen and EMAIL not in seen[0] and "7946" not in seen[0] and "[EMAIL_1]" in seen[0]
    assert r.hybrid.route == "cloud" and cloud.hits == 0
