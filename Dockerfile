# syntax=docker/dockerfile:1
# mlops-bot container: `mlops-bot serve` as a non-root user; config and state are volumes.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY commands ./commands
COPY jobs ./jobs
COPY core ./core
COPY infra ./infra
COPY engine ./engine
RUN python -m venv /opt/mlops-bot \
    && /opt/mlops-bot/bin/pip install --no-compile ".[postgres]"

FROM python:3.11-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="mlops-bot" \
      org.opencontainers.image.description="Slack ChatOps for MLOps on Azure Machine Learning"
ENV PATH="/opt/mlops-bot/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    MPLBACKEND=Agg \
    MLOPS_BOT_CONFIG=/config/mlops-bot.yaml \
    MLOPS_BOT_STATE_DIR=/state
RUN groupadd --system --gid 10001 mlops \
    && useradd --system --uid 10001 --gid mlops --home-dir /state --shell /usr/sbin/nologin mlops \
    && mkdir -p /config /state && chown mlops:mlops /state
COPY --from=build /opt/mlops-bot /opt/mlops-bot
USER 10001:10001
VOLUME ["/config", "/state"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["mlops-bot"]
CMD ["serve", "--port", "3000"]
