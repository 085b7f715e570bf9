# Two images from one file:
#   app      (default) the API replica (gunicorn), also the RQ worker, scheduler, rq-dashboard and SMTP sink
#   gateway  nginx with consul-template, which rewrites nginx's upstream from Consul's healthy replicas
# docker-compose.distributed.yml builds both.

FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MUTIROES_BIND=0.0.0.0:8000 \
    MUTIROES_INSTANCE_PATH=/app/instance \
    MUTIROES_MEDIA_ROOT=/app/media
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 mutiroes
WORKDIR /app
# dependencies first, so code changes do not reinstall them
COPY setup.cfg pyproject.toml README.md ./
RUN mkdir mutiroes && touch mutiroes/__init__.py && pip install . && pip uninstall -y mutiroes && rm -rf mutiroes build
COPY . .
RUN pip install --no-deps -e . \
    && mkdir -p /app/instance /app/media \
    && chown -R mutiroes:mutiroes /app/instance /app/media
USER mutiroes
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/liveness/', timeout=2)"
# SIGTERM drains (readiness 503, deregistration, wait) before gunicorn stops: give it stop_grace_period >= 60 s
STOPSIGNAL SIGTERM
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]

FROM hashicorp/consul-template:0.41.1 AS consul-template

FROM nginx:1.27 AS gateway
COPY --from=consul-template /bin/consul-template /usr/local/bin/consul-template
COPY nginx/nginx.conf nginx/security_headers.conf /etc/nginx/
COPY consul/upstream.conf.ctmpl consul/consul-template.hcl /etc/consul-template/
COPY docker/gateway-entrypoint.sh /usr/local/bin/gateway-entrypoint.sh
RUN chmod 0755 /usr/local/bin/gateway-entrypoint.sh && mkdir -p /etc/nginx/media
EXPOSE 80
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1/health || exit 1
ENTRYPOINT ["/usr/local/bin/gateway-entrypoint.sh"]
