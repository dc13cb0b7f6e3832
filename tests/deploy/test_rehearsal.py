"""The Swarm topology rehearsed on loopback (scripts/rehearse_swarm.py): real HAProxy with
the stacks' haproxy.cfg in front of 3 gunicorn replicas of the portal, real MySQL and Redis.

The four points of issue 4: spread, sessions across replicas, a replica killed under load,
a rolling restart under load. Load: wrk, 64 connections, 30 s (failover) and 60 s (rolling),
127.0.0.1 only.
"""

from __future__ import annotations

import difflib

from deploy_support import REPO, rehearse


def test_rendering_changes_only_binds_and_servers():
    original = (REPO / "docker" / "haproxy" / "haproxy.cfg").read_text(encoding="utf-8")
    servers = [("portal1", "127.0.0.2:9000"), ("portal2", "127.0.0.3:9000")]
    rendered = rehearse.render_haproxy(original, "127.0.0.1:9080", "127.0.0.1:9404", servers)
    removed = [l[1:].strip() for l in difflib.ndiff(original.splitlines(), rendered.splitlines()) if l.startswith("- ")]
    added = [l[1:].strip() for l in difflib.ndiff(original.splitlines(), rendered.splitlines()) if l.startswith("+ ")]
    assert sorted(removed) == sorted(["bind :80", "bind :8404",
                                      "server-template portal 10 portal:8000 check resolvers docker init-addr none"])
    assert sorted(added) == sorted(["bind 127.0.0.1:9080", "bind 127.0.0.1:9404",
                                    "server portal1 127.0.0.2:9000 check", "server portal2 127.0.0.3:9000 check"])


def test_replicas_run_with_the_swarm_environment(rehearsal, swarm):
    stack_env = rehearse.as_env_dict(swarm["services"]["portal"]["environment"])
    assert set(rehearsal.portal_env) == set(stack_env)
    # Secrets are files, and the database password is not in any URL the stack passes.
    assert rehearsal.portal_env["CAOSKOL_SECRET_KEY_FILE"].startswith(str(rehearsal.workdir))
    assert ":" not in rehearsal.portal_env["CAOSKOL_COLEGIO_URL"].split("//", 1)[1].split("@", 1)[0]
    assert rehearsal.portal_env["CAOSKOL_ENV"] == "production"


def test_requests_spread_across_all_replicas(rehearsal):
    res = rehearsal.spread(requests=30)
    assert res["statuses"] == [200]
    assert set(res["per_replica"]) == {r.name for r in rehearsal.replicas}
    # Round robin: 30 requests over 3 healthy replicas, 10 each (one off at most).
    assert max(res["per_replica"].values()) - min(res["per_replica"].values()) <= 1, res


def test_stats_page_needs_the_secret_password(rehearsal):
    url = f"http://127.0.0.1:{rehearsal.stats_port}/stats"
    assert rehearse.http("GET", url).status == 401
    assert rehearse.http("GET", url, headers={"Authorization": rehearsal.stats_auth("admin")}).status == 401
    assert rehearse.http("GET", url, headers={"Authorization": rehearsal.stats_auth()}).status == 200


def test_a_session_keeps_working_on_every_replica(rehearsal):
    res = rehearsal.session()
    pages = res["pages"]
    assert all(p["status"] == 200 for p in pages), pages
    # Logged in on one replica, the same cookie opened the page on every replica.
    assert {p["replica"] for p in pages} == {r.name for r in rehearsal.replicas}
    assert res["login_replicas"][1] is not None
    # Logout (with the session's CSRF token) on one replica ends the session on all of them,
    # within the session-check TTL the stack file sets (a bounded, documented window).
    assert res["logout"]["status"] == 302
    assert 0 < res["session_check_ttl"] <= 2
    assert all(a["status"] == 302 and "/profesor" not in a["location"] for a in res["after_logout"]), res["after_logout"]
    # Failed logins are counted in Redis across replicas: the 6th and 7th are refused (429)
    # although round robin sent them to different processes.
    statuses = [a["status"] for a in res["failed_logins"]]
    assert statuses == [401] * 5 + [429] * 2, res["failed_logins"]
    assert len({a["replica"] for a in res["failed_logins"]}) == len(rehearsal.replicas)


def test_health_checks_take_a_dead_replica_out_within_their_interval(rehearsal):
    res = rehearsal.detect_idle()
    # No traffic: only the active checks can see it. inter + (fall - 1) * fastinter, plus
    # this test's polling of the stats page.
    assert res["detect_s"] <= res["detect_bound_s"] + 0.5, res
    assert rehearsal._states_are({r.name: "UP" for r in rehearsal.replicas})


def test_a_replica_killed_under_load(rehearsal):
    res = rehearsal.failover(duration=30, connections=64)
    assert res["requests"] > 1000, res
    # Failed requests under 0.1% of the total (HAProxy retries what the dead replica refused).
    assert res["error_rate"] < 0.001, {k: res[k] for k in ("requests", "errors", "socket_errors", "non_2xx_3xx")}
    # Marked DOWN within its health checks: inter + (fall - 1) * fastinter, plus the time
    # this test takes to poll the stats page under load.
    assert res["detect_s"] <= res["detect_bound_s"] + 0.5, res
    # Restarted, it is UP again and receives its share.
    assert set(res["spread_after_rejoin"]) == {r.name for r in rehearsal.replicas}


def test_a_rolling_restart_loses_no_request(rehearsal):
    res = rehearsal.rolling(duration=60, connections=64)
    assert res["rolled_within_load"], res["steps"]
    assert len(res["steps"]) == len(rehearsal.replicas)
    assert res["errors"] == 0, {k: res[k] for k in ("requests", "socket_errors", "non_2xx_3xx")}
    assert res["requests"] > 1000
    after = rehearsal.spread(requests=3 * len(rehearsal.replicas), record=False)
    assert set(after["per_replica"]) == set(res["replicas_after"])
