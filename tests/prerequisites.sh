#!/usr/bin/env bash
# What the test suite needs besides Python (make test runs this first):
#   Debian's Chromium (/usr/bin/chromium) — the browser tests drive it; never a browser downloaded by Playwright
#   Node.js ≥ 20 with npm                   — the interop tests' OIDC provider and axe-core come from the npm registry
#   redis-server                            — the two-process tests; the suite starts its own when none listens on 6379
#   coturn (turnserver), janus              — the video tests' TURN server and media server, started on loopback
#   iproute2 (ip, tc)                       — the poor-line test: a network namespace behind a shaped, lossy veth pair
#                                             (that test needs root, as .ci/run has)
#   nginx-light, openssl, postgresql        — the local production stack (deploy/local/, tests/stack/): nginx with a
#                                             self-signed certificate in front of two API processes, on a
#                                             PostgreSQL cluster of its own (initdb)
# As root, what is missing is installed from the distribution; otherwise this stops at once and
# names the one command to run. A PostgreSQL server is optional (SIP_TEST_DATABASE_URL, see README); its
# programs are not (the local stack's own cluster).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v redis-server >/dev/null || missing+=(redis-server)
[ -x /usr/bin/turnserver ] || missing+=(coturn)
[ -x /usr/bin/janus ] || missing+=(janus)
{ command -v ip && command -v tc; } >/dev/null || missing+=(iproute2)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v openssl >/dev/null || missing+=(openssl)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "tests/prerequisites.sh: installing ${missing[*]} from the distribution"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "make test needs ${missing[*]}, which this machine lacks. Run once:" >&2
    echo "    sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# Debian 12 ships Node.js 18; the OIDC provider of the interop tests needs 20 or newer. Then a
# Node.js 22 from the npm registry goes into .venv/node, for the tests only (make test puts it first on PATH).
local_node=.venv/node/node_modules/.bin/node
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ] && [ ! -x "$local_node" ]; then
  echo "tests/prerequisites.sh: Node.js $(node --version) is older than 20; installing Node.js 22 into .venv/node"
  npm install --prefix .venv/node --no-audit --no-fund --loglevel=error node@22
  "$local_node" --version >/dev/null
fi
