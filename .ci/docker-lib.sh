# Shared by .ci/docker-smoke and .ci/compose-check (sourced): a Docker engine, Compose v2, the CA.
#
# DOCKER: Debian's client (/usr/bin/docker, docker.io) when present: its built-in BuildKit needs no
# buildx plugin (a newer client elsewhere on the PATH may refuse DOCKER_BUILDKIT=1 without one).

log() { echo "[$(basename "$0") $(( $(date +%s) - ${T0:-$(date +%s)} ))s] $*" >&2; }
die() { echo "$(basename "$0"): FAILED: $*" >&2; exit 1; }

# Install docker.io from Debian if missing and start dockerd if it does not answer; fail loudly.
ensure_engine() {
  if [ ! -x /usr/bin/docker ] || ! command -v dockerd >/dev/null 2>&1; then
    log "installing docker.io from Debian"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null; } \
      || die "could not install Debian's docker.io"
  fi
  DOCKER=${DOCKER:-/usr/bin/docker}
  if ! $DOCKER info >/dev/null 2>&1; then
    log "starting dockerd (log: /tmp/fragility-dockerd.log)"
    setsid nohup dockerd >/tmp/fragility-dockerd.log 2>&1 </dev/null &
    for _ in $(seq 60); do $DOCKER info >/dev/null 2>&1 && break; sleep 1; done
    $DOCKER info >/dev/null 2>&1 || {
      tail -30 /tmp/fragility-dockerd.log >&2
      die "the Docker engine did not start within 60 s (see the dockerd log above): the image was NOT built or tested"; }
  fi
  export DOCKER
}

# Compose v2 (`docker compose`): bookworm's docker-compose is v1, so take Debian 13's v2 package
# (a static-enough Go binary: needs libc6 >= 2.34) with a private apt configuration, leaving the
# machine's apt sources untouched, and put it where the Docker CLI finds plugins.
ensure_compose() {
  if $DOCKER compose version >/dev/null 2>&1; then return; fi
  local dir=/tmp/fragility-compose-apt plugin=/usr/local/lib/docker/cli-plugins/docker-compose
  log "installing Compose v2 (Debian trixie's docker-compose package) as $plugin"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  echo "deb http://deb.debian.org/debian trixie main" >"$dir/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
              -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o Dir::State::status=/dev/null)
  (cd "$dir" && apt-get "${opts[@]}" update -qq && apt-get "${opts[@]}" download docker-compose) >/dev/null 2>&1 \
    || die "could not download Debian's docker-compose (Compose v2)"
  rm -rf "$dir/x" && dpkg-deb -x "$dir"/docker-compose_*.deb "$dir/x"
  install -D -m 0755 "$dir/x/usr/libexec/docker/cli-plugins/docker-compose" "$plugin"
  $DOCKER compose version >/dev/null 2>&1 || die "docker compose does not run after installing $plugin"
}

# The CA certificates this machine adds to Debian's set (a TLS-intercepting proxy's), as PEM text;
# CA_CERT_FILE overrides. Passed to the build as --build-arg CA_CERT.
machine_ca_additions() {
  if [ -n "${CA_CERT_FILE:-}" ]; then cat "$CA_CERT_FILE"; return; fi
  /usr/bin/python3 - <<'EOF'
import glob, re
pem = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)
known = {"".join(c.split()) for f in glob.glob("/usr/share/ca-certificates/**/*.crt", recursive=True)
         for c in pem.findall(open(f).read())}
for cert in pem.findall(open("/etc/ssl/certs/ca-certificates.crt").read()):
    if "".join(cert.split()) not in known:
        print(cert)
EOF
}

# Wait until container $1 reports healthy (at most $2 s); print the seconds it took.
wait_healthy() {
  local name=$1 limit=$2 t=$SECONDS status
  while :; do
    status=$($DOCKER inspect -f '{{.State.Health.Status}}' "$name" 2>/dev/null || echo gone)
    [ "$status" = healthy ] && { echo $(( SECONDS - t )); return 0; }
    if [ "$status" = gone ] || [ "$status" = unhealthy ] || [ $(( SECONDS - t )) -ge "$limit" ]; then
      $DOCKER logs --tail 40 "$name" >&2 2>&1 || true
      die "$name is $status after $(( SECONDS - t )) s"
    fi
    sleep 1
  done
}
