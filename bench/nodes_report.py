#!/usr/bin/env python3
"""Summarise bench/nodes: confab-bench JSON lines (one per run) labelled by configuration
("1 node, postgres", "2 nodes, postgres+redis", ..., "sqlite", "postgres").

For the big room and the many rooms it prints, per configuration (medians of the runs): the highest rate
held, every rate held up to, the first rate not held, each node's deliveries/s at the held step, and, at
one reference rate every configuration delivered cleanly, the server CPU per delivery summed over the nodes and the
latency. The hop between nodes is the difference between a cluster and the single node at that rate.
For durable writes: acknowledged sends/s and ack latency on SQLite and on PostgreSQL.

Usage: nodes_report.py RAW.jsonl OUT.json [--mode M] [--repeats N] [--strict 0|1]
"""
import argparse
import datetime
import json
import statistics


def med(vals):
    vals = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(vals) if vals else None


def fmt(v, digits=1):
    if v is None:
        return "-"
    if abs(v) >= 999500:
        return f"{v / 1e6:.2f}M"
    if abs(v) >= 1000:
        return f"{v / 1e3:.{digits}f}k"
    return f"{v:.{digits}f}"


def step_at(r, rate):
    """The last clean try at `rate` (every delivery exactly once, in order; latency aside)."""
    found = None
    for s in r.get("steps") or []:
        if s.get("offered_dps") == rate and s.get("clean"):
            found = s
    return found


def cpu_us_per_delivery(s):
    """Server CPU (all nodes) per delivery in a step, microseconds."""
    nodes = s.get("nodes") or {}
    cpu = nodes.get("cluster_server_cpu_s") if nodes else s.get("server_cpu_s")
    return cpu / s["unique"] * 1e6 if cpu and s.get("unique") else None


def traffic(rows, scen):
    by = {}
    for r in rows:
        if r.get("scenario") == scen:
            by.setdefault(r.get("label"), []).append(r)
    if not by:
        return None
    # the reference rate: the highest offered rate delivered cleanly (every delivery once, in order) in every
    # run of every configuration; the latency bound is left out, so a busy machine still gives one
    common = None
    for runs in by.values():
        for r in runs:
            clean = {s["offered_dps"] for s in r.get("steps") or [] if s.get("clean")}
            common = clean if common is None else common & clean
    ref = max(common) if common else None
    out = {"reference_rate": ref, "configs": []}
    for label, runs in by.items():
        c = {"label": label, "runs": len(runs), "ok_runs": sum(1 for r in runs if not r.get("error")),
             "held_dps": med([r.get("held_dps") for r in runs]),
             "held_dps_runs": [r.get("held_dps") for r in runs],
             "every_rate_held_up_to": med([r.get("held_below_first_unheld_dps") for r in runs]),
             "first_unheld": med([r.get("first_unheld_offered_dps") for r in runs])}
        per_node = [((r.get("held") or {}).get("nodes") or {}).get("per_node") or [] for r in runs]
        width = max((len(p) for p in per_node), default=0)
        c["per_node_dps_at_held"] = [med([p[i]["achieved_dps"] for p in per_node if len(p) > i]) for i in range(width)]
        if ref is not None:
            at = [step_at(r, ref) for r in runs]
            at = [s for s in at if s]
            pn = [((s.get("nodes") or {}).get("per_node") or []) for s in at]
            w = max((len(p) for p in pn), default=0)
            c["at_reference"] = {"cpu_us_per_delivery": med([cpu_us_per_delivery(s) for s in at]),
                                 "per_node_dps": [med([p[i]["achieved_dps"] for p in pn if len(p) > i]) for i in range(w)],
                                 "per_node_cpu_util": [med([p[i]["server_cpu_s"] / s["secs"] for p, s in zip(pn, at)
                                                            if len(p) > i and p[i].get("server_cpu_s") is not None])
                                                       for i in range(w)],
                                 "p50_ms": med([s["latency"]["p50_ms"] for s in at]),
                                 "p99_ms": med([s["latency"]["p99_ms"] for s in at])}
        out["configs"].append(c)
    base = next((c for c in out["configs"] if c["label"].startswith("1 node")), None)
    for c in out["configs"]:
        if base is None or c is base or "at_reference" not in c:
            continue
        b, x = base["at_reference"], c["at_reference"]
        if b["cpu_us_per_delivery"] is not None and x["cpu_us_per_delivery"] is not None:
            c["hop_cpu_us_per_delivery"] = x["cpu_us_per_delivery"] - b["cpu_us_per_delivery"]
        if b["p50_ms"] is not None and x["p50_ms"] is not None:
            c["hop_p50_ms"] = x["p50_ms"] - b["p50_ms"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("out")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--strict", default="0")
    a = ap.parse_args()
    txt = open(a.raw).read()
    try:
        rows = json.loads(txt)["runs"]  # a results file: re-render it
    except (ValueError, KeyError, TypeError):
        rows = [json.loads(l) for l in txt.splitlines() if l.strip()]
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "mode": a.mode, "repeats": a.repeats, "runs": rows}
    for scen, name in (("fanout", "one big room"), ("rooms", "many small rooms")):
        t = traffic(rows, scen)
        if not t:
            continue
        result[scen] = t
        ref = t["reference_rate"]
        p = next((r.get("params") or {} for r in rows if r.get("scenario") == scen), {})
        print(f"{name} ({p.get('conns')} connections in rooms of {p.get('room_size')}, {p.get('senders_per_room')} "
              f"sender(s) per room); reference rate (delivered cleanly by every configuration in every run): "
              f"{fmt(ref, 0)} deliveries/s")
        print(f"  {'configuration':28} {'held/s':>9} {'all held to':>11} {'1st unheld':>10}  {'per node at reference':28}"
              f" {'CPU us/deliv':>12} {'p50 ms':>7} {'p99 ms':>7} {'hop us':>7} {'hop p50':>7}")
        for c in t["configs"]:
            x = c.get("at_reference") or {}
            nodes = " ".join(fmt(v) for v in (x.get("per_node_dps") or c["per_node_dps_at_held"])) or "-"
            print(f"  {c['label']:28} {fmt(c['held_dps']):>9} {fmt(c['every_rate_held_up_to']):>11} {fmt(c['first_unheld']):>10}  {nodes:28}"
                  f" {fmt(x.get('cpu_us_per_delivery'), 2):>12} {fmt(x.get('p50_ms'), 2):>7} {fmt(x.get('p99_ms'), 2):>7}"
                  f" {fmt(c.get('hop_cpu_us_per_delivery'), 2):>7} {fmt(c.get('hop_p50_ms'), 2):>7}")
        print("  held runs: " + "; ".join(f"{c['label']}: {' '.join(fmt(v) for v in c['held_dps_runs'])}" for c in t["configs"]))
    dur = {}
    for r in rows:
        if r.get("scenario") == "durable":
            dur.setdefault(r.get("label"), []).append(r)
    if dur:
        result["durable"] = {}
        print("durable acknowledged sends (one node; 100 senders x 32 in flight; every ack after the commit)")
        for label, runs in dur.items():
            d = {"acked_per_s": med([r.get("acked_per_s") for r in runs]), "runs": [r.get("acked_per_s") for r in runs],
                 "ack_p50_ms": med([(r.get("ack_latency") or {}).get("p50_ms") for r in runs]),
                 "ack_p99_ms": med([(r.get("ack_latency") or {}).get("p99_ms") for r in runs]),
                 "ok_runs": sum(1 for r in runs if r.get("ok"))}
            result["durable"][label] = d
            print(f"  {label:10} {fmt(d['acked_per_s']):>8}/s (runs {' '.join(fmt(v) for v in d['runs'])}), ack p50 "
                  f"{fmt(d['ack_p50_ms'], 2)} ms p99 {fmt(d['ack_p99_ms'], 2)} ms, clean in {d['ok_runs']}/{len(runs)}")
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    steps = [st for r in rows for st in r.get("steps") or []]
    if steps:
        print(f"steps delivered cleanly (every delivery once, in order, across nodes): "
              f"{sum(1 for st in steps if st.get('clean'))}/{len(steps)}")
    if a.strict == "1":
        bad = [r for r in rows if not r.get("ok")]
        if not rows or bad:
            print("nodes smoke: FAILED", [(r.get("label"), r.get("first_error") or r.get("error")) for r in bad] or "no results")
            return 1
        print(f"nodes smoke: ok ({len(rows)} runs, nothing lost, duplicated or reordered across nodes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
