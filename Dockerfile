# CoGov API / worker image. Build: docker build -t cogov .

# The live editor's bundle (esbuild), built from the lockfile; only its output goes into the image.
FROM node:20-slim AS editor
WORKDIR /build/services/web/frontend
COPY services/web/frontend/package.json services/web/frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY services/web/frontend/build.mjs ./
COPY services/web/frontend/src ./src
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    COGOV_DATA_DIR=/var/lib/cogov
WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY networks ./networks
COPY norms ./norms
COPY services ./services
COPY migrations ./migrations
COPY --from=editor /build/services/web/static/build ./services/web/static/build
RUN pip install . && useradd --system --home /var/lib/cogov cogov && mkdir -p /var/lib/cogov && chown cogov /var/lib/cogov

USER cogov
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"
CMD ["sh", "-c", "cogov db upgrade && cogov serve --host 0.0.0.0 --port 8000"]
