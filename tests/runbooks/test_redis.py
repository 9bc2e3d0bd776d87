"""Redis runbook commands against a real redis-server and a real three-node cluster."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mgops.runbooks.redis.client import RedisTarget, connect
from mgops.runbooks.redis.delete import delete_pattern, flush
from mgops.runbooks.redis.inspect import big_keys, dbsize, hit_ratio, key_prefix, memory
from mgops.runbooks.redis.keys import Throttle, escape_glob
from mgops.runbooks.redis.sessions import (
    invalidate_sessions,
    list_sessions,
    reset_rate_limit,
    session_pattern,
    session_ttl,
)
from mgops.store.db import Store
from tests.runbooks.helpers import actions, timeline
from tests.servers import RedisServer


def command_calls(target: RedisTarget, name: str) -> int:
    """How often the server ran ``name`` since the last CONFIG RESETSTAT."""
    total = 0
    for _host, client in target.primaries():
        stats = client.info("commandstats")
        total += int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))
    return total


def reset_stats(target: RedisTarget) -> None:
    for _host, client in target.primaries():
        client.config_resetstat()


def remaining(target: RedisTarget) -> set[bytes]:
    keys: set[bytes] = set()
    for _host, client in target.primaries():
        keys.update(client.scan_iter(count=1000))
    return keys


class TestEscapeGlob:
    def test_escapes_every_glob_character(self) -> None:
        """*, ?, [, ] and backslash are escaped; other bytes are kept."""
        escaped = escape_glob("a*b?c[d]e\\f")

        assert escaped == b"a\\*b\\?c\\[d\\]e\\\\f"

    def test_session_pattern_ends_at_the_id(self) -> None:
        """The id is followed by ':' so user 42 never matches user 420."""
        assert session_pattern("42") == b"session:user:42:*"


class TestSessions:
    def test_r1_invalidate_user_42_keeps_user_420(
        self, redis_target: RedisTarget, store: Store
    ) -> None:
        """R1: both sessions of user 42 go, user 420's stays; SCAN, never KEYS."""
        client = redis_target.client
        for key in (b"session:user:42:a", b"session:user:42:b", b"session:user:420:c"):
            client.set(key, b"x")
        reset_stats(redis_target)

        report = invalidate_sessions(target=redis_target, store=store, user_id="42")

        assert report.deleted == 2
        assert remaining(redis_target) == {b"session:user:420:c"}
        assert command_calls(redis_target, "keys") == 0
        assert command_calls(redis_target, "scan") >= 1

    @pytest.mark.parametrize("user_id", ["4*2", "[4]2", "4?", "a\\b"])
    def test_r2_glob_characters_in_ids_match_only_that_user(
        self, redis_target: RedisTarget, store: Store, user_id: str
    ) -> None:
        """R2: an id holding a glob character deletes only its own sessions."""
        client = redis_target.client
        own = f"session:user:{user_id}:s1".encode()
        others = {
            b"session:user:412:s",
            b"session:user:42:s",
            b"session:user:4:s",
            b"session:user:4x:s",
            b"session:user:ab:s",
            b"session:user:a\\\\b:s",
        }
        client.set(own, b"x")
        for key in others - {own}:
            client.set(key, b"x")

        report = invalidate_sessions(target=redis_target, store=store, user_id=user_id)

        assert report.deleted == 1
        assert remaining(redis_target) == others - {own}

    def test_binary_session_keys_are_listed_and_deleted(
        self, redis_target: RedisTarget, store: Store
    ) -> None:
        """A session key that is not UTF-8 is shown escaped and still deleted."""
        redis_target.client.set(b"session:user:7:\xff\xfe", b"x", ex=300)

        listed = list_sessions(target=redis_target, user_id="7")
        report = invalidate_sessions(target=redis_target, store=store, user_id="7")

        assert [s.key for s in listed] == ["session:user:7:\\xff\\xfe"]
        assert 0 < (listed[0].ttl_seconds or 0) <= 300
        assert report.deleted == 1
        assert remaining(redis_target) == set()

    def test_ttl_of_a_session_key(self, redis_target: RedisTarget) -> None:
        """TTL of session:<id>: seconds, None without expiry, nothing when gone."""
        redis_target.client.set(b"session:abc", b"x", ex=120)
        redis_target.client.set(b"session:forever", b"x")

        timed = session_ttl(target=redis_target, session_id="abc")
        forever = session_ttl(target=redis_target, session_id="forever")
        gone = session_ttl(target=redis_target, session_id="nope")

        assert 0 < getattr(timed, "ttl_seconds", 0) <= 120
        assert forever is not None
        assert forever.ttl_seconds is None
        assert gone is None

    def test_invalidate_is_audited_on_the_incident(
        self,
        redis_target: RedisTarget,
        store: Store,
        make_incident: Callable[..., int],
    ) -> None:
        """The deletion is an action row and two lines on the incident's timeline."""
        incident = make_incident()
        redis_target.client.set(b"session:user:9:a", b"x")

        invalidate_sessions(
            target=redis_target, store=store, user_id="9", incident_id=incident
        )

        [action] = actions(store)
        assert (action.kind, action.outcome, action.incident_id) == (
            "redis.sessions-invalidate",
            "succeeded",
            incident,
        )
        assert action.result["deleted"] == 1
        kinds = [e.kind for e in timeline(store, incident)]
        assert kinds == ["action-started", "action-finished"]


class TestRateLimit:
    def test_reset_user_removes_only_that_users_counters(
        self, redis_target: RedisTarget, store: Store
    ) -> None:
        """The exact counter and its window suffixes go; user 420's stays."""
        client = redis_target.client
        client.set(b"rate_limit:user:42", 10)
        client.set(b"rate_limit:user:42:1717000000", 3)
        client.set(b"rate_limit:user:420", 10)

        result = reset_rate_limit(target=redis_target, store=store, user_id="42")

        assert sorted(result["deleted"]) == [
            "rate_limit:user:42",
            "rate_limit:user:42:1717000000",
        ]
        assert remaining(redis_target) == {b"rate_limit:user:420"}

    def test_reset_ip(self, redis_target: RedisTarget, store: Store) -> None:
        """An IPv6 address with colons is a literal key, not a pattern."""
        redis_target.client.set(b"rate_limit:ip:2001:db8::1", 5)
        redis_target.client.set(b"rate_limit:ip:10.0.0.1", 5)

        result = reset_rate_limit(target=redis_target, store=store, ip="2001:db8::1")

        assert result["deleted"] == ["rate_limit:ip:2001:db8::1"]
        assert remaining(redis_target) == {b"rate_limit:ip:10.0.0.1"}


class TestDeletePattern:
    def test_dry_run_counts_and_samples_without_deleting(
        self, redis_target: RedisTarget, store: Store
    ) -> None:
        """The default is a dry run: count, a sample, nothing gone, audited dry-run."""
        pipe = redis_target.client.pipeline()
        for i in range(2500):
            pipe.set(f"content:{i}", b"x")
            pipe.set(f"user:{i}", b"x")
        pipe.execute()

        report = delete_pattern(target=redis_target, store=store, pattern="content:*")

        assert (report.matched, report.deleted, len(report.sample)) == (2500, 0, 10)
        assert all(k.startswith("content:") for k in report.sample)
        assert redis_target.client.dbsize() == 5000
        assert actions(store)[0].outcome == "dry-run"

    def test_apply_deletes_only_matching_keys_with_scan_and_unlink(
        self, redis_target: RedisTarget, store: Store
    ) -> None:
        """--apply removes the matches in batches with UNLINK; the rest stays."""
        pipe = redis_target.client.pipeline()
        for i in range(2500):
            pipe.set(f"content:{i}", b"x")
            pipe.set(f"user:{i}", b"x")
        pipe.execute()
        reset_stats(redis_target)

        report = delete_pattern(
            target=redis_target,
            store=store,
            pattern="content:*",
            apply=True,
            throttle=Throttle(pause=0.0005),
        )

        assert (report.matched, report.deleted) == (2500, 2500)
        assert redis_target.client.dbsize() == 2500
        assert command_calls(redis_target, "unlink") >= 5
        assert command_calls(redis_target, "evalsha") >= 3  # server-side steps
        assert command_calls(redis_target, "del") == 0
        assert command_calls(redis_target, "keys") == 0

    def test_without_scripting_rights_the_client_walk_does_the_same(
        self, redis_server: RedisServer, redis_target: RedisTarget, store: Store
    ) -> None:
        """An ACL user without @scripting: EVAL is refused, SCAN + UNLINK still work."""
        client = redis_target.client
        client.acl_setuser(
            "ops",
            enabled=True,
            passwords=["+secret"],
            keys=["~*"],
            commands=["+@all", "-@scripting"],
        )
        client.mset({f"content:{i}": 1 for i in range(1500)} | {"keep": 1})
        reset_stats(redis_target)
        ops = connect(f"redis://ops:secret@127.0.0.1:{redis_server.port}/0")

        report = delete_pattern(
            target=ops, store=store, pattern="content:*", apply=True
        )

        assert (report.matched, report.deleted) == (1500, 1500)
        assert remaining(redis_target) == {b"keep"}
        assert command_calls(redis_target, "scan") >= 2
        assert command_calls(redis_target, "evalsha") == 0
        assert actions(store)[-1].target == (
            f"redis://ops:***@127.0.0.1:{redis_server.port}/0"
        )
        ops.close()
        client.acl_deluser("ops")

    def test_binary_pattern_and_keys(
        self, redis_target: RedisTarget, store: Store
    ) -> None:
        """Keys that are not UTF-8 are matched and deleted by a bytes pattern."""
        redis_target.client.set(b"blob:\x00\xff", b"x")
        redis_target.client.set(b"blob:\x80", b"x")
        redis_target.client.set(b"other", b"x")

        report = delete_pattern(
            target=redis_target, store=store, pattern=b"blob:*", apply=True
        )

        assert report.deleted == 2
        assert sorted(report.sample) == ["blob:\\x00\\xff", "blob:\\x80"]
        assert remaining(redis_target) == {b"other"}


class TestThrottle:
    def test_slow_batches_lengthen_the_pause_and_fast_ones_shorten_it(self) -> None:
        """The pause grows after a slow batch and decays after fast ones."""
        slept: list[float] = []
        throttle = Throttle(pause=0.0, slow_batch=0.005, sleep=slept.append)

        throttle.after_batch(0.010)
        throttle.after_batch(0.010)
        throttle.after_batch(0.001)

        assert slept == [0.001, 0.002, 0.001]


class TestInspection:
    def test_dbsize_and_memory(self, redis_target: RedisTarget) -> None:
        """DBSIZE counts keys; INFO memory reports bytes in use."""
        redis_target.client.mset({f"k{i}": "v" for i in range(7)})

        sizes = dbsize(target=redis_target)
        mem = memory(target=redis_target)

        assert sizes["total"] == 7
        [node] = mem["nodes"].values()
        assert node["used_memory"] > 0
        assert node["maxmemory_policy"]

    def test_hit_ratio_uses_the_interval_not_the_counters_since_start(
        self, redis_target: RedisTarget, clock: object
    ) -> None:
        """Misses before the interval do not count; 3 hits and 1 miss give 75%."""
        client = redis_target.client
        client.config_resetstat()
        client.set(b"hot", b"1")
        for _ in range(20):
            client.get(b"missing")

        class TrafficClock:
            def now(self) -> object:
                return None

            def sleep(self, seconds: float) -> None:
                for _ in range(3):
                    client.get(b"hot")
                client.get(b"cold")

        result = hit_ratio(target=redis_target, clock=TrafficClock(), interval=5)  # type: ignore[arg-type]

        assert (result["hits"], result["misses"], result["hit_ratio"]) == (3, 1, 0.75)
        assert result["since_start_hit_ratio"] == round(3 / 24, 4)

    def test_big_keys_by_bytes_length_and_prefix(
        self, redis_target: RedisTarget
    ) -> None:
        """A long list tops the element count; a large string tops the bytes."""
        client = redis_target.client
        client.set(b"blob:big", b"x" * 100_000)
        client.rpush(b"queue:jobs", *range(5000))
        client.hset(b"user:1:profile", mapping={f"f{i}": i for i in range(50)})
        for i in range(30):
            client.set(f"session:user:{i}:s", b"x")

        report = big_keys(target=redis_target, top=3)

        assert report.scanned == 33
        assert report.by_bytes[0].key == "blob:big"
        assert report.by_bytes[0].bytes >= 100_000
        assert (report.by_length[0].key, report.by_length[0].length) == (
            "queue:jobs",
            5000,
        )
        assert report.prefixes["session:user:*"].keys == 30

    def test_key_prefix(self) -> None:
        """Prefixes keep up to ``depth`` segments and always drop the last one."""
        assert key_prefix(b"session:user:42:a") == "session:user:*"
        assert key_prefix(b"content:9") == "content:*"
        assert key_prefix(b"plain") == "plain"


class TestCluster:
    def test_cluster_is_detected_with_three_primaries(
        self, cluster_target: RedisTarget
    ) -> None:
        """The URL of one node reaches the whole cluster."""
        assert cluster_target.cluster
        assert len(cluster_target.primaries()) == 3

    def test_delete_pattern_covers_every_primary_and_splits_by_slot(
        self, cluster_target: RedisTarget, store: Store
    ) -> None:
        """Keys in slots on all three primaries are found and deleted."""
        client = cluster_target.client
        for i in range(600):
            client.set(f"content:{i}", b"x")
            client.set(f"keep:{i}", b"x")
        per_node = [c.dbsize() for _h, c in cluster_target.primaries()]

        preview = delete_pattern(
            target=cluster_target, store=store, pattern="content:*"
        )
        report = delete_pattern(
            target=cluster_target, store=store, pattern="content:*", apply=True
        )

        assert all(n > 0 for n in per_node)
        assert preview.matched == 600
        assert report.deleted == 600
        assert dbsize(target=cluster_target)["total"] == 600
        assert all(k.startswith(b"keep:") for k in remaining(cluster_target))

    def test_sessions_and_bigkeys_across_the_cluster(
        self, cluster_target: RedisTarget, store: Store
    ) -> None:
        """R1 on a cluster; bigkeys scans every node."""
        client = cluster_target.client
        for key in ("session:user:42:a", "session:user:42:b", "session:user:420:c"):
            client.set(key, b"x")
        for i in range(100):
            client.set(f"content:{i}", b"y" * i)

        listed = list_sessions(target=cluster_target, user_id="42")
        report = big_keys(target=cluster_target, top=1)
        invalidate_sessions(target=cluster_target, store=store, user_id="42")

        assert [s.key for s in listed] == ["session:user:42:a", "session:user:42:b"]
        assert report.scanned == 103
        assert report.by_bytes[0].key == "content:99"
        assert client.exists("session:user:420:c") == 1
        assert client.exists("session:user:42:a", "session:user:42:b") == 0

    def test_flushdb_empties_every_primary(
        self, cluster_target: RedisTarget, store: Store
    ) -> None:
        """FLUSHDB on a cluster reaches all primaries and reports what was there."""
        for i in range(50):
            cluster_target.client.set(f"k:{i}", b"x")

        result = flush(target=cluster_target, store=store)

        assert sum(result["keys_before"].values()) == 50
        assert dbsize(target=cluster_target)["total"] == 0
        assert actions(store)[0].kind == "redis.flushdb"
