import subprocess
import sys

import hybrid_ai

EXPECTED = {
    "AllTiersFailed", "AsyncHybridClient", "AsyncHybridStream", "Attempt", "Backend", "BackendError",
    "BackendProtocol", "BackendResult", "BudgetExceeded", "ChatRequest", "Classifier", "Generation", "HybridAIError",
    "HybridChatCompletion", "HybridClient", "HybridStream", "InvalidRequest", "MissingDependency", "Policy",
    "PolicyError", "RouteDecision", "RouteRecord", "StreamState", "TierConfig", "WrapperBackend", "__version__",
    "async_http_client", "create_app", "http_client", "load_policy",
}


def test_public_surface_is_pinned():
    assert set(hybrid_ai.__all__) == EXPECTED
    for name in hybrid_ai.__all__:
        assert getattr(hybrid_ai, name) is not None


def test_import_is_light():
    """`import hybrid_ai` must not pull torch, transformers, litellm or openai (seconds each)."""
    code = ("import sys, hybrid_ai; heavy = [m for m in ('torch', 'transformers', 'litellm', 'openai', 'peft') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute_raises():
    try:
        hybrid_ai.NoSuchThing  # noqa: B018
    except AttributeError as e:
        assert "NoSuchThing" in str(e)
    else:
        raise AssertionError("expected AttributeError")


def test_the_test_double_is_public_and_a_backend():
    from hybrid_ai.testing import EchoBackend, ScriptedBackend

    assert isinstance(ScriptedBackend("cloud"), hybrid_ai.Backend) and isinstance(EchoBackend(), hybrid_ai.Backend)
    assert isinstance(ScriptedBackend("cloud"), hybrid_ai.BackendProtocol)
