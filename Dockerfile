# helpbot in a container: `docker compose up -d` (see compose.yaml and README "Deploying").
# Build: docker build -t helpbot .   Run: docker run --env-file .env helpbot telegram ...
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user that owns only its state folder.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/helpbot --create-home \
        --shell /usr/sbin/nologin helpbot

# Only what the package needs; the source is removed once installed.
COPY pyproject.toml README.md /src/
COPY bot/ /src/bot/
COPY adapters/ /src/adapters/
COPY knowledge/ /src/knowledge/
RUN pip install "/src[telegram,discord,redis,metrics]" && rm -rf /src

USER helpbot
WORKDIR /var/lib/helpbot
ENV HELPBOT_DB=/var/lib/helpbot/sessions.sqlite3 \
    HELPBOT_HEALTH_URL=http://127.0.0.1:9100/healthz
EXPOSE 9100

# slim has no curl: python's urllib asks /healthz (served by --metrics-port 9100).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HELPBOT_HEALTH_URL'], timeout=4)"]

ENTRYPOINT ["helpbot"]
CMD ["telegram", "--metrics-port", "9100", "--metrics-host", "0.0.0.0", "--log-format", "json"]
