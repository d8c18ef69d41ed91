#!/usr/bin/env bash
# Installs the Debian packages that transparent interception and its tests need: iptables (the rules),
# iproute2 (`ip netns`, veth, bridge), util-linux (setpriv to run the proxy as its own uid, nsenter) and gcc
# (to build the SO_ORIGINAL_DST addon, scripts/build-native.ts), and tcpdump (the mutual TLS tests capture
# the bridge between workloads to show the request is not in plaintext). Idempotent: a package is installed only
# when a command it provides is missing, and `apt-get update` runs at most once, only then.
#
# Without root nothing can be installed, and nothing more is needed: explicit mode runs without any of
# these, and the transparent-mode tests skip themselves with their reason. So this script always exits 0.
#
# iptables backend: Debian's iptables package ships both iptables-nft (the default alternative) and
# iptables-legacy. Both are fine for the rules Weft renders (nat table, REDIRECT, owner match); the
# interception code calls plain `iptables-restore`/`iptables-save`, so whichever alternative the machine
# selects is used. We only check that the selected one can list the nat table in a fresh network namespace
# and say so when it cannot (a kernel without nf_tables would need
# `update-alternatives --set iptables /usr/sbin/iptables-legacy`).
set -u

# Package name -> a command it provides, to tell whether it is already installed.
declare -A provides=(
  [iptables]=iptables
  [iproute2]=ip
  [util-linux]=setpriv
  [gcc]=cc
  [tcpdump]=tcpdump
)
order=(iptables iproute2 util-linux gcc tcpdump)

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

missing=()
for pkg in "${order[@]}"; do
  if ! have "${provides[$pkg]}"; then missing+=("$pkg"); fi
done
# nsenter comes from util-linux too (on bookworm both setpriv and nsenter are in it).
if ! have nsenter && [[ ! " ${missing[*]} " == *" util-linux "* ]]; then missing+=(util-linux); fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all present (iptables, ip, setpriv, nsenter, cc, tcpdump)"
elif [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing ${missing[*]}; not root, so not installing them." >&2
  echo "deps: transparent-mode tests will be skipped; explicit mode needs none of these." >&2
  exit 0
else
  echo "deps: missing ${missing[*]}; installing with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get update -qq; then
    echo "deps: apt-get update failed; transparent-mode tests will be skipped" >&2
    exit 0
  fi
  # One package at a time, so one that cannot be had does not stop the others.
  for pkg in "${missing[@]}"; do
    if apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null; then
      echo "deps: installed $pkg"
    else
      echo "deps: could not install $pkg; transparent-mode tests will be skipped" >&2
    fi
  done
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: not root; transparent-mode tests will be skipped."
  exit 0
fi

# Check the iptables backend in a throwaway network namespace (never in the host's own).
if have iptables && have ip; then
  ns="weft-deps-check-$$"
  if ip netns add "$ns" 2>/dev/null; then
    if out=$(ip netns exec "$ns" iptables -t nat -S 2>&1); then
      echo "deps: $(iptables -V 2>/dev/null) works in a fresh network namespace"
    else
      echo "deps: iptables cannot use the nat table in a network namespace: $out" >&2
      echo "deps: try 'update-alternatives --set iptables /usr/sbin/iptables-legacy'" >&2
    fi
    ip netns delete "$ns" 2>/dev/null
  else
    echo "deps: cannot create a network namespace (ip netns add); transparent-mode tests will be skipped" >&2
  fi
fi
exit 0
