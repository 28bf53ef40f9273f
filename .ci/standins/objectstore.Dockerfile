# Stand-in for minio/minio and minio/mc (Docker Hub out of reach): moto's S3 server on :9000 and an `mc`
# that does the three things compose.yaml asks of mc (`ready local`, `alias set`, `mb --ignore-existing`).
# Objects live in memory: enough for .ci/compose-check, which never restarts the store. Used there only.
ARG BASE=fragility-ci/python:3.12-slim
FROM ${BASE}
ARG MOTO_VERSION
ARG CA_CERT=
RUN { cat /etc/ssl/certs/ca-certificates.crt; printf '%s\n' "$CA_CERT"; } >/tmp/ca.pem \
 && PIP_CERT=/tmp/ca.pem python3 -m pip install --quiet --no-cache-dir --disable-pip-version-check \
        --root-user-action=ignore "moto[server]==${MOTO_VERSION}" \
 && rm /tmp/ca.pem
COPY mc.py /usr/local/bin/mc
RUN chmod 0755 /usr/local/bin/mc
ENTRYPOINT ["/bin/sh", "-c", "exec python3 -m moto.server -H 0.0.0.0 -p 9000", "--"]
