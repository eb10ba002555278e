#!/usr/bin/env bash
# Installs the Debian 12 packages the relay needs to build, run and test; installs nothing already present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config clang-format curl
  libwebsockets-dev libsimdjson-dev libspdlog-dev libzmq3-dev cppzmq-dev catch2 libcli11-dev
  libtomlplusplus-dev libsodium-dev libssl-dev libsystemd-dev
  python3 python3-zmq python3-websockets
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "installing: ${missing[*]}"
sudo=""
if [[ $(id -u) != 0 ]]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
