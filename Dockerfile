# Image for the Interaction Hub API and stream workers (one image, two commands).
#   API:     ihub serve --store search --host 0.0.0.0 --port 8683   (the default CMD)
#   workers: ihub worker
# Configuration comes from IHUB_* environment variables (see interaction_hub/settings.py,
# compose.yaml and helm/interaction-hub/values.yaml).
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY interaction_hub ./interaction_hub
COPY schemas ./schemas
COPY ingest ./ingest
COPY stream_workers ./stream_workers
COPY query_api ./query_api
COPY storage ./storage
RUN python -m venv /opt/ihub && /opt/ihub/bin/pip install .

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
CMD ["ihub", "serve", "--store", "search", "--host", "0.0.0.0", "--port", "8683"]
