# shadow: the dual-run shadow comparison daemon.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    SHADOW_HOST=0.0.0.0 SHADOW_PORT=8000 SHADOW_DB=/var/lib/shadow/shadow.db \
    PROMETHEUS_DISABLE_CREATED_SERIES=True

WORKDIR /src
COPY pyproject.toml README.md ./
COPY shadow ./shadow
RUN pip install '.[postgres]' && rm -rf /src

# Non-root: shadow only reads the bucket and writes its own ledger.
RUN useradd --system --uid 10001 --home-dir /var/lib/shadow --shell /usr/sbin/nologin shadow \
    && mkdir -p /var/lib/shadow /seed && chown shadow:shadow /var/lib/shadow /seed
USER 10001:10001
WORKDIR /var/lib/shadow
VOLUME ["/var/lib/shadow"]
EXPOSE 8000

# The slim image has no curl: probe /healthz with the Python that is already there.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]

ENTRYPOINT ["shadow"]
CMD ["serve"]
