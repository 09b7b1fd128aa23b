# shadow: the dual-run shadow comparison daemon.
#
# Two stages: the build stage installs the locked dependencies (hashes checked) and shadow's
# wheel into a virtualenv without pip; the final stage copies that venv onto the same base and
# runs it as an unprivileged user. Rebuilt any day, it installs the versions CI tested.
#
# The base is pinned by digest (python:3.11.16-slim-bookworm, multi-platform index, as listed by
# docker-library/repo-info on 2026-09-01). To update: take the new digest of the tag from there
# or `docker buildx imagetools inspect python:3.11-slim-bookworm`, then rebuild and run the tests.
ARG PYTHON_IMAGE=python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first: this layer is rebuilt only when a lock file changes.
COPY requirements/runtime.lock requirements/build.lock ./requirements/
RUN python -m venv --without-pip /opt/shadow \
    && pip --python /opt/shadow/bin/python install --require-hashes --no-deps \
        -r requirements/runtime.lock \
    && python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r requirements/build.lock
COPY pyproject.toml README.md LICENSE ./
COPY shadow ./shadow
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && pip --python /opt/shadow/bin/python install --no-deps /wheels/*.whl \
    && /opt/shadow/bin/shadow --help > /dev/null

FROM ${PYTHON_IMAGE}
# The base's own pip, setuptools and wheel are not needed at run time.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && useradd --system --uid 10001 --home-dir /var/lib/shadow --shell /usr/sbin/nologin shadow \
    && mkdir -p /var/lib/shadow /seed \
    && chown shadow:shadow /var/lib/shadow /seed
COPY --from=build /opt/shadow /opt/shadow
ENV PATH=/opt/shadow/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    SHADOW_HOST=0.0.0.0 SHADOW_PORT=8000 SHADOW_DB=/var/lib/shadow/shadow.db \
    PROMETHEUS_DISABLE_CREATED_SERIES=True

# Non-root: shadow only reads the bucket and writes its own ledger.
USER 10001:10001
WORKDIR /var/lib/shadow
VOLUME ["/var/lib/shadow"]
EXPOSE 8000

# The slim image has no curl: probe /healthz with the Python that is already there.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]

ENTRYPOINT ["shadow"]
CMD ["serve"]
