# fasciculation-cds: CDS Hooks 2.0 service, served by gunicorn as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --gid 10001 cds \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin cds

WORKDIR /opt/fasciculation-cds
COPY pyproject.toml README.md LICENSE ./
COPY cds_hooks ./cds_hooks
COPY service ./service
# The versions are pinned by what this checkout declares (pyproject.toml), not repeated here.
# hadolint ignore=DL3013
RUN pip install ".[postgres]"

# Numeric, so that Kubernetes runAsNonRoot can check it (deploy/kubernetes/deployment.yaml).
USER 10001:10001
WORKDIR /home/cds
# Fill pint's cache of the UCUM registry (~/.cache/fasciculation-cds/pint) so no process builds it at start-up.
RUN python -c "from service.facts.units import registry; registry()"
# Embedded default store: a SQLite file in the user's home (mount a volume at /home/cds/var to keep it).
ENV CDS_DATABASE_URL=sqlite:////home/cds/var/fasciculation-cds.sqlite3

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# Binding 0.0.0.0 needs trusted clients (CDS_TRUSTED_CLIENTS, with CDS_PUBLIC_URL for the JWT audience) or an
# explicit --allow-unauthenticated.
CMD ["fasciculation-cds", "serve", "--host", "0.0.0.0", "--port", "8080", "--workers", "2"]
