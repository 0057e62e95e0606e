import pytest

from hybrid_ai.errors import InvalidRequest
from hybrid_ai.request import parse_request

OK = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    "params, field, words",
    [
        ({"messages": []}, "messages", "at least one"),
        ({}, "messages", "non-empty list"),
        ({"messages": "hello"}, "messages", "non-empty list"),
        ({"messages": ["hello"]}, "messages[0]", "object"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "messages[0].role", "unknown role 'bot'"),
        ({"messages": [{"content": "x"}]}, "messages[0].role", "unknown role None"),
        ({"messages": [{"role": "user", "content": 42}]}, "messages[0].content", "got int"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "missing"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
         "messages[0].content[0]", "image_url"),
        ({"messages": OK, "max_tokens": 10**9}, "max_tokens", "between 1 and"),
        ({"messages": OK, "max_tokens": 0}, "max_tokens", "between 1 and"),
        ({"messages": OK, "max_tokens": "32"}, "max_tokens", "integer"),
        ({"messages": OK, "max_tokens": True}, "max_tokens", "integer"),
        ({"messages": OK, "temperature": 5}, "temperature", "between 0 and 2"),
        ({"messages": OK, "stop": [1, 2]}, "stop", "strings"),
        ({"messages": OK, "route": 3}, "route", "must be a string"),
        ({"messages": OK, "stream": "yes"}, "stream", "true or false"),
    ],
)
def test_bad_requests_name_the_field(params, field, words):
    with pytest.raises(InvalidRequest) as e:
        parse_request(params, max_tokens_limit=4096)
    assert e.value.field == field
    assert words in str(e.value)


def test_valid_request_keeps_its_parameters():
    r = parse_request({"messages": [{"role": "system", "content": "be brief"},
                                    {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
                       "max_completion_tokens": 12, "stop": "\n", "presence_penalty": 0.5,
                       "extra_body": {"route": "local"}})
    assert r.max_tokens == 12 and r.stop == ("\n",) and r.route == "local"
    assert r.messages[1].content == "ab" and r.last_user_text == "ab"
    assert r.presence_penalty == 0.5
    assert r.text == "be brief\nab"


def test_openai_style_message_objects_are_accepted():
    from openai.types.chat import ChatCompletionMessage

    r = parse_request({"messages": [ChatCompletionMessage(role="assistant", content="earlier answer"), *OK]})
    assert [m.role for m in r.messages] == ["assistant", "user"]
