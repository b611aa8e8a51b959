# What the scripts share; sourced (`source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`), never run.
# Messages go to stderr, so that a script's stdout stays what it prints for a caller.

KAPTAIN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
script_name="$(basename "$0")"

# step NAME: announces a step; current_step keeps it for a failure message.
step() { current_step="$*"; printf '\n==> %s\n' "$*" >&2; }
log() { printf '==> %s\n' "$*" >&2; }
die() { printf '%s: error: %s\n' "$script_name" "$*" >&2; exit 1; }

# run_when_changed STAMP INPUT... -- COMMAND...: runs COMMAND (its output to stderr) when the
# sha256 of the INPUT files' content is not the one STAMP holds, then records it: installs that
# happen once per change of what pins them (a lock file, a requirements file, a wheel).
run_when_changed() {
  local stamp="$1" inputs=() want
  shift
  while [ "$1" != -- ]; do inputs+=("$1"); shift; done
  shift
  want="$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$@" >&2
    mkdir -p "$(dirname "$stamp")"
    echo "$want" >"$stamp"
  fi
}

# npm_ci_when_changed DIR: DIR's node_modules as its package-lock.json pins them (no browser
# download: the tests use Debian's Chromium).
npm_ci_when_changed() {
  (cd "$1" && run_when_changed node_modules/.kaptain-lock.sha256 package-lock.json -- \
    env PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
}

# start_local_cluster [--quiet]: tests/cluster/up (builds what it needs, starts the control
# plane; its KAPTAIN_* port variables apply), then KUBECONFIG and KUBECTL exported from the
# last lines it prints. --quiet: without its progress on stderr.
start_local_cluster() {
  local out
  if [ "${1:-}" = --quiet ]; then
    out="$("$KAPTAIN_ROOT/tests/cluster/up" 2>/dev/null)" || die "tests/cluster/up failed (logs: ${KAPTAIN_CLUSTER_DATA:-$KAPTAIN_ROOT/tests/cluster/.data}/logs)"
  else
    out="$("$KAPTAIN_ROOT/tests/cluster/up")"
  fi
  KUBECONFIG="$(printf '%s\n' "$out" | sed -n 's/^KUBECONFIG=//p' | tail -n 1)"
  KUBECTL="$(printf '%s\n' "$out" | sed -n 's/^KUBECTL=//p' | tail -n 1)"
  [ -n "$KUBECONFIG" ] && [ -n "$KUBECTL" ] || die "tests/cluster/up printed no KUBECONFIG= and KUBECTL= lines"
  export KUBECONFIG KUBECTL
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
