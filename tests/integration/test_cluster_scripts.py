"""The cluster's Redis Lua scripts (daemon/cluster/scripts) against a real redis-server: one lease owner per
shard, fencing tokens that refuse an old owner's renewals and position writes, release, identify pacing."""
import shutil
import time
import unittest

from cluster_redis import RedisError, RedisServer, load_scripts

LEASE = "qq:{shard:0/2}:lease"
FENCE = "qq:{shard:0/2}:fence"
POSITION = "qq:{shard:0/2}:position"


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@unittest.skipUnless(shutil.which("redis-server"), "redis-server is not installed")
class ClusterScripts(unittest.TestCase):
    def setUp(self):
        self.server = RedisServer()
        self.conn = self.server.connect()
        self.sha = load_scripts(self.conn)

    def tearDown(self):
        self.conn.close()
        self.server.stop()

    def run_script(self, name, keys, *args):
        return self.conn.command("EVALSHA", self.sha[name], len(keys), *keys, *args)

    def claim(self, node, lease_ms=10000):
        token, owner = self.run_script("claim", [LEASE, FENCE], node, lease_ms)
        return token, owner

    def test_two_nodes_claiming_one_shard_get_one_owner(self):
        self.assertEqual(self.claim("a"), (1, "a"))
        self.assertEqual(self.claim("b"), (1, "a"))
        self.assertEqual(self.claim("a"), (1, "a"), "claiming a lease already ours keeps the token")
        self.assertEqual(self.conn.command("GET", FENCE), "1")

    def test_after_expiry_the_other_node_claims_with_the_next_token_and_the_old_renewal_fails(self):
        self.assertEqual(self.claim("a", lease_ms=200), (1, "a"))
        self.assertEqual(self.run_script("renew", [LEASE], "a", 1, 200), 1)
        wait_for(lambda: self.conn.command("EXISTS", LEASE) == 0, 5, "the lease to expire")
        self.assertEqual(self.claim("b"), (2, "b"))
        self.assertEqual(self.run_script("renew", [LEASE], "a", 1, 10000), 0)
        self.assertEqual(self.run_script("renew", [LEASE], "b", 1, 10000), 0, "renewal needs the current token")
        self.assertEqual(self.run_script("renew", [LEASE], "b", 2, 10000), 1)
        self.assertEqual(self.run_script("release", [LEASE], "a", 1), 0)
        self.assertEqual(self.claim("c"), (2, "b"))

    def test_a_position_write_with_an_old_token_is_refused_and_changes_nothing(self):
        self.assertEqual(self.run_script("load_position", [POSITION]), [])
        self.assertEqual(self.claim("a", lease_ms=200), (1, "a"))
        self.assertEqual(self.run_script("save_position", [POSITION, FENCE], 1, "sess-a", 41, 100), 1)
        wait_for(lambda: self.conn.command("EXISTS", LEASE) == 0, 5, "the lease to expire")
        self.assertEqual(self.claim("b"), (2, "b"))
        self.assertEqual(self.run_script("load_position", [POSITION]), ["1", "sess-a", "41", "100"])
        self.assertEqual(self.run_script("save_position", [POSITION, FENCE], 2, "sess-a", 45, 7), 1)
        with self.assertRaises(RedisError) as refused:
            self.run_script("save_position", [POSITION, FENCE], 1, "sess-a", 99, 200)
        self.assertIn("STALE_TOKEN", str(refused.exception))
        self.assertEqual(self.run_script("load_position", [POSITION]), ["2", "sess-a", "45", "7"])

    def test_a_position_write_is_refused_while_another_lease_is_live(self):
        # Redis lost its data: the counter starts again at 1 below a's old token 5, which it cannot refuse.
        self.assertEqual(self.claim("b"), (1, "b"))
        with self.assertRaises(RedisError) as refused:
            self.run_script("save_position", [POSITION, FENCE, LEASE], 5, "sess-a", 99, 1, "a")
        self.assertIn("STALE_TOKEN", str(refused.exception))
        self.assertEqual(self.run_script("load_position", [POSITION]), [])
        self.assertEqual(self.run_script("save_position", [POSITION, FENCE, LEASE], 1, "sess-b", 3, 1, "b"), 1)
        self.assertEqual(self.run_script("release", [LEASE], "b", 1), 1)
        # No lease at all (it expired): the token alone decides, as before.
        self.assertEqual(self.run_script("save_position", [POSITION, FENCE, LEASE], 1, "sess-b", 4, 2, "b"), 1)

    def test_release_then_claim(self):
        self.assertEqual(self.claim("a"), (1, "a"))
        self.assertEqual(self.run_script("release", [LEASE], "b", 1), 0, "only the owner releases")
        self.assertEqual(self.run_script("release", [LEASE], "a", 2), 0, "only with its token")
        self.assertEqual(self.run_script("release", [LEASE], "a", 1), 1)
        self.assertEqual(self.conn.command("EXISTS", LEASE), 0)
        self.assertEqual(self.claim("b"), (2, "b"))

    def test_identify_pacing_shares_a_bucket_for_five_seconds(self):
        # max_concurrency 2: shards 0 and 2 share bucket 0, shard 1 has bucket 1.
        bucket = "qq:identify:%d"
        self.assertEqual(self.run_script("pace_identify", [bucket % (0 % 2)], "a", 5000), 0)
        wait = self.run_script("pace_identify", [bucket % (2 % 2)], "b", 5000)
        self.assertGreater(wait, 0)
        self.assertLessEqual(wait, 5001, "at most the slot's time left, plus the millisecond it expires in")
        self.assertEqual(self.run_script("pace_identify", [bucket % (1 % 2)], "b", 5000), 0)
        self.assertGreater(self.run_script("pace_identify", [bucket % 0], "a", 5000), 0, "the window holds for all")

    def test_a_pacing_wait_ends_when_the_slot_frees_even_in_its_last_millisecond(self):
        # Redis keeps a key through the millisecond it expires in, with PTTL 0 then. Asking in a tight loop until
        # the slot is granted passes through that millisecond: every wait must end by the slot's expiry, not a
        # whole window (here 1000 ms) later.
        for _ in range(5):
            self.assertEqual(self.run_script("pace_identify", ["qq:identify:0"], "a", 20), 0)
            waits = []
            while not waits or waits[-1] != 0:
                waits.append(self.run_script("pace_identify", ["qq:identify:0"], "b", 1000))
            self.assertLessEqual(max(waits), 21, "a wait past the slot's expiry")
            self.assertGreater(min(waits[:-1]), 0, "a wait of 0 ms while the slot is held")
            self.conn.command("DEL", "qq:identify:0")

    def test_heartbeat_lists_the_live_nodes_and_drops_silent_ones(self):
        nodes = "qq:nodes"
        self.assertEqual(self.run_script("heartbeat", [nodes], "a", 10000), ["a"])
        self.assertEqual(sorted(self.run_script("heartbeat", [nodes], "b", 10000)), ["a", "b"])
        # a's last heartbeat is older than a short lease: b's heartbeat drops it.
        score = int(self.conn.command("ZSCORE", nodes, "a"))
        self.conn.command("ZADD", nodes, score - 5000, "a")
        self.assertEqual(self.run_script("heartbeat", [nodes], "b", 2000), ["b"])

    def test_the_daily_quota_is_only_lowered_and_holds_identifies_when_spent(self):
        quota = "qq:identify:quota"
        self.assertEqual(self.run_script("note_quota", [quota], 2, 60000), 1)
        self.assertEqual(self.run_script("note_quota", [quota], 5, 60000), 0, "never raised")
        self.assertEqual(self.conn.command("GET", quota), "2")
        self.assertEqual(self.run_script("pace_identify", ["qq:identify:0", quota], "a", 5000), 0)
        self.assertEqual(self.run_script("pace_identify", ["qq:identify:1", quota], "a", 5000), 0)
        self.assertEqual(self.conn.command("GET", quota), "0")
        wait = self.run_script("pace_identify", ["qq:identify:2", quota], "a", 5000)
        self.assertGreater(wait, 5000, "refused until the quota resets, not for a window")
        self.assertEqual(self.conn.command("EXISTS", "qq:identify:2"), 0, "a refusal takes no bucket slot")
        self.assertEqual(self.run_script("note_quota", [quota], 1, 60000), 0, "0 stays: lower than 1")


if __name__ == "__main__":
    unittest.main()
