#!/usr/bin/env bash
# Installs the Debian packages the benchmark harness (bench/run.ts) compares Weft against: wrk (HTTP/1.1
# load), nginx and haproxy (peer proxies, and nginx as the static upstream) and nghttp2-client (h2load, for
# HTTP/2). Idempotent: it runs `apt-get update` at most once, and only when a package is missing. It never
# starts a system service: the bench runs nginx and haproxy itself, in the foreground, with its own configs.
# If apt is unusable (not root, no network) it says so and exits 0, so the bench can report the missing
# tools as "not available" instead of failing.
set -u

# Package name -> a command it provides, to tell whether it is already installed.
declare -A provides=(
  [wrk]=wrk
  [nginx]=nginx
  [haproxy]=haproxy
  [nghttp2-client]=h2load
)

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=()
for pkg in wrk nginx haproxy nghttp2-client; do
  if ! have "${provides[$pkg]}"; then missing+=("$pkg"); fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bench deps: all present (wrk, nginx, haproxy, h2load)"
  exit 0
fi

echo "bench deps: missing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "bench deps: not root, cannot apt-get install ${missing[*]}; the bench will report them as not available" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# policy-rc.d exit 101 tells Debian's maintainer scripts not to start services (nginx's postinst would
# otherwise try to start one on port 80). We only add it if none exists, and remove only our own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
fi
cleanup() { if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

if ! apt-get update -qq; then
  echo "bench deps: apt-get update failed; the bench will report ${missing[*]} as not available" >&2
  exit 0
fi

# One package at a time, so one that cannot be had does not stop the others.
installed=()
for pkg in "${missing[@]}"; do
  if apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1; then
    installed+=("$pkg")
    echo "bench deps: installed $pkg"
  else
    echo "bench deps: could not install $pkg; the bench will report it as not available" >&2
  fi
done

# Debian's packages may still have started the service (e.g. through invoke-rc.d when a policy-rc.d was
# already present and allowed it). Stop only a service whose package this run installed, by its pid file.
for svc in "${installed[@]}"; do
  case "$svc" in nginx | haproxy) ;; *) continue ;; esac
  for pidfile in "/run/$svc.pid" "/var/run/$svc.pid"; do
    if [ -s "$pidfile" ]; then
      pid=$(cat "$pidfile")
      if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null && echo "bench deps: stopped the $svc service the package started (pid $pid)"
      fi
    fi
  done
done
exit 0
