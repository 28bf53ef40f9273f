# syntax=docker/dockerfile:1.7
# fragility-forecast image: one image runs the API (`fragility serve`), the job worker
# (`fragility worker`) and the Dask scheduler / worker (`dask scheduler`, `dask worker ...`).
#
#   docker build -t fragility-forecast .
#   docker run -p 8000:8000 -v fragility-data:/data fragility-forecast
#   docker compose up           # PostgreSQL + API + worker + Dask, see compose.yaml
#
# Stage 1 builds wheels of the project and every dependency; stage 2 installs only those
# wheels (no compiler, no pip cache, no sources) and runs as a non-root user.

ARG PYTHON_IMAGE=python:3.12-slim

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Dependencies change less often than the code: copy the metadata first so the wheel layer
# of the dependencies is cached across code edits.
COPY pyproject.toml README.md ./
COPY indicators ./indicators
COPY models ./models
COPY service ./service

RUN pip wheel --wheel-dir /wheels .

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="fragility-forecast" \
      org.opencontainers.image.description="Bayesian early-warning service for state-failure indicators"

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/fragility_forecast-*.whl

# Non-root user; /data is the one writable place (database file, artifacts, compile caches).
RUN groupadd --system --gid 10001 fragility \
 && useradd --system --uid 10001 --gid fragility --home-dir /home/fragility --create-home \
        --shell /usr/sbin/nologin fragility \
 && mkdir -p /data/artifacts /data/cache/pytensor /data/cache/numba /data/cache/matplotlib \
 && chown -R fragility:fragility /data

# PyTensor 3 compiles with numba: no C compiler in the image (cxx= says so explicitly).
ENV FRAGILITY_DATABASE_URL=sqlite:////data/fragility.db \
    FRAGILITY_ARTIFACTS=/data/artifacts \
    FRAGILITY_HOST=0.0.0.0 \
    FRAGILITY_PORT=8000 \
    PYTENSOR_FLAGS=base_compiledir=/data/cache/pytensor,cxx= \
    NUMBA_CACHE_DIR=/data/cache/numba \
    MPLCONFIGDIR=/data/cache/matplotlib \
    HOME=/home/fragility

USER fragility
WORKDIR /home/fragility
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('FRAGILITY_PORT', '8000'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]

CMD ["fragility", "serve", "--host", "0.0.0.0"]
