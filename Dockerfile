# arag serve: the OpenAI-compatible API with durable threads.
#   docker build -t adaptive-rag .
#   docker run -p 8000:8000 -e ARAG_API_KEYS=me:<16+ chars> -v $PWD/.arag:/data adaptive-rag
# Threads go to /data/threads.sqlite, or to PostgreSQL with -e ARAG_POSTGRES_DSN=postgresql://...
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ARAG_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY graph ./graph
COPY nodes ./nodes
COPY tools ./tools
COPY arag ./arag
RUN pip install --disable-pip-version-check . \
    && useradd --create-home --uid 10001 arag \
    && mkdir -p /data && chown arag /data

USER arag
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# --host 0.0.0.0 makes arag serve refuse to start unless ARAG_API_KEYS is set.
CMD ["arag", "serve", "--host", "0.0.0.0", "--port", "8000"]
