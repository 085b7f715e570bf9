# The application image: API replicas (gunicorn), RQ workers, the scheduler, the migrations one-shot and the
# development SMTP sink, all from the locked dependencies (requirements.lock, installed with --require-hashes).

FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv && rm -rf /var/lib/apt/lists/*
COPY docker/build-certs/ /build-certs/
COPY requirements.lock /src/requirements.lock
RUN set -eux; \
    if [ -s /build-certs/ca-certificates.crt ]; then export PIP_CERT=/build-certs/ca-certificates.crt; fi; \
    python3 -m venv /opt/mutiroes; \
    /opt/mutiroes/bin/pip install --no-cache-dir --quiet --require-hashes -r /src/requirements.lock
COPY setup.cfg pyproject.toml README.md /src/
COPY mutiroes /src/mutiroes
COPY workers /src/workers
RUN set -eux; \
    if [ -s /build-certs/ca-certificates.crt ]; then export PIP_CERT=/build-certs/ca-certificates.crt; fi; \
    /opt/mutiroes/bin/pip install --no-cache-dir --quiet --no-deps /src

FROM debian:bookworm-slim
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3 curl; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --uid 10001 --home-dir /app --create-home mutiroes; \
    mkdir -p /app/instance /app/media /app/mail; \
    chown -R mutiroes:mutiroes /app
COPY --from=build /opt/mutiroes /opt/mutiroes
COPY wsgi.py gunicorn.conf.py /app/
COPY docker/app-entrypoint.sh /usr/local/bin/app-entrypoint
ENV PATH=/opt/mutiroes/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MUTIROES_BIND=0.0.0.0:8000 \
    MUTIROES_INSTANCE_PATH=/app/instance \
    MUTIROES_MEDIA_ROOT=/app/media \
    PROMETHEUS_MULTIPROC_DIR=/tmp/mutiroes-metrics
USER mutiroes
WORKDIR /app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD app-entrypoint healthcheck
# SIGTERM drains (readiness 503, deregistration, nginx reload) before gunicorn stops: stop_grace_period >= 60 s
STOPSIGNAL SIGTERM
ENTRYPOINT ["app-entrypoint"]
CMD ["api"]
