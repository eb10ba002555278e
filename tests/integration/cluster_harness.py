"""Several relays of one bot sharing its shards through a real redis-server: configuration and probes."""
from cluster_redis import free_port
from metrics_client import metrics

LEASE_MS = 2000  # short, so that a failover takes seconds; the stop margin is a fifth of it


def cluster_config(sim, redis, node, endpoint, state_dir, shards, metrics_port, lease_ms=LEASE_MS, extra=""):
    """A relay of the cluster: gateway.shards fixed (a cluster needs it), metrics on, positions saved often."""
    return f"""
[bot]
app_id = "102000000"
client_secret = "sim-secret"
intents = ["GUILDS", "PUBLIC_GUILD_MESSAGES", "GROUP_AND_C2C_EVENT"]
[gateway]
api_base = "{sim.base}"
token_url = "{sim.base}/app/getAppAccessToken"
shards = {shards}
[publish]
endpoints = ["{endpoint}"]
[state]
directory = "{state_dir}"
save_interval_ms = 200
[metrics]
listen = "127.0.0.1:{metrics_port}"
[cluster]
enabled = true
redis = "redis://127.0.0.1:{redis.port}/0"
node = "{node}"
lease_ms = {lease_ms}
[log]
level = "debug"
{extra}
"""


def cluster_value(port, name, labels=""):
    return metrics(port).get((f"qq_relay_cluster_{name}", labels), 0)


def held(port):
    """How many shard leases the relay on this metrics port holds (0 while it does not answer)."""
    try:
        return int(cluster_value(port, "shards_held"))
    except Exception:  # not listening yet, or gone
        return 0


def lease_owners(redis, count, key_prefix="qq-relay:", app_id="102000000"):
    """{shard index: the node named in its lease in Redis, or None when the lease is free}."""
    conn = redis.connect()
    try:
        owners = {}
        for i in range(count):
            value = conn.command("GET", f"{key_prefix}{app_id}:{{shard:{i}/{count}}}:lease")
            owners[i] = value.split(" ", 1)[1] if value else None
        return owners
    finally:
        conn.close()


def sim_owners(sim, count):
    """{shard index: connection id} of the shards whose session is live on a connection of this layout."""
    state = sim.get("/_sim/state")
    live = {c["id"] for c in state["connections"] if c["attached"] and not c["closing"]
            and c["shard"] and c["shard"][1] == count}
    return {s["shard"]: s["conn"] for s in state["shards"] if s["connected"] and s["session_id"]
            and s["conn"] in live and not s["invalid"]}


__all__ = ["LEASE_MS", "cluster_config", "cluster_value", "held", "sim_owners", "free_port"]
