# Production image: the same scripts the tests and `make run` use.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    ATRIUM_DATA_DIR=/var/lib/atrium ATRIUM_HOST=0.0.0.0 ATRIUM_PORT=4000

RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY extensions ./extensions
RUN pip install --no-cache-dir . -c constraints.txt

COPY prisma ./prisma
COPY schema.prisma ./
COPY scripts ./scripts
# Installs the bundled engine's npm packages and generates the Prisma client from ./schema.prisma
# (native engine when Prisma's binary host is reachable at build time, else the WebAssembly one).
RUN cd prisma/engine && npm ci --no-audit --no-fund && cd /app && scripts/deploy.sh generate

RUN useradd --system --home /var/lib/atrium atrium && mkdir -p /var/lib/atrium \
    && chown atrium /var/lib/atrium
USER atrium
EXPOSE 4000
HEALTHCHECK CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:4000/health/liveliness')" || exit 1

# Migrate (advisory-locked, safe with several replicas), then serve.
CMD ["/bin/sh", "-c", "scripts/deploy.sh migrate && exec scripts/deploy.sh start"]
