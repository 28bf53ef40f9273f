# fragility-forecast image: one image runs the API (`fragility serve`), the job worker
# (`fragility worker`) and the Dask scheduler / worker (`dask scheduler`, `dask worker ...`).
#
#   docker build -t fragility-forecast .
#   docker run -p 127.0.0.1:8000:8000 -v fragility-data:/data fragility-forecast
#   docker compose up -d         # PostgreSQL + MinIO + API + worker + Dask, see compose.yaml
#
# Builds with BuildKit and with the legacy builder (no `# syntax=` frontend, no RUN --mount), and
# fetches nothing from Docker Hub but PYTHON_IMAGE. Behind a TLS-intercepting proxy or a private
# package index:
#   docker build --build-arg CA_CERT="$(cat proxy-ca.pem)" --build-arg INDEX_URL=https://... .
# CA_CERT (PEM text, one or a few certificates: a build argument holds at most 128 kB) is added to
# the base image's CA bundle for pip and uv during the build only; INDEX_URL replaces PyPI (a mirror
# of PyPI: uv.lock's sha256 hashes are checked). Neither reaches the runtime stage.
#
# Stages: `deps` installs uv.lock's runtime dependencies (no dev extra) into /opt/venv, from
# pyproject.toml and uv.lock alone, so a code edit reuses that layer; `project` builds and installs
# only the project into /opt/project; the runtime stage copies the two, in two layers, onto a
# fresh PYTHON_IMAGE: no compiler (every dependency is a wheel), no uv, no pip cache, no sources.

ARG PYTHON_IMAGE=python:3.12-slim

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS deps

ARG UV_VERSION=0.13.9
ARG INDEX_URL=https://pypi.org/simple
ARG CA_CERT=

# Build-time only (this stage and `project`): the CA bundle and index that pip and uv use.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_INDEX_URL=${INDEX_URL} \
    PIP_CERT=/etc/build-ca.pem \
    SSL_CERT_FILE=/etc/build-ca.pem \
    UV_DEFAULT_INDEX=${INDEX_URL} \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1

# The bundle: the base image's system bundle (or pip's own if it has none) plus CA_CERT.
RUN { cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null \
      || cat "$(python3 -c 'import pip._vendor.certifi as c; print(c.where())')"; \
      printf '%s\n' "$CA_CERT"; } > /etc/build-ca.pem \
 && python3 -m pip install --quiet "uv==${UV_VERSION}"

WORKDIR /src
# Dependencies: only the lock (and pyproject.toml, which uv export checks it against) is copied,
# so this layer is rebuilt only when they change. Hashes from uv.lock are required.
# Bundled test suites (pandas, scipy, numpy, ... about 80 MB) are dropped.
COPY pyproject.toml uv.lock ./
RUN uv export --frozen --no-dev --no-emit-project --format requirements.txt -o requirements.txt \
 && uv venv --quiet /opt/venv --python "$(command -v python3)" \
 && uv pip install --quiet --python /opt/venv/bin/python --require-hashes -r requirements.txt \
 && find /opt/venv/lib/python3.12/site-packages -mindepth 2 -depth -type d \( -name tests -o -name test \) \
        -exec rm -rf {} +

# ---------------------------------------------------------------------------------------
FROM deps AS project

COPY README.md ./
COPY indicators ./indicators
COPY models ./models
COPY service ./service
RUN uv pip install --quiet --python /opt/venv/bin/python --no-deps --prefix /opt/project . \
 && rm -f /opt/project/.lock

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="fragility-forecast" \
      org.opencontainers.image.description="Bayesian early-warning service for state-failure indicators"

# Non-root user; /data is the one writable place (database file, artifacts, compile caches).
# No VOLUME: mount a named volume at /data (compose does); a new named volume takes /data's owner.
RUN groupadd --system --gid 10001 fragility \
 && useradd --system --uid 10001 --gid fragility --home-dir /home/fragility --create-home \
        --shell /usr/sbin/nologin fragility \
 && mkdir -p /data/artifacts /data/cache/pytensor /data/cache/numba /data/cache/matplotlib \
 && chown -R fragility:fragility /data

# Two layers: the dependencies (unchanged by a code edit) and the project (a few hundred kB).
COPY --from=deps /opt/venv /opt/venv
COPY --from=project /opt/project/ /opt/venv/

# PyTensor 3 compiles with numba: no C compiler in the image (cxx= says so explicitly).
ENV PATH=/opt/venv/bin:${PATH} \
    VIRTUAL_ENV=/opt/venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FRAGILITY_DATABASE_URL=sqlite:////data/fragility.db \
    FRAGILITY_ARTIFACTS=/data/artifacts \
    FRAGILITY_HOST=0.0.0.0 \
    FRAGILITY_PORT=8000 \
    PYTENSOR_FLAGS=base_compiledir=/data/cache/pytensor,cxx= \
    NUMBA_CACHE_DIR=/data/cache/numba \
    MPLCONFIGDIR=/data/cache/matplotlib \
    HOME=/home/fragility

USER fragility
WORKDIR /home/fragility
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('FRAGILITY_PORT', '8000'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]

# `fragility serve` raises its soft open-file limit to the hard one at start and cuts connections whose
# headers take longer than FRAGILITY_HEADER_TIMEOUT_SECONDS (service/connections.py); raise the hard limit
# with `docker run --ulimit nofile=65536:65536` (compose.yaml does) where the runtime's is low.
CMD ["fragility", "serve", "--host", "0.0.0.0"]
