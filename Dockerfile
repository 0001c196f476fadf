# Production image: the same scripts the tests and `make run` use.
# tests/test_image_layout.py runs these steps without Docker (wheel in a fresh venv, outside the checkout).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    ATRIUM_DATA_DIR=/var/lib/atrium ATRIUM_HOST=0.0.0.0 ATRIUM_PORT=4000

RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A regular (non-editable) install. The wheel carries what Atrium reads at run time: migrations,
# schema.prisma and the wasm engine project (setup.py bundles them into extensions/_bundle). The
# sources are built outside /app and removed, so nothing at run time can import or read the checkout.
COPY pyproject.toml setup.py README.md constraints.txt schema.prisma /tmp/src/
COPY extensions /tmp/src/extensions
COPY prisma /tmp/src/prisma
RUN pip install --no-cache-dir /tmp/src -c /tmp/src/constraints.txt && rm -rf /tmp/src

WORKDIR /app
COPY scripts ./scripts
# The bundled engine's npm packages (npm ci from its lockfile, inside site-packages), then the Prisma
# client from the wheel's schema.prisma (native engine when Prisma's binary host is reachable at build
# time, else the WebAssembly one). `atrium doctor` fails the build when the engine cannot run.
RUN python -m extensions.prisma_engine install && scripts/deploy.sh generate && atrium doctor

RUN useradd --system --home /var/lib/atrium atrium && mkdir -p /var/lib/atrium \
    && chown atrium /var/lib/atrium
USER atrium
EXPOSE 4000
HEALTHCHECK CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:4000/health/liveliness')" || exit 1

# Migrate (advisory-locked, safe with several replicas), then serve.
CMD ["/bin/sh", "-c", "scripts/deploy.sh migrate && exec scripts/deploy.sh start"]
