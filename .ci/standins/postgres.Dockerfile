# Stand-in for postgres:15 (Docker Hub out of reach): Debian bookworm's PostgreSQL 15 on the base of
# .ci/base-image, with an entrypoint that does what the official image does for compose.yaml:
# initdb on an empty volume with POSTGRES_USER / POSTGRES_PASSWORD (scram-sha-256 over TCP),
# POSTGRES_DB created, listening on every interface. Used by .ci/compose-check only.
ARG BASE=fragility-ci/python:3.12-slim
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:${PATH} PGDATA=/var/lib/postgresql/data
USER postgres
ENTRYPOINT ["/bin/sh", "/usr/local/bin/postgres-entrypoint.sh"]
