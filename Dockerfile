# The compliance monitor worker image. No Docker engine runs in this project's CI:
# the file is checked by tests (layer order, hash-checked dependencies, user, probes), not built there.
FROM python:3.11-slim AS build
WORKDIR /src
# Dependencies first, in a layer of their own: a source change does not reinstall them.
# requirements.lock pins every package with its wheel's sha256 (regenerate: make lock).
COPY requirements.lock ./
RUN pip install --no-cache-dir --prefix=/install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY events ./events
COPY rules ./rules
COPY monitor ./monitor
RUN pip install --no-cache-dir --prefix=/install --no-deps .

FROM python:3.11-slim
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /var/lib/monitor --create-home monitor
# Numeric user, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/monitor
ENV MONITOR_WEB_HOST=0.0.0.0 \
    MONITOR_DATA_DIR=/var/lib/monitor/data \
    PYTHONUNBUFFERED=1
EXPOSE 6066
# Liveness; Kubernetes uses /healthz (liveness) and /readyz (readiness) instead (deploy/kubernetes/monitor.yaml).
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:6066/healthz').status != 200)"
ENTRYPOINT ["monitor"]
CMD ["worker"]
