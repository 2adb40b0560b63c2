# Image for the Interaction Hub API and stream workers (one image, two commands).
#   API:     ihub serve --store search --host 0.0.0.0 --port 8683   (the default CMD)
#   workers: ihub worker
# Configuration comes from IHUB_* environment variables (see interaction_hub/settings.py,
# compose.yaml and helm/interaction-hub/values.yaml).
# Everything installed comes from uv.lock (exact versions and hashes); scripts/check-deploy checks
# that this file keeps to that, runs as a user other than root and has a health check.
FROM python:3.11-slim AS build
WORKDIR /src
# the uv that wrote uv.lock: the Makefile's UV_VERSION
ARG UV_VERSION=0.13.9
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PROJECT_ENVIRONMENT=/opt/ihub UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy UV_NO_CACHE=1
RUN pip install uv==${UV_VERSION}
# The dependencies in a layer of their own, rebuilt only when the lock or pyproject.toml changes.
# --locked: the build stops if pyproject.toml changed without `uv lock`.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-install-project --no-editable
# Then the project itself: its dependencies are all there, so this installs the project alone,
# as a wheel (not editable: /src stays behind in this stage).
COPY README.md ./
COPY interaction_hub ./interaction_hub
COPY schemas ./schemas
COPY ingest ./ingest
COPY stream_workers ./stream_workers
COPY query_api ./query_api
COPY storage ./storage
RUN uv sync --locked --no-editable

FROM python:3.11-slim
ENV PATH=/opt/ihub/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IHUB_HOST=0.0.0.0 \
    IHUB_PORT=8683
COPY --from=build /opt/ihub /opt/ihub
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin ihub
USER 10001
WORKDIR /tmp
EXPOSE 8683
# The API's readiness (public, so it holds with auth on too): 200 once its store answers. The image
# has no curl; its Python does the request. A worker container has its own check on its own port
# (compose.yaml); Kubernetes uses the chart's probes instead.
HEALTHCHECK --interval=10s --timeout=10s --start-period=10s --retries=6 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8683/health/ready', timeout=5)"]
CMD ["ihub", "serve", "--store", "search", "--host", "0.0.0.0", "--port", "8683"]
