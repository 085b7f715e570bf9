#!/usr/bin/env bash
# Install what the tests and the local cluster run, idempotently:
#  - into the project-local .tools/bin: consul (Debian bullseye's consul 1.8.7 .deb, fetched with apt through a
#    private sources list and state dir, so the system's apt sources are never changed) and consul-template
#    (`go install` of a pinned version);
#  - from Debian (bookworm, the system's sources): the PostgreSQL 15 server binaries (the tests start private
#    instances), nginx, redis-server and redis-sentinel, prometheus, supervisor, wrk, and poppler-utils (pdftoppm)
#    and zbar-tools (zbarimg), with which the certificate tests render a PDF page and decode its QR code.
# Docker, docker-compose and the base image come from scripts/install-docker.sh.
# A second run does nothing. TOOLS_DIR overrides the tools folder.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS_DIR=${TOOLS_DIR:-$ROOT/.tools}
BIN=$TOOLS_DIR/bin
CONSUL_VERSION=1.8.7
CONSUL_TEMPLATE_VERSION=v0.41.1
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
mkdir -p "$BIN"

# --- Debian packages from the system's own sources -------------------------------------------------------------
need=()
PG_BIN=${MUTIROES_PG_BIN:-/usr/lib/postgresql/15/bin}
{ [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ]; } || need+=(postgresql-15)
/usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || need+=(prometheus)
command -v supervisord >/dev/null 2>&1 || need+=(supervisor)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools)
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # the SMTP TLS tests make their certificates
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${need[*]} (run as root, or: apt-get install ${need[*]})" >&2
        exit 1
    fi
    echo "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # Debian starts packaged daemons on install; the cluster runs its own private instances instead.
    if command -v service >/dev/null 2>&1; then
        for svc in nginx redis-server redis-sentinel supervisor postgresql prometheus; do
            service "$svc" stop >/dev/null 2>&1 || true
        done
    fi
fi

# --- consul 1.8.7 from Debian bullseye, through a private apt configuration -------------------------------------
if ! "$BIN/consul" version 2>/dev/null | grep -q "Consul v$CONSUL_VERSION"; then
    work=$TOOLS_DIR/apt-bullseye
    mkdir -p "$work/state/lists/partial" "$work/cache/archives/partial" "$work/deb" "$work/etc"
    # the machine's own Debian mirror (the one its apt already uses), with the bullseye suite
    mirror=${DEBIAN_MIRROR:-$( (cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true) \
        | awk '/^URIs:/ && !/security/ {print $2; exit} /^deb / && !/security/ {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}')}
    if [ -z "$mirror" ]; then
        echo "no Debian mirror found in the apt sources; set DEBIAN_MIRROR" >&2
        exit 1
    fi
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bullseye main" >"$work/etc/sources.list"
    apt_opts=(
        -o "Dir::Etc::SourceList=$work/etc/sources.list"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State=$work/state"
        -o "Dir::State::status=/var/lib/dpkg/status"
        -o "Dir::Cache=$work/cache"
        -o "APT::Sandbox::User=root"
        -o "Debug::NoLocking=1"
    )
    echo "fetching consul $CONSUL_VERSION from Debian bullseye (private apt state in $work)"
    apt-get "${apt_opts[@]}" -qq update
    (cd "$work/deb" && rm -f consul_*.deb && apt-get "${apt_opts[@]}" -qq download "consul=$CONSUL_VERSION*")
    rm -rf "$work/extract"
    dpkg-deb -x "$work/deb"/consul_*.deb "$work/extract"
    install -m 0755 "$work/extract/usr/bin/consul" "$BIN/consul"
    rm -rf "$work/extract"
fi

# --- consul-template, pinned, built from the Go module proxy ----------------------------------------------------
if ! "$BIN/consul-template" -version 2>&1 | grep -q "consul-template ${CONSUL_TEMPLATE_VERSION}"; then
    echo "building consul-template $CONSUL_TEMPLATE_VERSION"
    GOBIN=$BIN GOFLAGS=-mod=mod GOPATH=${GOPATH:-$TOOLS_DIR/go} GOCACHE=${GOCACHE:-$TOOLS_DIR/go-cache} \
        CGO_ENABLED=0 "$GO" install "github.com/hashicorp/consul-template@$CONSUL_TEMPLATE_VERSION"
fi

# --- Patroni for the local cluster's PostgreSQL nodes, in a venv of Debian's python3 ------------------------------
# (PostgreSQL runs as an unprivileged user, who must be able to run Patroni: the project venv's interpreter may live
# where that user cannot reach, such as /root/.pyenv)
PATRONI_VERSION=$(sed -n 's/^patroni==\([^ ]*\).*/\1/p' "$ROOT/docker/patroni.lock")
if ! "$TOOLS_DIR/patroni/bin/patroni" --version 2>/dev/null | grep -q "patroni $PATRONI_VERSION"; then
    echo "installing Patroni $PATRONI_VERSION into $TOOLS_DIR/patroni"
    rm -rf "$TOOLS_DIR/patroni"
    /usr/bin/python3 -m venv "$TOOLS_DIR/patroni"
    "$TOOLS_DIR/patroni/bin/pip" install --quiet --require-hashes -r "$ROOT/docker/patroni.lock"
fi

# sed reads to the end: `head -1` exits early and, under pipefail, the writer's SIGPIPE failed this script at random
"$BIN/consul" version | sed -n 1p
"$BIN/consul-template" -version 2>&1 | sed -n 1p
"$TOOLS_DIR/patroni/bin/patroni" --version
