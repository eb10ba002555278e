#!/usr/bin/env bash
# Installs the Debian 12 packages the relay needs to build, run and test, and the Node.js client's npm packages;
# installs nothing already present.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config clang-format curl
  clang libclang-rt-14-dev
  libwebsockets-dev libsimdjson-dev libspdlog-dev libzmq3-dev cppzmq-dev catch2 libcli11-dev
  libtomlplusplus-dev libsodium-dev libssl-dev libsystemd-dev libjemalloc-dev
  python3 python3-zmq python3-websockets python3-aiohttp python3-cryptography openssl systemd dpkg-dev file
  python3-venv python3-setuptools python3-wheel python3-mypy python3-matplotlib groff-base man-db
  libhiredis-dev redis-server
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
# Node.js for clients/node: any node and npm will do (e.g. NodeSource's nodejs, which bundles npm and conflicts
# with Debian's npm package), so Debian's packages are installed only when the commands are missing.
if ! command -v node >/dev/null; then
  missing+=(nodejs)
fi
if ! command -v npm >/dev/null; then
  missing+=(npm)
fi

if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""
  if [[ $(id -u) != 0 ]]; then
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

# The Node.js client's packages, exactly as locked (zeromq ships prebuilt binaries: nothing is compiled), with
# its devDependencies typescript and @types/node, which tests/integration/test_client_packages.py checks
# index.d.ts with. As below, a lockfile newer than what npm recorded installs again.
if [[ ! -f clients/node/node_modules/.package-lock.json || ! -d clients/node/node_modules/typescript ||
      clients/node/package-lock.json -nt clients/node/node_modules/.package-lock.json ]]; then
  echo "installing: clients/node npm packages"
  (cd clients/node && npm ci --no-audit --no-fund --loglevel=error </dev/null)
fi
# Third-party SDKs the integration tests run against the relay, unmodified (tests/sdk/package-lock.json). npm
# records what it installed in node_modules/.package-lock.json: a lockfile newer than that (an SDK added or
# bumped) installs again.
if [[ ! -f tests/sdk/node_modules/.package-lock.json || tests/sdk/package-lock.json -nt tests/sdk/node_modules/.package-lock.json ]]; then
  echo "installing: tests/sdk npm packages"
  (cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error </dev/null)
fi
