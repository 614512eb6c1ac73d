# The compliance monitor worker image. No Docker engine runs in this project's CI:
# the file is linted by tests (base image, user, entry point), not built there.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY events ./events
COPY rules ./rules
COPY monitor ./monitor
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /var/lib/monitor --create-home monitor
USER monitor
WORKDIR /var/lib/monitor
ENV MONITOR_WEB_HOST=0.0.0.0 \
    MONITOR_DATA_DIR=/var/lib/monitor/data \
    PYTHONUNBUFFERED=1
EXPOSE 6066
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:6066/healthz').status != 200)"
ENTRYPOINT ["monitor"]
CMD ["worker"]
