#!/usr/bin/python3
"""docs/grafana/qq-gateway-relay.json stays true to the relay: it is a well-formed Grafana dashboard, every metric
and label its queries use is in a real relay's /metrics (gateway, webhook, replay endpoint, journal, CURVE and the
OpenAPI forwarder all on, so that every family is rendered; plus a second relay in a cluster, with a real
redis-server, for the qq_relay_cluster_* families), and every family in /metrics has a panel.
A gateway client (tests/integration/gateway_client.py) is closed with 4004 by the gateway the relay serves to SDK
bots, so that qq_relay_downstream_closes_total has a sample with its `code` label.

QQ_GRAFANA_DASHBOARD overrides the dashboard's path (to check a copy)."""
import http.client
import json
import os
import re
import shutil
import subprocess

import zmq

from client_journal import keygen
from cluster_harness import cluster_config, held
from cluster_redis import RedisServer
from gateway_client import GatewayClient
from harness import Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir
from metrics_client import get, parse
from webhook_client import WebhookClient, free_port

SOURCE = os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DASHBOARD = os.environ.get("QQ_GRAFANA_DASHBOARD",
                           os.path.join(SOURCE, "docs", "grafana", "qq-gateway-relay.json"))
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}

# Labels that Prometheus adds to every scraped series: not in /metrics, but there in every query.
TARGET_LABELS = {"instance", "job"}
# Series that Prometheus makes itself for each target (so not in /metrics) and that a panel may use.
PROMETHEUS_SERIES = {"up"}  # the "Scrape" stat: is /metrics reachable at all
# Families in /metrics that deliberately have no panel, each with the reason. Keep it short: a new metric
# normally deserves a panel.
NOT_ON_DASHBOARD = {}

# PromQL words that are not metric names.
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
                "topk", "quantile", "limitk", "limit_ratio"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
GROUPINGS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,?)')
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


# ------------------------------------------------------------------------------------------------- PromQL
def string_end(expr, i):
    """The index just past the string literal that starts at expr[i]."""
    quote, j = expr[i], i + 1
    while j < len(expr) and expr[j] != quote:
        j += 2 if expr[j] == "\\" else 1
    expect(j < len(expr), f"unterminated string in {expr!r}")
    return j + 1


def paren_pairs(expr):
    """{index of '(': index of its ')'} and the reverse, for the parentheses outside string literals."""
    pairs, stack, i = {}, [], 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = string_end(expr, i)
            continue
        if c == "(":
            stack.append(i)
        elif c == ")":
            expect(stack, f"unbalanced ')' in {expr!r}")
            opening = stack.pop()
            pairs[opening], pairs[i] = i, opening
        i += 1
    expect(not stack, f"unbalanced '(' in {expr!r}")
    return pairs


def parse_promql(expr):
    """A small PromQL reader, enough for a dashboard's queries: the metric selectors, each as (name, position,
    [(label, op, value)]), and the grouping clauses, each as (keyword, [labels], (start, end)): the span of the
    expression the clause applies to."""
    pairs = paren_pairs(expr)
    selectors, groupings = [], []
    i, n = 0, len(expr)

    def skip_spaces(k):
        while k < n and expr[k].isspace():
            k += 1
        return k

    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c in "\"'`":
            i = string_end(expr, i)
        elif c == "[":  # a range or subquery: [5m], [$__rate_interval], [1h:1m]
            close = expr.find("]", i)
            expect(close > 0, f"unterminated '[' in {expr!r}")
            i = close + 1
        elif c == "$":  # a Grafana variable outside a string
            m = re.compile(r"\$(\{[^}]*\}|[a-zA-Z_][a-zA-Z0-9_]*)").match(expr, i)
            expect(m, f"a stray '$' in {expr!r}")
            i = m.end()
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            m = re.compile(r"[0-9.]+(e[+-]?[0-9]+)?[a-zA-Z]*").match(expr, i)
            i = m.end()
        elif c == "{":
            raise AssertionError(f"a selector without a metric name in {expr!r}: name every metric")
        elif IDENT.match(expr, i):
            m = IDENT.match(expr, i)
            word, start, i = m.group(), m.start(), m.end()
            k = skip_spaces(i)
            if word in GROUPINGS:
                if k >= n or expr[k] != "(":
                    expect(word in ("group_left", "group_right"), f"'{word}' without a label list in {expr!r}")
                    continue
                close = pairs[k]
                labels = [label.strip() for label in expr[k + 1:close].split(",") if label.strip()]
                for label in labels:
                    expect(re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", label), f"bad label {label!r} in {expr!r}")
                after = skip_spaces(close + 1)
                if word in ("by", "without"):
                    if after < n and expr[after] == "(":  # sum by (l) (x)
                        scope = (after, pairs[after])
                    else:  # sum (x) by (l)
                        before = start - 1
                        while before >= 0 and expr[before].isspace():
                            before -= 1
                        expect(before >= 0 and expr[before] == ")", f"'{word}' applies to nothing in {expr!r}")
                        scope = (pairs[before], before)
                else:  # on/ignoring/group_x: both sides of a binary operation
                    scope = (0, n)
                groupings.append((word, labels, scope))
                i = close + 1
            elif (k < n and expr[k] == "(") or word in AGGREGATIONS or word.lower() in KEYWORDS:
                continue  # a function, an aggregation or an operator
            else:
                matchers = []
                if k < n and expr[k] == "{":
                    j = k + 1
                    while True:
                        j = skip_spaces(j)
                        expect(j < n, f"unterminated '{{' in {expr!r}")
                        if expr[j] == "}":
                            break
                        mm = MATCHER.match(expr, j)
                        expect(mm, f"cannot read the label matchers of {word} in {expr!r}")
                        matchers.append((mm.group(1), mm.group(2), mm.group(3)))
                        j = mm.end()
                        if mm.group(4) != ",":
                            j = skip_spaces(j)
                            expect(j < n and expr[j] == "}", f"cannot read the label matchers of {word} in {expr!r}")
                            break
                    i = j + 1
                selectors.append((word, start, matchers))
        else:
            i += 1  # an operator, a parenthesis or a comma
    return selectors, groupings


# ------------------------------------------------------------------------------------------------- the dashboard
def all_panels(dashboard):
    """Every panel, the ones inside collapsed rows too."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard):
    """(where, expr, legendFormat) for every query: panel targets and the query variables."""
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            yield f"panel {panel.get('id')} {panel.get('title')!r} target {target.get('refId')}", \
                target.get("expr", ""), target.get("legendFormat", "")
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable.get("query")
            query = query.get("query", "") if isinstance(query, dict) else query or ""
            m = re.fullmatch(r"\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*", query)
            expect(m, f"variable {variable.get('name')}: not a label_values(metric, label) query: {query!r}")
            yield f"variable {variable['name']}", m.group(1), "{{" + m.group(2) + "}}"


def check_structure(dashboard):
    expect(dashboard.get("title") == "qq-gateway-relay", f"title {dashboard.get('title')!r}")
    expect(dashboard.get("uid") == "qq-gateway-relay", f"uid {dashboard.get('uid')!r}: keep it fixed")
    expect(isinstance(dashboard.get("schemaVersion"), int) and dashboard["schemaVersion"] >= 36,
           f"schemaVersion {dashboard.get('schemaVersion')!r}")
    expect(dashboard.get("id") is None, "an exported dashboard has \"id\": null")
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    source = variables.get("DS_PROMETHEUS")
    expect(source and source.get("type") == "datasource" and source.get("query") == "prometheus",
           "no datasource variable DS_PROMETHEUS of type prometheus")
    instance = variables.get("instance")
    expect(instance and instance.get("type") == "query" and instance.get("datasource") == DATASOURCE,
           "no query variable 'instance' on ${DS_PROMETHEUS}")
    ids, boxes = set(), []
    for panel in all_panels(dashboard):
        name = f"panel {panel.get('id')} {panel.get('title')!r}"
        expect(isinstance(panel.get("id"), int) and panel["id"] not in ids, f"{name}: id missing or repeated")
        ids.add(panel["id"])
        expect(panel.get("title"), f"{name}: no title")
        pos = panel.get("gridPos")
        expect(isinstance(pos, dict) and all(isinstance(pos.get(k), int) for k in "hwxy"), f"{name}: gridPos")
        expect(pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["y"] >= 0 and pos["x"] + pos["w"] <= 24,
               f"{name}: gridPos {pos} off the 24-column grid")
        if panel.get("type") == "row":
            expect(not panel.get("targets"), f"{name}: a row with queries")
            continue
        for other_name, other in boxes:
            expect(pos["x"] + pos["w"] <= other["x"] or other["x"] + other["w"] <= pos["x"] or
                   pos["y"] + pos["h"] <= other["y"] or other["y"] + other["h"] <= pos["y"],
                   f"{name} overlaps {other_name}")
        boxes.append((name, pos))
        expect(panel.get("type"), f"{name}: no type")
        expect(panel.get("datasource") == DATASOURCE, f"{name}: datasource is not ${{DS_PROMETHEUS}}")
        targets = panel.get("targets")
        expect(isinstance(targets, list) and targets, f"{name}: no targets")
        ref_ids = [t.get("refId") for t in targets]
        expect(all(ref_ids) and len(set(ref_ids)) == len(ref_ids), f"{name}: refIds {ref_ids}")
        for target in targets:
            expect(isinstance(target.get("expr"), str) and target["expr"].strip(), f"{name}: a target without expr")
            expect(target.get("datasource", DATASOURCE) == DATASOURCE,
                   f"{name}: target {target.get('refId')} datasource is not ${{DS_PROMETHEUS}}")
    expect(len(boxes) >= 10, f"only {len(boxes)} panels")


def check_promql_syntax(dashboard, tmp):
    """promtool parses every query, with Grafana's variables replaced by what Grafana sends."""
    rules = []
    for where, expr, _ in queries(dashboard):
        concrete = (expr.replace("$__rate_interval", "1m").replace("$__interval", "1m").replace("$__range", "1h")
                    .replace("$instance", "localhost:9464"))
        rules.append({"record": f"dashboard:query_{len(rules)}", "expr": concrete})
    path = os.path.join(tmp, "dashboard-rules.yml")
    with open(path, "w") as f:
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)  # JSON is YAML
    result = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
    expect(result.returncode == 0, f"promtool: {result.stdout}{result.stderr}")


# ------------------------------------------------------------------------------------------------- the scrape
def scrape_families(text):
    """({family: type}, {family: {label: {values}}}) from a /metrics body."""
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
    labels = {name: {} for name in types}
    for (name, label_text), _ in parse(text).items():
        family = family_of(name, types)
        expect(family, f"a sample {name} without a # TYPE line")
        for label, value in LABEL_PAIR.findall(label_text):
            labels[family].setdefault(label, set()).add(value)
    return types, labels


def family_of(name, types):
    """The family a series name belongs to: itself, or a histogram's/summary's for _bucket, _sum and _count."""
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return base
    return None


def check_against_scrape(dashboard, types, labels):
    """(the families the queries use, problems): every metric, label and fixed label value the queries use must
    exist in the scrape, and every selector must be narrowed to $instance."""
    used, problems = set(), []
    for where, expr, legend in queries(dashboard):
        selectors, groupings = parse_promql(expr)
        if not selectors:
            problems.append(f"{where}: no metric in {expr!r}")
        for name, _, matchers in selectors:
            if not where.startswith("variable") and ("instance", "=", "$instance") not in matchers:
                problems.append(f'{where}: {name} is not narrowed to instance="$instance"')
            if name in PROMETHEUS_SERIES:
                continue
            if not name.startswith("qq_relay_"):
                problems.append(f"{where}: {name} is not a relay metric (qq_relay_*)")
                continue
            family = family_of(name, types)
            if family is None:
                problems.append(f"{where}: {name} is not in /metrics")
                continue
            used.add(family)
            for label, op, value in matchers:
                if label in TARGET_LABELS:
                    continue
                if label not in labels[family]:
                    problems.append(f"{where}: {name} has no label {label!r} (it has {sorted(labels[family])})")
                elif op == "=" and "$" not in value and value not in labels[family][label]:
                    problems.append(f"{where}: {name}{{{label}={value!r}}} never occurs "
                                    f"(values: {sorted(labels[family][label])})")
        for keyword, grouping_labels, (start, end) in groupings:
            inside = [name for name, pos, _ in selectors if start < pos < end and name not in PROMETHEUS_SERIES]
            for label in set(grouping_labels) - TARGET_LABELS:
                for name in inside:
                    family = family_of(name, types)
                    if family and label not in labels[family]:
                        problems.append(f"{where}: {keyword} ({label}) but {name} has no label {label!r} "
                                        f"(it has {sorted(labels[family])})")
        # {{label}} in a legend must be a label of the result.
        by_clauses = [(end - start, set(lbls)) for kw, lbls, (start, end) in groupings if kw == "by"]
        for label in set(LEGEND_LABEL.findall(legend)) - TARGET_LABELS:
            if by_clauses:
                outermost = max(by_clauses, key=lambda c: c[0])[1]
                if label not in outermost:
                    problems.append(f"{where}: legend {{{{{label}}}}} is not in the outermost by {sorted(outermost)}")
            else:
                for name, _, _ in selectors:
                    family = family_of(name, types)
                    if family and label not in labels[family]:
                        problems.append(f"{where}: legend {{{{{label}}}}} but {name} has no label {label!r}")
    return used, problems


# ------------------------------------------------------------------------------------------------- the run
class ClosingRedis(RedisServer):
    close = RedisServer.stop  # for tear_down


EVENT = '{"op":0,"id":"GROUP_AT_MESSAGE_CREATE:grafana","t":"GROUP_AT_MESSAGE_CREATE",' \
        '"d":{"content":"dashboard","group_openid":"G1","id":"ROBOT1.0_g","timestamp":"2026-11-26T21:00:00+08:00"}}'


def main():
    checks = Checks()
    tmp = workdir()
    parts = []
    try:
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        print(f"dashboard: {DASHBOARD}", flush=True)
        checks.run("the dashboard is a Grafana model: uid, title, the DS_PROMETHEUS and instance variables, "
                   "unique ids, gridPos, every panel on ${DS_PROMETHEUS} with exprs",
                   lambda: check_structure(dashboard))
        if shutil.which("promtool"):
            checks.run("promtool parses every query", lambda: check_promql_syntax(dashboard, tmp))
        else:
            print("SKIP promtool parses every query (promtool is not installed)", flush=True)

        # A relay with everything on, so that /metrics renders every family.
        sim = Sim(tmp, "--shards", "2", "--max-concurrency", "2", "--heartbeat-interval", "300")
        parts.append(sim)
        keygen(f"{tmp}/relay")
        client_public, _ = zmq.curve_keypair()
        with open(f"{tmp}/authorized_keys", "w") as f:
            f.write(client_public.decode() + " dashboard-test\n")
        metrics_port, webhook_port, api_port = free_port(), free_port(), free_port()
        api_key = "k" * 40
        with open(f"{tmp}/api-clients", "w") as f:
            f.write(f"dashboard {api_key}\n")
        config = relay_config(sim, f"ipc://{tmp}/pub.sock", f"{tmp}/state").replace("[publish]\n", f"""[publish]
replay_endpoint = "ipc://{tmp}/replay.sock"
journal = true
curve_secret_key_file = "relay.key"
curve_authorized_keys = "authorized_keys"
""") + f"""
[webhook]
enabled = true
listen = "127.0.0.1:{webhook_port}"
[api]
enabled = true
listen = "127.0.0.1:{api_port}"
clients_file = "api-clients"
[metrics]
listen = "127.0.0.1:{metrics_port}"
"""
        relay = Relay(tmp, config)
        parts.insert(0, relay)
        # The qq_relay_cluster_* families are only rendered with cluster.enabled: a relay of a one-node cluster,
        # with its own simulator (two relays on one simulator would take each other's sessions).
        redis = ClosingRedis()
        parts.append(redis)
        os.mkdir(f"{tmp}/cluster")
        cluster_sim = Sim(f"{tmp}/cluster", "--heartbeat-interval", "300")
        parts.append(cluster_sim)
        cluster_metrics_port = free_port()
        cluster_relay = Relay(tmp, cluster_config(cluster_sim, redis, "grafana", f"ipc://{tmp}/cluster.sock",
                                                  f"{tmp}/cluster/state", 1, cluster_metrics_port), name="cluster")
        parts.insert(0, cluster_relay)
        scrape = {}

        def relay_renders_everything():
            wait_for(lambda: get(metrics_port, "/healthz")[0] == 200, 20, "/healthz 200 (both shards ready)")
            status, answer = WebhookClient(webhook_port).post(EVENT.encode())
            expect(status == 200, f"webhook answered {status} {answer}")
            sim.post("/_sim/send", {"shard": 0, "t": "GROUP_AT_MESSAGE_CREATE", "d": {}})
            api = http.client.HTTPConnection("127.0.0.1", api_port, timeout=10)
            api.request("GET", "/users/@me", headers={"Authorization": "Bearer " + api_key})
            expect(api.getresponse().status == 200, "the API request")
            api.close()
            # The gateway served to SDK bots: an Identify with a token that is no client's is closed with 4004.
            bot = GatewayClient(f"ws://127.0.0.1:{api_port}/websocket")
            try:
                expect(bot.recv()["op"] == 10, "no Hello")
                bot.send({"op": 2, "d": {"token": "QQBot not-a-relay-token", "intents": 1 << 25, "shard": [0, 1]}})
                _, code = bot.until_closed()
                expect(code == 4004, f"the Identify with a wrong token was closed with {code}, not 4004")
            finally:
                bot.close()
            sim.post("/_sim/fault", {"shard": 1, "kind": "close", "code": 4009})

            def complete():
                status, _, body = get(metrics_port, "/metrics")
                expect(status == 200, f"/metrics answered {status}")
                samples = parse(body)
                wanted = [("qq_relay_events_total", 'source="webhook",type="GROUP_AT_MESSAGE_CREATE"'),
                          ("qq_relay_events_total", 'source="gateway",type="GROUP_AT_MESSAGE_CREATE"'),
                          ("qq_relay_close_codes_total", 'code="4009"'),
                          ("qq_relay_downstream_closes_total", 'code="4004"'),
                          ("qq_relay_heartbeat_rtt_seconds", 'shard="0"'),
                          ("qq_relay_heartbeat_rtt_seconds", 'shard="1"')]
                return all(key in samples for key in wanted) and body
            body = wait_for(complete, 10, "the webhook event, close codes 4009 (gateway) and 4004 (served gateway) "
                                          "and both heartbeat RTTs in /metrics")
            wait_for(lambda: held(cluster_metrics_port) == 1, 20, "the cluster relay holding its shard's lease")
            status, _, cluster_body = get(cluster_metrics_port, "/metrics")
            expect(status == 200, f"the cluster relay's /metrics answered {status}")
            cluster_body = "\n".join(line for line in cluster_body.splitlines()
                                     if "qq_relay_cluster_" in line)  # the rest is in the first scrape
            expect(cluster_body, "no qq_relay_cluster_* family in the cluster relay's /metrics")
            body += cluster_body + "\n"
            scrape["types"], scrape["labels"] = scrape_families(body)
            # Every labelled family has samples to check labels against.
            empty = [name for name, kind in scrape["types"].items() if not any(
                family_of(s, scrape["types"]) == name for s, _ in parse(body))]
            expect(not empty, f"families without samples: {empty}")
            print(f"  /metrics: {len(scrape['types'])} families", flush=True)
        checks.run("a relay with gateway, webhook, replay, journal, CURVE, the OpenAPI forwarder and a served-gateway "
                   "client closed with 4004, and a relay in a cluster, render every family with samples",
                   relay_renders_everything)

        def dashboard_matches_scrape():
            expect(scrape, "no scrape")
            used, problems = check_against_scrape(dashboard, scrape["types"], scrape["labels"])
            scrape["used"] = used
            print(f"  the dashboard uses {len(used)} families", flush=True)
            expect(not problems, "\n  " + "\n  ".join(problems))
        checks.run("every metric, label and label value in the dashboard's queries is in /metrics; every selector "
                   "is narrowed to $instance", dashboard_matches_scrape)

        def every_family_has_a_panel():
            expect("used" in scrape, "the dashboard's queries could not be read")
            unused = sorted(set(scrape["types"]) - scrape["used"] - set(NOT_ON_DASHBOARD))
            expect(not unused, f"families in /metrics without a panel (add one to {DASHBOARD}, or list the family "
                               f"in NOT_ON_DASHBOARD with the reason): {unused}")
            stale = sorted(set(NOT_ON_DASHBOARD) - set(scrape["types"]))
            expect(not stale, f"NOT_ON_DASHBOARD lists families the relay no longer has: {stale}")
        checks.run("every metric family in /metrics has a panel", every_family_has_a_panel)
        checks.run("SIGTERM exits 0", lambda: expect(relay.stop() == 0 and cluster_relay.stop() == 0, "exit code"))
    finally:
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
