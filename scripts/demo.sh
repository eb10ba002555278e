#!/usr/bin/env bash
# Installs what is missing, builds, and runs the relay with `qq-gateway-relay sub`, which prints one line per
# event: time, relay_seq, type, shard, and the message's group or channel, author and text.
#   scripts/demo.sh                      against the bundled simulator (no credentials needed); an echo bot
#                                        (docs/examples/echo_bot.py) also answers each message through the
#                                        relay's OpenAPI forwarder, and prints its replies
#   scripts/demo.sh --webhook            the simulator delivers signed webhook callbacks instead
#   scripts/demo.sh --config relay.toml  against the platform named in your configuration
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

config=""
webhook=false
if [[ ${1:-} == "--config" && -n ${2:-} ]]; then
  config=$(realpath "$2")
elif [[ ${1:-} == "--webhook" ]]; then
  webhook=true
fi

scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DRELAY_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j "$(nproc)"

work=$(mktemp -d /tmp/qq-gateway-relay-demo.XXXXXX)
pids=()
stop_all() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap stop_all INT TERM EXIT

relay_started=false
if [[ -z $config && $webhook == true ]]; then
  hook_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  config=$work/relay.toml
  cat >"$config" <<TOML
[bot]
app_id = "102000000"
client_secret = "sim-secret"
intents = ["GROUP_AND_C2C_EVENT"]
[gateway]
enabled = false
[webhook]
enabled = true
listen = "127.0.0.1:$hook_port"
[publish]
endpoints = ["ipc://$work/relay.sock"]
[state]
directory = "$work/state"
TOML
  build-release/bin/qq-gateway-relay --config "$config" &
  pids+=($!)
  relay_started=true
  sleep 0.5
  build-release/bin/qq-gateway-sim --port-file "$work/sim.port" --webhook-url "http://127.0.0.1:$hook_port/qq/webhook" \
    --rate 2 --quiet &
  pids+=($!)
  echo "the simulator posts signed webhook events to http://127.0.0.1:$hook_port/qq/webhook"
elif [[ -z $config ]]; then
  build-release/bin/qq-gateway-sim --port-file "$work/sim.port" --shards 2 --max-concurrency 2 \
    --heartbeat-interval 5000 --rate 2 --quiet &
  pids+=($!)
  for _ in $(seq 50); do [[ -s $work/sim.port ]] && break; sleep 0.1; done
  port=$(cat "$work/sim.port")
  api_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  api_key=$(build-release/bin/qq-gateway-relay api-key demo-echo-bot)
  echo "$api_key" >"$work/api-clients"
  config=$work/relay.toml
  cat >"$config" <<TOML
[bot]
app_id = "102000000"
client_secret = "sim-secret"
intents = ["GUILDS", "PUBLIC_GUILD_MESSAGES", "GROUP_AND_C2C_EVENT"]
[gateway]
api_base = "http://127.0.0.1:$port"
token_url = "http://127.0.0.1:$port/app/getAppAccessToken"
[publish]
endpoints = ["ipc://$work/relay.sock"]
[api]
enabled = true
listen = "127.0.0.1:$api_port"
clients_file = "$work/api-clients"
[state]
directory = "$work/state"
TOML
  echo "simulator on http://127.0.0.1:$port (control API: docs/simulator.md)"
  echo "OpenAPI forwarder on http://127.0.0.1:$api_port (docs/api.md)"
fi

endpoint=$(/usr/bin/python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["publish"]["endpoints"][0])' "$config" 2>/dev/null || echo "tcp://127.0.0.1:5555")
if [[ $relay_started == false ]]; then
  build-release/bin/qq-gateway-relay --config "$config" &
  pids+=($!)
fi
# The terminal subscriber: one readable line per event, the message text last (docs/subscribing.md).
build-release/bin/qq-gateway-relay sub --endpoint "$endpoint" &
pids+=($!)
if [[ -n ${port:-} ]]; then
  # A message in Chinese, as a user would write in a group; the generated events follow ("event 0-1 ...").
  (sleep 2 && /usr/bin/python3 - "$port" <<'PY' >/dev/null 2>&1 || true) &
import json, sys, urllib.request
d = {"author": {"member_openid": "E4F4AEA33253A2797FB897C50B81D7ED"}, "content": " 你好，这是 qq-gateway-relay 的演示",
     "group_openid": "C9F778FE6ADF9D1D1DBE395BF744A33A", "id": "ROBOT1.0_demo"}
body = json.dumps({"shard": 0, "t": "GROUP_AT_MESSAGE_CREATE", "d": d}, ensure_ascii=False).encode()
urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/_sim/send", data=body), timeout=5)
PY
fi
if [[ -n ${api_key:-} ]]; then
  # An event in, a reply out: the echo bot answers each message through the relay.
  /usr/bin/python3 "$root/docs/examples/echo_bot.py" "$endpoint" "http://127.0.0.1:$api_port" "${api_key#* }" &
  pids+=($!)
  echo "relay, subscriber and echo bot running; Ctrl-C stops them all"
else
  echo "relay and subscriber running; Ctrl-C stops all three"
fi
wait -n "${pids[@]}" || true
