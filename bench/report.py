#!/usr/bin/env python3
"""Aggregate confab-bench JSON lines (one per run) into medians per scenario and target,
print one table with ratios to each peer, and write the result file.

Usage: report.py RAW.jsonl OUT.json [--mode full|quick|smoke] [--repeats N] [--pinned 0|1]
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess

TARGETS = ["confab-native", "confab-sio", "node", "flask"]
CONFAB = ["confab-native", "confab-sio"]
PEERS = ["node", "flask"]


def g(d, *path):
    for p in path:
        if d is None:
            return None
        if isinstance(p, int):
            d = d[p] if isinstance(d, list) and len(d) > p else None
        else:
            d = d.get(p) if isinstance(d, dict) else None
    return d


def med(vals):
    vals = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(vals) if vals else None


def any_true(vals):
    return any(v is True for v in vals)


def step_after_held(r):
    """The first step above the held one (what broke), if any."""
    steps = r.get("steps") or []
    held = r.get("held_offered_dps") or 0
    above = [s for s in steps if s.get("offered_dps", 0) > held]
    return above[0] if above else None


def first_unheld(r):
    """Offered rate of the lowest rate not held (runs before the retry rule: the first step not held)."""
    if "first_unheld_offered_dps" in r:
        return r["first_unheld_offered_dps"]
    bad = [s.get("offered_dps") for s in r.get("steps") or [] if not s.get("held")]
    return min(bad) if bad else None


def held_below_first_unheld(r):
    """Deliveries/s of the highest rate held below the first one not held: every rate up to it held."""
    if "held_below_first_unheld_dps" in r:
        return r["held_below_first_unheld_dps"]
    limit = first_unheld(r)
    ok = [s for s in r.get("steps") or [] if s.get("held") and (limit is None or s.get("offered_dps", 0) < limit)]
    return max(ok, key=lambda s: s.get("offered_dps", 0)).get("achieved_dps") if ok else 0


# metric name -> (scenario, extractor, unit, higher_is_better)
METRICS = [
    ("fan-out held deliveries/s (p99<50ms, none lost)", "fanout", lambda r: r.get("held_dps"), "/s", True),
    ("fan-out every rate held up to, deliveries/s", "fanout", held_below_first_unheld, "/s", True),
    ("fan-out first rate not held, offered/s", "fanout", first_unheld, "/s", True),
    ("fan-out deliveries per server CPU-s (held step)", "fanout", lambda r: g(r, "held", "deliveries_per_server_cpu_s"), "/cpu-s", True),
    ("fan-out best deliveries per server CPU-s (any clean step)", "fanout",
     lambda r: max([s.get("deliveries_per_server_cpu_s") or 0 for s in r.get("steps", []) if s.get("clean")] or [None]) or None,
     "/cpu-s", True),
    ("fan-out p99 at held step, ms", "fanout", lambda r: g(r, "held", "latency", "p99_ms"), "ms", False),
    ("latency @50k/s p50, ms", "latency", lambda r: g(r, "steps", 0, "latency", "p50_ms"), "ms", False),
    ("latency @50k/s p99, ms", "latency", lambda r: g(r, "steps", 0, "latency", "p99_ms"), "ms", False),
    ("latency @50k/s p99.9, ms", "latency", lambda r: g(r, "steps", 0, "latency", "p999_ms"), "ms", False),
    ("many rooms held deliveries/s", "rooms", lambda r: r.get("held_dps"), "/s", True),
    ("many rooms every rate held up to, deliveries/s", "rooms", held_below_first_unheld, "/s", True),
    ("many rooms deliveries per server CPU-s", "rooms", lambda r: g(r, "held", "deliveries_per_server_cpu_s"), "/cpu-s", True),
    ("idle connections held", "idle", lambda r: r.get("connected"), "", True),
    ("idle KiB per connection", "idle", lambda r: r.get("kib_per_conn"), "KiB", False),
    ("storm connections/s", "storm", lambda r: r.get("conns_per_s"), "/s", True),
    ("storm handshake->first event p99, ms", "storm", lambda r: g(r, "first_event_latency", "p99_ms"), "ms", False),
    ("durable acked sends/s", "durable", lambda r: r.get("acked_per_s"), "/s", True),
    ("durable ack p99, ms", "durable", lambda r: g(r, "ack_latency", "p99_ms"), "ms", False),
    ("slow reader: others' p99, ms", "slow", lambda r: g(r, "steps", 0, "latency", "p99_ms"), "ms", False),
    ("slow reader: server memory peak growth, KiB", "slow", lambda r: g(r, "memory_kib", "peak_minus_baseline"), "KiB", False),
    ("churn: server memory end - baseline, KiB", "churn", lambda r: g(r, "memory_kib", "end_minus_baseline"), "KiB", False),
    ("churn: members' p99, ms", "churn", lambda r: g(r, "steps", 0, "latency", "p99_ms"), "ms", False),
]


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 100000:
        return f"{v/1e6:.2f}M" if abs(v) >= 999500 else f"{v/1e3:.0f}k"
    if abs(v) >= 1000:
        return f"{v/1e3:.1f}k"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def ratio(a, b, higher):
    if a is None or b is None:
        return None
    if higher:
        return a / b if b > 0 else (float("inf") if a > 0 else None)
    return b / a if a > 0 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("out")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--pinned", default="1")
    ap.add_argument("--loadavg", default=None, help="the machine's load averages when the run started (/proc/loadavg)")
    a = ap.parse_args()
    with open(a.raw) as f:
        txt = f.read()
    try:
        prev = json.loads(txt)  # a results file: re-render it
        rows = prev["runs"]
        a.repeats = prev.get("repeats", a.repeats)
        a.mode = prev.get("mode", a.mode)
        machine = prev.get("machine") or {}
    except (ValueError, KeyError, TypeError):
        rows = [json.loads(l) for l in txt.splitlines() if l.strip()]
        machine = {"cpus": os.cpu_count(), "kernel": platform.release(), "loadavg_at_start": a.loadavg,
                   "loadavg_at_end": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    by = {}
    for r in rows:
        by.setdefault((r.get("scenario"), r.get("label")), []).append(r)

    table = []
    for name, scen, fn, unit, higher in METRICS:
        line = {"metric": name, "scenario": scen, "unit": unit, "higher_is_better": higher, "values": {}, "runs": {},
                "generator_bound": {}, "clean": {}}
        for t in TARGETS:
            runs = by.get((scen, t), [])
            if not runs:
                continue
            line["values"][t] = med([fn(r) for r in runs])
            line["runs"][t] = [fn(r) for r in runs]
            gb = []
            for r in runs:
                if scen in ("fanout", "rooms"):
                    h, nx = r.get("held"), step_after_held(r)
                    gb.append(bool((h or {}).get("generator_bound")) or bool((nx or {}).get("generator_bound")))
                elif scen in ("latency", "slow", "churn"):
                    gb.append(bool(g(r, "steps", 0, "generator_bound")))
                else:
                    gb.append(bool(r.get("generator_bound")))
            line["generator_bound"][t] = any_true(gb)
            if scen in ("fanout", "rooms"):
                # a step above the held one may legitimately lose or drop (overload, slow-consumer cuts):
                # the held figure is clean by definition; flag only runs whose setup failed
                line["clean"][t] = all(not r.get("error") for r in runs)
            else:
                line["clean"][t] = all(r.get("ok") for r in runs)
        if not line["values"]:
            continue
        line["ratios"] = {}
        for c in CONFAB:
            for p in PEERS:
                line["ratios"][f"{c}/{p}"] = ratio(line["values"].get(c), line["values"].get(p), higher)
        table.append(line)

    # slow-reader details (native protocol contract)
    slow = []
    for t in TARGETS:
        for r in by.get(("slow", t), []):
            sr = r.get("slow_reader") or {}
            slow.append({"target": t, "closed": sr.get("closed"), "close_code": sr.get("close_code"),
                         "close_reason": sr.get("close_reason"), "resume": sr.get("resume"),
                         "messages_total": sr.get("messages_total"), "sent": sr.get("sent_msgs"),
                         "lossless": sr.get("lossless"),
                         "memory_peak_growth_kib": g(r, "memory_kib", "peak_minus_baseline"),
                         "others_clean": g(r, "steps", 0, "clean")})

    present = [t for t in TARGETS if any(t in l["values"] for l in table)]
    hdr = ["metric"] + present + [k for k in (table[0]["ratios"] if table else {})
                                  if k.split("/")[0] in present and k.split("/")[1] in present]
    out_lines = []
    widths = [max(52, max((len(l["metric"]) for l in table), default=0))] + [14] * (len(hdr) - 1)
    out_lines.append("  ".join(h.ljust(w) for h, w in zip(hdr, widths)))
    for l in table:
        cells = [l["metric"]]
        for t in present:
            v = l["values"].get(t)
            mark = ""
            if t in l["values"]:
                if l["generator_bound"].get(t):
                    mark += "^"
                if not l["clean"].get(t, True):
                    mark += "!"
                if len(l["runs"].get(t, [])) != a.repeats:
                    mark += f" (n={len(l['runs'][t])})"
            cells.append(fmt(v) + mark)
        for k in hdr[1 + len(present):]:
            rv = l["ratios"].get(k)
            cells.append("-" if rv is None else ("inf" if rv == float("inf") else f"{rv:.2f}x"))
        out_lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)))
    counts = sorted({len(v) for l in table for v in l["runs"].values()})
    legend = ("medians of each target's runs (%s run(s) per cell, %d asked); ratios are Confab/peer for higher-is-better rows and peer/Confab for "
              "lower-is-better rows (so >1x means Confab is better); ^ = generator core was >=90%% busy in the "
              "deciding step (the figure measures the generator, not the server); ! = some run lost, duplicated, "
              "reordered or dropped something, or failed (fan-out/rooms: only a failed setup); (n=K) = K runs" % ("/".join(map(str, counts)) or "0", a.repeats))
    text = "\n".join(out_lines)
    print(text)
    print(legend)
    print(f"machine load average (1, 5, 15 min) at the start: {machine.get('loadavg_at_start') or '-'}; "
          f"at the end: {machine.get('loadavg_at_end') or '-'} ({machine.get('cpus')} cores)")
    for t in TARGETS:
        ss = [s for s in slow if s["target"] == t]
        if not ss:
            continue
        how = sorted({f"code={s['close_code']} reason={s['close_reason']!r}" if s["closed"] else "not disconnected" for s in ss})
        resumed = [s for s in ss if s["resume"]]
        print(f"slow reader on {t} ({len(ss)} runs): {'; '.join(how)}; others clean in "
              f"{sum(1 for s in ss if s['others_clean'])}/{len(ss)}; server memory peak growth "
              f"{fmt(med([s['memory_peak_growth_kib'] for s in ss]))} KiB (median)"
              + (f"; resumed with since+history without loss or gap in {sum(1 for s in resumed if s['lossless'])}/{len(resumed)}"
                 if resumed else ""))

    # the spread behind the headline rows: every run's value, and how many runs came within 5 % of the best
    spread = []
    for l in table:
        if not any(k in l["metric"] for k in ("held deliveries/s", "every rate held", "acked sends/s")):
            continue
        for t, vals in l["runs"].items():
            nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if not nums:
                continue
            best = max(nums)
            near = sum(1 for v in nums if v >= 0.95 * best)
            spread.append({"metric": l["metric"], "target": t, "runs": vals, "median": l["values"].get(t),
                           "best": best, "runs_within_5pct_of_best": near, "n": len(vals)})
            print(f"{l['metric']}, {t}: runs {' '.join(fmt(v) for v in vals)}; median {fmt(l['values'].get(t))}; "
                  + (f"best {fmt(best)} reached (within 5 %) in {near}/{len(vals)}" if best > 0 else "nothing held in any run"))

    def git_rev():
        try:
            return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                  cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip() or None
        except Exception:
            return None

    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mode": a.mode, "repeats": a.repeats, "pinned": a.pinned == "1",
        "machine": machine,
        "git": git_rev(),
        "table": table, "table_text": text, "legend": legend, "spread": spread, "slow_reader": slow, "runs": rows,
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
