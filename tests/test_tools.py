"""Tool calls and structured output: validated as the OpenAI API validates them, routed only to tiers that support
them (the record says which were skipped), answered and streamed as OpenAI answers and streams them, through the
real litellm path to an OpenAI-compatible server on 127.0.0.1, the server and the OpenAI SDK."""

from __future__ import annotations

import json

import openai
import pytest

from conftest import hybrid_policy, user
from doubles import FakeUpstream
import hybrid_ai
from hybrid_ai import AsyncHybridClient, HybridClient, InvalidRequest
from hybrid_ai.backends.echo import EchoBackend
from hybrid_ai.request import parse_request
from hybrid_ai.checks.structured import problem, unfenced

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
SCHEMA = {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": {
    "type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}}}


class Capture:
    def __init__(self):
        self.events = []

    def write(self, event):
        self.events.append(event)


@pytest.fixture
def fake():
    with FakeUpstream("ok") as f:
        yield f


def client(fake, tmp_path, cls=HybridClient, local=None, **extra):
    sink = Capture()
    policy = hybrid_policy(fake.base, threshold=1.0, tmp=tmp_path, **extra)  # the score keeps everything local
    return cls(policy, sinks=[sink], backends={"local": local} if local else None), sink


# -- the request contract ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, field", [
    ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools[0].function.name"),
    ({"tools": [WEATHER, WEATHER]}, "tools[1].function.name"),
    ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "objekt"}}}]},
     "tools[0].function.parameters"),
    ({"tools": [{"type": "function", "function": {"name": "f", "api_base": "http://evil"}}]},
     "tools[0].function.api_base"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "get_time"}}},
     "tool_choice.function.name"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
    ({"tools": [WEATHER], "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    ({"response_format": {"type": "xml"}}, "response_format.type"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"minLength": -1}}}},
     "response_format.json_schema.schema"),
    ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
    ({"messages": user("hi") + [{"role": "tool", "tool_call_id": "call_9", "content": "x"}]}, "messages[1].tool_call_id"),
    ({"messages": [{"role": "user", "content": "hi", "tool_calls": []}]}, "messages[0].tool_calls"),
    ({"messages": user("hi") + [{"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]}]},
     "messages[1].tool_calls[0].function.arguments"),
    ({"functions": [{"name": "f"}]}, "functions"),
])
def test_bad_tool_and_format_parameters_name_their_field(params, field):
    with pytest.raises(InvalidRequest) as e:
        parse_request({"messages": user("hi"), **params})
    assert e.value.field == field


def deep(levels: int) -> dict:
    schema: dict = {"type": "object"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize("params, field", [
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": deep(3000)}}]},
     "tools[0].function.parameters"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": deep(200)}}},
     "response_format.json_schema.schema"),
])
def test_a_schema_nested_too_deeply_is_a_clear_error_not_a_recursion_error(params, field):
    with pytest.raises(InvalidRequest, match="nests too deeply") as e:
        parse_request({"messages": user("hi"), **params})
    assert e.value.field == field


def test_what_a_request_needs():
    assert parse_request({"messages": user("hi")}).needs == ()
    assert parse_request({"messages": user("hi"), "tools": [WEATHER]}).needs == ("tools",)
    assert parse_request({"messages": user("hi"), "tools": [WEATHER], "tool_choice": "none"}).needs == ()
    assert parse_request({"messages": user("hi"), "response_format": SCHEMA}).needs == ("json_schema",)
    assert parse_request({"messages": user("hi"), "response_format": {"type": "text"}}).needs == ()
    turns = parse_request({"messages": TURNS})
    assert turns.needs == ("tools",) and 'get_weather({"city": "Oslo"})' in turns.text
    # what SDKs send by default without tools asks nothing
    assert parse_request({"messages": user("hi"), "tool_choice": "auto", "parallel_tool_calls": True}).needs == ()


TURNS = [{"role": "user", "content": "Weather in Oslo?"},
         {"role": "assistant", "content": None, "tool_calls": [
             {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
         {"role": "tool", "tool_call_id": "call_0", "content": "4 C and rain"}]


def test_a_policy_names_what_a_tier_cannot_support():
    from hybrid_ai import load_policy
    from hybrid_ai.errors import PolicyError

    bad = hybrid_policy("http://127.0.0.1:9")
    bad["tiers"]["local"]["supports"] = ["tools"]
    with pytest.raises(PolicyError, match=r"tiers\.local\.supports.*cannot support 'tools'"):
        load_policy(bad)
    bad["tiers"]["local"]["supports"] = ["xml"]
    with pytest.raises(PolicyError, match=r"tiers\.local\.supports"):
        load_policy(bad)


# -- routing ------------------------------------------------------------------------------------------------------
def test_tools_go_only_to_tiers_that_support_them_and_the_record_says_so(fake, tmp_path, cloud_key):
    c, sink = client(fake, tmp_path)
    r = c.chat.completions.create(messages=user("Weather in Oslo?"), tools=[WEATHER], tool_choice="auto",
                                  parallel_tool_calls=False)
    rec = r.hybrid.record
    assert r.hybrid.route == "cloud" and r.hybrid.tiers == ["cloud"] and rec.reason == "score<threshold"
    assert rec.needs == ["tools"] and rec.skipped_tiers == ["local"] and rec.tool_calls == 1
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls" and r.choices[0].message.content is None
    assert call.id == "call_0" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["query"] == "Weather in Oslo?"
    sent = fake.requests[-1]["body"]
    assert sent["tools"] == [WEATHER] and sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is False
    assert sink.events[-1]["needs"] == ["tools"] and sink.events[-1]["tool_calls"] == 1


def test_a_rule_is_never_bypassed_to_reach_a_tier_with_tools(fake, tmp_path, cloud_key):
    c, _ = client(fake, tmp_path)
    with pytest.raises(InvalidRequest, match="rule 'personal-data'.*'local' does not support tools") as e:
        c.chat.completions.create(messages=user("Mail ann@example.com the forecast"), tools=[WEATHER])
    assert e.value.field == "tools"
    # a pin is never silently overridden: a pinned tier that cannot answer is refused, fallback or not
    strict, _ = client(fake, tmp_path, rules=[{"type": "pinned", "fallback": False}])
    for pinned in (c, strict):
        with pytest.raises(InvalidRequest, match="pinned to 'local', but 'local' does not support json_schema") as e:
            pinned.chat.completions.create(messages=user("hi"), response_format=SCHEMA, route="local")
        assert e.value.field == "route"
    assert fake.hits == 0


def test_a_policy_without_a_tier_for_tools_refuses_them(tmp_path):
    local_only = {"name": "solo", "tiers": {"local": {"backend": "transformers"}},
                  "classifier": {"threshold": 1.0, "strong_tier": "local"}, "fallback": {}, "telemetry": {"sinks": []}}
    with pytest.raises(InvalidRequest, match="policy 'solo' has no tier that does"):
        HybridClient(local_only).chat.completions.create(messages=TURNS)


# -- answers: whole, streamed, multi-turn -------------------------------------------------------------------------
def test_parallel_tool_calls_stream_as_openai_streams_them(fake, tmp_path, cloud_key):
    c, sink = client(fake, tmp_path)
    whole = c.chat.completions.create(messages=user("Weather and time?"), tools=[WEATHER, TIME])
    stream = c.chat.completions.create(messages=user("Weather and time?"), tools=[WEATHER, TIME], stream=True,
                                       stream_options={"include_usage": True})
    chunks = list(stream)
    pieces = [tc for ch in chunks if ch.choices for tc in ch.choices[0].delta.tool_calls or []]
    assert [p.index for p in pieces] == [0, 0, 0, 1, 1, 1]  # id and name first, then the arguments in parts
    assert pieces[0].id == "call_0" and pieces[0].function.name == "get_weather" and pieces[1].id is None
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "tool_calls"
    assert stream.tool_calls == [t.model_dump(exclude_none=True) for t in whole.choices[0].message.tool_calls]
    assert len(stream.tool_calls) == 2 and stream.hybrid.record.tool_calls == 2 and stream.text == ""


async def test_the_async_client_answers_and_streams_tool_calls(fake, tmp_path, cloud_key):
    c, _ = client(fake, tmp_path, cls=AsyncHybridClient)
    r = await c.chat.completions.create(messages=user("Time?"), tools=[WEATHER, TIME],
                                        tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert [t.function.name for t in r.choices[0].message.tool_calls] == ["get_time"]
    stream = await c.chat.completions.create(messages=user("Time?"), tools=[TIME], stream=True)
    async for _ in stream:
        pass
    assert [t["function"]["name"] for t in stream.tool_calls] == ["get_time"]
    assert json.loads(stream.tool_calls[0]["function"]["arguments"]) == {"query": "Time?", "n": 0}


def test_a_conversation_with_tool_results_is_routed_and_answered(fake, tmp_path, cloud_key):
    c, _ = client(fake, tmp_path)
    r = c.chat.completions.create(messages=TURNS, tools=[WEATHER])
    assert r.choices[0].message.content == "tool said: 4 C and rain" and r.choices[0].finish_reason == "stop"
    assert r.hybrid.route == "cloud" and r.hybrid.record.needs == ["tools"]
    sent = fake.requests[-1]["body"]["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert sent[2] == {"role": "tool", "content": "4 C and rain", "tool_call_id": "call_0"}


def test_a_json_schema_answer_comes_from_a_tier_that_supports_it(fake, tmp_path, cloud_key):
    c, _ = client(fake, tmp_path)
    r = c.chat.completions.create(messages=user("Say hi"), response_format=SCHEMA)
    assert json.loads(r.choices[0].message.content) == {"answer": "cloud says hi"}
    assert fake.requests[-1]["body"]["response_format"] == SCHEMA and r.hybrid.record.skipped_tiers == ["local"]


# -- structured output on the local tier: prompted, checked, escalated when invalid -----------------------------
def json_local(fake, tmp_path, local, cls=HybridClient):
    return client(fake, tmp_path, cls=cls, local=local, tiers={
        **hybrid_policy(fake.base)["tiers"],
        "local": {"backend": "transformers", "supports": ["json_object", "json_schema"],
                  "generation": {"max_tokens": 24}}})


@pytest.mark.parametrize("stream", [False, True])
def test_a_local_answer_that_is_not_the_json_asked_for_is_escalated(fake, tmp_path, cloud_key, stream):
    c, _ = json_local(fake, tmp_path, EchoBackend("local"))
    r = c.chat.completions.create(messages=user("not json at all"), response_format={"type": "json_object"},
                                  stream=stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in r if ch.choices) if stream else \
        r.choices[0].message.content
    rec = r.hybrid.record
    assert json.loads(text) == {"answer": "cloud says hi"} and rec.route == "cloud" and rec.fallback
    assert rec.attempts[0].tier == "local" and rec.attempts[0].error_kind == "invalid_output"
    assert "not valid JSON" in rec.attempts[0].error and rec.needs == ["json_object"] and not rec.skipped_tiers


def test_a_valid_local_json_answer_is_kept_and_a_schema_is_checked(fake, tmp_path, cloud_key):
    c, _ = json_local(fake, tmp_path, EchoBackend("local"))
    r = c.chat.completions.create(messages=user('{"answer": "local"}'), response_format={"type": "json_object"})
    assert r.hybrid.route == "local" and json.loads(r.choices[0].message.content) == {"answer": "local"}
    r = c.chat.completions.create(messages=user('{"answer": 7}'), response_format=SCHEMA)  # 7 is not a string
    assert r.hybrid.route == "cloud" and "not valid under the schema" in r.hybrid.record.attempts[0].error


@pytest.mark.slow
def test_the_real_slm_is_asked_for_json_and_its_answer_checked(fake, tmp_path, cloud_key):
    c, _ = json_local(fake, tmp_path, None)
    r = c.chat.completions.create(messages=user("Give the capital of France as a JSON object."),
                                  response_format={"type": "json_object"})
    rec = r.hybrid.record
    assert isinstance(json.loads(r.choices[0].message.content), dict)  # valid JSON, whichever tier answered
    if rec.route == "local":
        assert not rec.fallback
    else:
        assert rec.attempts[0].tier == "local" and rec.attempts[0].error_kind == "invalid_output"


@pytest.mark.parametrize("text, fmt, ok", [
    ('```json\n{"a": 1}\n```', {"type": "json_object"}, True),
    ("[1, 2]", {"type": "json_object"}, False),
    ('{"answer": "x"}', SCHEMA, True),
    ('{"other": "x"}', SCHEMA, False),
    ('{"a": 1', {"type": "json_object"}, False),
    ("[" * 100_000 + "]" * 100_000, {"type": "json_object"}, False),  # too deep to read: escalated, no crash
])
def test_the_format_check(text, fmt, ok):
    assert (problem(unfenced(text), fmt) is None) == ok


# -- through the server and the OpenAI SDK --------------------------------------------------------------------------
def test_the_sdk_transport_gets_tool_calls_whole_and_streamed(fake, tmp_path, cloud_key):
    c, _ = client(fake, tmp_path)
    sdk = openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1", http_client=hybrid_ai.http_client(client=c))
    r = sdk.chat.completions.create(model="hybrid", messages=user("Weather?"), tools=[WEATHER])
    assert r.choices[0].message.tool_calls[0].function.name == "get_weather"
    args = ""
    for chunk in sdk.chat.completions.create(model="hybrid", messages=user("Weather?"), tools=[WEATHER], stream=True):
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            args += tc.function.arguments or ""
    assert json.loads(args) == {"query": "Weather?", "n": 0}


@pytest.mark.slow
def test_the_server_answers_tools_to_the_sdk_and_refuses_a_bad_schema(fake, tmp_path):
    from gateway import AUTH, SECRET, Gateway

    g = Gateway(tmp_path, fake)
    try:
        sdk = openai.OpenAI(api_key=AUTH["authorization"].removeprefix("Bearer "), base_url=f"{g.base}/v1",
                            max_retries=0)
        r = sdk.chat.completions.create(model="hybrid", messages=TURNS[:1], tools=[WEATHER])
        assert r.choices[0].finish_reason == "tool_calls" and r.choices[0].message.tool_calls[0].id == "call_0"
        r = sdk.chat.completions.create(model="hybrid", messages=TURNS, tools=[WEATHER])
        assert r.choices[0].message.content == "tool said: 4 C and rain"
        with pytest.raises(openai.BadRequestError) as e:
            sdk.chat.completions.create(model="hybrid", messages=TURNS[:1], tools=[
                {"type": "function", "function": {"name": "f", "parameters": {"type": 5}}}])
        assert e.value.body["param"] == "tools[0].function.parameters" and "JSON Schema" in e.value.body["message"]
    finally:
        g.close()
    assert fake.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"  # the policy's key, sent upstream only
    assert SECRET not in (tmp_path / "stderr.log").read_text() and not any(SECRET.encode() in b for b in g.replies)
