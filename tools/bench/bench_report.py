#!/usr/bin/env python3
"""bench.sh's arithmetic: the once-a-second samples of every run to figures, and the figures of
all runs to the markdown table (medians of the interleaved rounds, min-max spread). It measures
nothing itself.

  bench_report.py analyze MANIFEST.jsonl META.json > RESULTS.jsonl
  bench_report.py table RESULTS.jsonl META.json > report.md
  bench_report.py profile DIR IDLE LOADED [--inclusive] [--top N]
      where a callgrind section's instructions per echo go: per function, the loaded run
      (DIR/LOADED.callgrind, e.g. cg-epoll-reliable-10) minus the idle one (cg-epoll-reliable-0),
      over the same echo count as the table; self cost, or with --inclusive what each function
      and its callees cost.

MANIFEST: one line per run, written by bench.sh (labels, schedule, file names in META's "dir").
SAMPLES (DIR/NAME.samples): one line per second, "<server CPU> <load CPU> <server RSS KiB>
<progress line of volley-bots or volley-bench-udp-echo blast>" (CPU in META's cpu_units_per_s:
ns, or clock ticks in runs older than that key), read from /proc the moment
the load wrote the line, so all of it covers the same second.
"""
import json
import re
import statistics
import sys

LINE = re.compile(r"^(?P<cpu>[0-9.]+) (?P<lcpu>[0-9.]+) (?P<rss>\d+) t=(?P<t>[0-9.]+)s connected (?P<conn>\d+)/(?P<bots>\d+) "
                  r"in (?P<inp>[0-9.]+[kM]?) pps out (?P<out>[0-9.]+[kM]?) pps "
                  r"rtt p50 (?P<p50>[0-9.]+) p99 (?P<p99>[0-9.]+) ms errors (?P<err>\d+)")

# A step sustains its offered rate when the echoes come back at >= this share of it...
KEEP_UP = 0.95
# ...and the median echo stays under this: a standing queue (the server or the kernel falling
# behind) shows here. Not p99: on a shared 2-core machine the slowest 1% is scheduling noise.
P50_LIMIT_MS = 50.0
# A core this busy (share of one core) counts as full when naming what limited a ramp.
SATURATED = 0.9


def rate(text):
    scale = {"k": 1e3, "M": 1e6}.get(text[-1], 1)
    return float(text.rstrip("kM")) * scale


def parse_samples(lines, per_s=100):
    out = []
    for line in lines:
        m = LINE.match(line.strip())
        if not m:
            continue
        out.append({"cpu": float(m["cpu"]) / per_s, "load_cpu": float(m["lcpu"]) / per_s, "rss": int(m["rss"]), "t": float(m["t"]), "connected": int(m["conn"]),
                    "bots": int(m["bots"]), "in": rate(m["inp"]), "out": rate(m["out"]),
                    "p50": float(m["p50"]), "p99": float(m["p99"]), "errors": int(m["err"])})
    return out


def window(samples, t_from, t_to):
    """The samples of the seconds ending in (t_from, t_to], and the server CPU, load CPU and wall
    seconds they cover (each measured from the sample before the first)."""
    idx = [i for i, s in enumerate(samples) if t_from < s["t"] <= t_to + 1e-9 and i > 0]
    if not idx:
        return [], 0.0, 0.0, 0.0
    first, last = idx[0], idx[-1]
    cpu = samples[last]["cpu"] - samples[first - 1]["cpu"]
    load = samples[last]["load_cpu"] - samples[first - 1]["load_cpu"]
    wall = samples[last]["t"] - samples[first - 1]["t"]
    return [samples[i] for i in idx], cpu, load, wall


def step_fails(target, got, offered_here, p50):
    """None when a ramp step sustained `target`; else why not."""
    if offered_here < KEEP_UP * target:
        return "offer"
    if got < KEEP_UP * offered_here or p50 > P50_LIMIT_MS:
        return "echo"
    return None


def analyze_echo(samples, peers, offered, hold_from, double_at, every, steps):
    """Figures of one run: the equal-load window (hold_from, double_at], then `steps` doublings
    of `every` seconds each; the first second of every step is settling and not judged."""
    r = {"peers": peers, "offered": offered}
    held, cpu, load, wall = window(samples, hold_from, double_at)
    echoed = sum(s["in"] for s in held)
    sent = sum(s["out"] for s in held)
    r["cpu_us_per_echo"] = round(cpu * 1e6 / echoed, 3) if echoed > 0 else None
    r["cpu_percent"] = round(100 * cpu / wall, 1) if wall > 0 else None
    r["load_cpu_percent"] = round(100 * load / wall, 1) if wall > 0 else None
    r["echo_per_s"] = round(echoed / len(held)) if held else None
    r["offered_per_s"] = round(sent / len(held)) if held else None
    r["rtt_p50_ms"] = statistics.median(s["p50"] for s in held) if held else None
    r["rtt_p99_ms"] = statistics.median(s["p99"] for s in held) if held else None
    r["connected"] = min((s["connected"] for s in held), default=0)
    r["rss_peak_kib"] = max((s["rss"] for s in samples), default=0)
    # The ramp: step 0 is the equal-load hold itself. At the first step that fails, the side
    # whose core was (nearly) full is named: a full load core means the server was not the limit.
    best, best_cpu, limit = None, None, None
    for k in range(steps + 1):
        target = offered * (2 ** k)
        if k == 0:
            seg, seg_cpu, seg_load, seg_wall = held, cpu, load, wall
        else:
            lo = double_at + (k - 1) * every
            seg, seg_cpu, seg_load, seg_wall = window(samples, lo + 1, lo + every)
        if not seg:
            limit = "run ended" if k == 0 else "load stopped"
            break
        got = statistics.median(s["in"] for s in seg)
        offered_here = statistics.median(s["out"] for s in seg)
        why = step_fails(target, got, offered_here, statistics.median(s["p50"] for s in seg))
        if why:
            server_full = seg_wall > 0 and seg_cpu / seg_wall >= SATURATED
            load_full = seg_wall > 0 and seg_load / seg_wall >= SATURATED
            limit = ("load generator" if why == "offer" or (load_full and not server_full)
                     else "server" if server_full else "loss/queueing, neither core full")
            break
        best = got
        best_cpu = round(100 * seg_cpu / seg_wall, 1) if seg_wall > 0 else None
    r["max_echo_per_s"] = round(best) if best is not None else None
    r["max_cpu_percent"] = best_cpu
    r["limit"] = limit or "ramp top"
    return r


def analyze_coalesce(samples, m, stats):
    """A coalesce run: the echo figures of its held window (no ramp), the cap it ran with and
    what its loop did over the whole run (naps, waits, datagrams per receive batch)."""
    r = analyze_echo(samples, m["peers"], m["offered"], m["hold_from"], m["double_at"], 1, 0)
    cap = stats.get("coalesce_us")
    r["cap_us"] = cap if cap is not None else (None if m.get("cap") == "default" else int(m["cap"]))
    r["naps"], r["waits"] = stats.get("loop_naps"), stats.get("loop_waits")
    batches = stats.get("loop_recv_batches")
    r["per_batch"] = round(stats.get("loop_datagrams_in", 0) / batches, 1) if batches else None
    return r


def analyze_window(samples, t_from, t_to):
    """Idle and game runs: server CPU share, RSS and load figures over (t_from, t_to]."""
    seg, cpu, load, wall = window(samples, t_from, t_to)
    return {
        "window_s": round(wall, 2),
        "cpu_s": round(cpu, 4),
        "cpu_percent": round(100 * cpu / wall, 2) if wall > 0 else None,
        "load_cpu_percent": round(100 * load / wall, 1) if wall > 0 else None,
        # The last reading of a live process: a sample racing the server's exit reads RSS 0.
        "rss_kib": next((s["rss"] for s in reversed(seg) if s["rss"] > 0), 0),
        "connected": min((s["connected"] for s in seg), default=0),
        "in_per_s": round(statistics.median(s["in"] for s in seg)) if seg else 0,
    }


def fmt(v, digits=2):
    if v is None:
        return "n/a"
    if isinstance(v, float) and v >= 100:
        return f"{v:,.0f}"
    if isinstance(v, (int,)) and abs(v) >= 1000:
        return f"{v:,}"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def spread(values, digits=2, thousands=False, grouped=False):
    """'median (min-max)' of the rounds; n/a when no round produced the figure. thousands: in
    k; grouped: with thousands separators."""
    v = [x for x in values if x is not None]
    if not v:
        return "n/a"
    med = statistics.median(v)
    if thousands:
        s = f"{med / 1e3:,.1f}k"
        return s if len(v) == 1 else f"{s} ({min(v) / 1e3:,.1f}–{max(v) / 1e3:,.1f}k)"
    f = f",.{digits}f" if grouped else f".{digits}f"
    s = f"{med:{f}}"
    return s if len(v) == 1 else f"{s} ({min(v):{f}}–{max(v):{f}})"


SERVER_NAMES = {"io_uring": "volley-server (io_uring)", "epoll": "volley-server (epoll)",
                "enet": "stock libenet 1.3.17", "raw": "raw recvmmsg/sendmmsg echo"}
SERVER_ORDER = ["io_uring", "epoll", "enet", "raw"]
# The raw floor's two datagram patterns: an unreliable echo's, and a reliable one's (each echo
# acknowledged by a datagram of its own, as libenet does).
DELIVERY_NAMES = {"acked": "any, plus an ACK datagram per echo (a reliable echo's datagrams)"}
SHAPES = {"acked": "reliable", "any": "unreliable"}


def floor_last(delivery, server):
    """Sort key: a point's rows by the delivery whose datagrams they carry, each floor last."""
    return (SHAPES.get(delivery, delivery or ""), SERVER_ORDER.index(server))


def delivery_name(delivery):
    return DELIVERY_NAMES.get(delivery, delivery)


def callgrind_server_name(server):
    # Under callgrind a Volley server always runs on epoll: valgrind cannot see io_uring's work.
    return SERVER_NAMES[server] + (" — epoll" if server in ("io_uring", "epoll") else "")


def group(rows, *keys):
    out = {}
    for r in rows:
        out.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    return out


def echo_table(rows):
    lines = ["| peers | delivery | server | CPU-µs / echo | server CPU % | RTT p50 ms | "
             "RTT p99 ms | max sustained echoes/s | what stopped the ramp (server CPU at the max) | RSS peak MiB | rounds |",
             "|---:|---|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    g = group(rows, "peers", "delivery", "server")
    for (peers, delivery, server) in sorted(g, key=lambda k: (k[0], *floor_last(k[1], k[2]))):
        rs = g[(peers, delivery, server)]
        delivery = delivery_name(delivery)
        if any(r.get("na") for r in rs):
            lines.append(f"| {peers:,} | {delivery} | {SERVER_NAMES[server]} | n/a: {rs[0]['na']} | | | | | | | |")
            continue
        limits = sorted({r.get("limit") or "?" for r in rs})
        maxes = [r.get("max_echo_per_s") for r in rs]
        top = "≥ " if all(r.get("limit") in ("ramp top", "load generator") for r in rs) else ""
        bad = [r for r in rs if r.get("connected", 0) < peers]
        note = f" ({len(bad)} round(s) not all connected)" if bad else ""
        lines.append(
            f"| {peers:,} | {delivery} | {SERVER_NAMES[server]}{note} | {spread([r.get('cpu_us_per_echo') for r in rs])} | "
            f"{spread([r.get('cpu_percent') for r in rs], 1)} | "
            f"{spread([r.get('rtt_p50_ms') for r in rs])} | "
            f"{spread([r.get('rtt_p99_ms') for r in rs])} | {top}{spread(maxes, thousands=True)} | "
            f"{', '.join(limits)} (CPU {spread([r.get('max_cpu_percent') for r in rs], 0)} %) | "
            f"{spread([r.get('rss_peak_kib', 0) / 1024 for r in rs], 1)} | {len(rs)} |")
    return lines


def coalesce_table(rows):
    """Per backend, each cap against coalescing off (cap 0) in the same run: what the naps save
    (CPU per echo) and what they cost (RTT p99 over off, which issue 13 bounds by the cap)."""
    lines = ["| server | cap µs | CPU-µs / echo | CPU against off | RTT p50 ms | RTT p99 ms | "
             "p99 over off, µs (≤ cap?) | naps / waits | datagrams per receive batch | rounds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    g = group(rows, "server", "cap_us")
    for server in [s for s in SERVER_ORDER if any(k[0] == s for k in g)]:
        off = g.get((server, 0), [])
        off_cpu = statistics.median(v) if (v := [r["cpu_us_per_echo"] for r in off if r.get("cpu_us_per_echo")]) else None
        off_p99 = statistics.median(v) if (v := [r["rtt_p99_ms"] for r in off if r.get("rtt_p99_ms") is not None]) else None
        for cap in sorted((k[1] for k in g if k[0] == server), key=lambda c: (c == 0, c if c is not None else -1)):
            rs = g[(server, cap)]
            cpu = [r.get("cpu_us_per_echo") for r in rs]
            p99 = [r.get("rtt_p99_ms") for r in rs if r.get("rtt_p99_ms") is not None]
            ratio = over = "—"
            if cap != 0 and off_cpu and any(cpu):
                ratio = f"{statistics.median(x for x in cpu if x) / off_cpu:.2f}×"
            if cap != 0 and off_p99 is not None and p99:
                grow = round((statistics.median(p99) - off_p99) * 1000)
                over = f"{grow:+d}" + ("" if cap is None else " (yes)" if grow <= cap else " (**no**)")
            naps = " / ".join(spread([r.get(k) for r in rs], 0, grouped=True) for k in ("naps", "waits"))
            bad = [r for r in rs if r.get("connected", 0) < r.get("peers", 0)]
            note = f" ({len(bad)} round(s) not all connected)" if bad else ""
            lines.append(f"| {SERVER_NAMES[server]}{note} | {fmt(cap)} | {spread(cpu)} | {ratio} | "
                         f"{spread([r.get('rtt_p50_ms') for r in rs])} | {spread(p99)} | {over} | {naps} | "
                         f"{spread([r.get('per_batch') for r in rs], 1)} | {len(rs)} |")
    return lines


def table(results_path, meta_path):
    with open(results_path) as f:
        rows = [json.loads(l) for l in f if l.strip()]
    meta = read_json(meta_path)
    out = [f"## Volley benchmark — {meta.get('mode', 'full')} run", ""]
    for k in ("date_start", "date_end", "commit", "machine", "kernel", "load_start", "load_end", "pinning",
              "rounds", "command"):
        if k in meta:
            out.append(f"- {k.replace('_', ' ')}: {meta[k]}")
    echo = [r for r in rows if r.get("section") == "echo"]
    if echo:
        out += ["", f"### Echo: 64-byte messages, one per datagram; equal offered load {meta.get('offered', 0):,} "
                f"messages/s in total at every point, then doubled every {meta.get('every', '?')} s "
                f"up to {meta.get('steps', '?')} times", ""]
        out += echo_table(echo)
    coalesce = [r for r in rows if r.get("section") == "coalesce"]
    if coalesce:
        c = coalesce[0]
        out += ["", f"### Coalescing: {c.get('peers', 0):,} peers, {c.get('offered', 0):,} unreliable echoes/s, "
                f"the bots' sends spread out (--step-us {c.get('step_us', '?')})", ""]
        out += coalesce_table(coalesce)
    idle = [r for r in rows if r.get("section") == "idle"]
    if idle:
        out += ["", f"### Idle: {idle[0].get('peers', 0):,} connected peers, no traffic, "
                f"{idle[0].get('window_s', '?')} s window", "",
                "| server | CPU % of a core | RSS MiB | RSS over the empty server, MiB | connected | rounds |",
                "|---|---:|---:|---:|---:|---:|"]
        g = group(idle, "server")
        for (server,) in sorted(g, key=lambda k: SERVER_ORDER.index(k[0])):
            rs = g[(server,)]
            out.append(f"| {SERVER_NAMES[server]} | {spread([r.get('cpu_percent') for r in rs], 2)} | "
                       f"{spread([r.get('rss_kib', 0) / 1024 for r in rs], 1)} | "
                       f"{spread([(r.get('rss_kib', 0) - r.get('empty_rss_kib', 0)) / 1024 for r in rs], 2)} | "
                       f"{min(r.get('connected', 0) for r in rs):,} | {len(rs)} |")
    ir = [r for r in rows if r.get("section") == "callgrind"]
    if ir:
        out += ["", "### User-space instructions per echo (callgrind, 64 peers, difference of an idle and a loaded run)", "",
                "| server | delivery | instructions / echo | echoes counted | Ir idle / loaded |", "|---|---|---:|---:|---|"]
        # Each floor under the deliveries it is the floor of.
        for r in sorted(ir, key=lambda r: floor_last(r.get("delivery"), r["server"])):
            name = callgrind_server_name(r["server"])
            delivery = delivery_name(r.get("delivery"))
            out.append(f"| {name} | {delivery} | {fmt(r.get('ir_per_echo'))} | {fmt(r.get('echoes'))} | "
                       f"{fmt(r.get('ir_idle'))} / {fmt(r.get('ir_loaded'))} |")
    spread_rows = [r for r in ir if r.get("by_rate")]
    if spread_rows:
        rates = sorted({rate for r in spread_rows for rate in r["by_rate"]}, key=float)
        out += ["", "### Instructions per echo against the echo rate (callgrind, 64 peers)", "",
                "A loop pass costs about the same however many datagrams it takes in, so the count per echo "
                "falls as the rate grows. The line through the points splits it: what a pass costs, and what "
                "an echo costs with the passes aside.", "",
                "| server | delivery | " + " | ".join(f"{rate} Hz" for rate in rates) +
                " | receive batches per echo | per pass | per echo, passes aside |",
                "|---|---|" + "---:|" * len(rates) + "---|---:|---:|"]
        for r in sorted(spread_rows, key=lambda r: floor_last(r.get("delivery"), r["server"])):
            name = callgrind_server_name(r["server"])
            points = [r["by_rate"].get(rate, {}) for rate in rates]
            batches = [p.get("batches_per_echo") for p in points]
            out.append(f"| {name} | {delivery_name(r.get('delivery'))} | " +
                       " | ".join(fmt(p.get("ir_per_echo")) for p in points) + " | " +
                       (" / ".join(fmt(b) for b in batches) if any(b is not None for b in batches) else "n/a") +
                       f" | {fmt(r.get('ir_per_pass'))} | {fmt(r.get('ir_per_echo_batched'))} |")
    game = [r for r in rows if r.get("section") == "game"]
    if game:
        out += ["", "### Snapshots: the demo game at 30 Hz with game bots", "",
                "| game bots | backend | sustained | server CPU % | CPU-µs per client per tick | "
                "snapshot bytes per client per s | connected / dropped | rounds |",
                "|---:|---|---|---:|---:|---:|---|---:|"]
        g = group(game, "peers", "server")
        for (peers, server) in sorted(g, key=lambda k: (-k[0], k[1])):
            rs = g[(peers, server)]
            ok = sum(1 for r in rs if r.get("sustained"))
            out.append(f"| {peers:,} | {server} | {'yes' if ok == len(rs) else f'no ({ok}/{len(rs)})'} | "
                       f"{spread([r.get('cpu_percent') for r in rs], 1)} | "
                       f"{spread([r.get('cpu_us_per_client_tick') for r in rs], 2)} | "
                       f"{spread([r.get('bytes_per_client_s') for r in rs], 0)} | "
                       f"{min(r.get('connected', 0) for r in rs):,} / {max(r.get('dropped', 0) for r in rs)} | {len(rs)} |")
    notes = [r for r in rows if r.get("section") == "note"]
    if notes:
        out += ["", "### Anomalies noted during the run", ""] + [f"- {r['text']}" for r in notes]
    return "\n".join(out) + "\n"


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def callgrind_ir(path):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("summary:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def callgrind_run(d, name):
    """One run under callgrind: its instructions, echoes and receive batches (None where the
    server does not count them: stock ENet reads one datagram per call)."""
    stats = read_json(f"{d}/{name}.stats.json")
    batches = stats.get("loop_recv_batches", stats.get("recv_batches"))
    return {"ir": callgrind_ir(f"{d}/{name}.callgrind"), "echoes": stats.get("packets_out", 0), "batches": batches}


def per_echo(idle, loaded):
    """Instructions and receive batches per echo of a loaded run over the idle one."""
    echoes = loaded["echoes"] - idle["echoes"]
    if not idle["ir"] or not loaded["ir"] or echoes <= 0:
        return None, None
    batches = None
    if idle["batches"] is not None and loaded["batches"] is not None:
        batches = round((loaded["batches"] - idle["batches"]) / echoes, 3)
    return round((loaded["ir"] - idle["ir"]) / echoes), batches


def pass_and_echo(points):
    """The least-squares line through (batches per echo, instructions per echo): its slope is
    what a loop pass costs whatever it carries, its intercept what an echo costs with the passes
    aside (the count per echo if every echo shared its pass with many). Needs two batch counts
    apart by at least 0.2 per echo, or the split is noise."""
    xy = [(p["batches_per_echo"], p["ir_per_echo"]) for p in points]
    if len(xy) < 2 or any(x is None or y is None for x, y in xy):
        return {}
    xs = [x for x, _ in xy]
    if max(xs) - min(xs) < 0.2:
        return {}
    mx, my = statistics.fmean(xs), statistics.fmean(y for _, y in xy)
    slope = sum((x - mx) * (y - my) for x, y in xy) / sum((x - mx) ** 2 for x in xs)
    return {"ir_per_pass": round(slope), "ir_per_echo_batched": round(my - slope * mx)}


def analyze(manifest_path, meta_path):
    """Every manifest line to one results line: its labels and its figures."""
    meta = read_json(meta_path)
    per_s, d = meta.get("cpu_units_per_s", meta.get("clk_tck", 100)), meta.get("dir", ".")
    out = []
    with open(manifest_path) as f:
        manifest = [json.loads(l) for l in f if l.strip()]
    for m in manifest:
        r = dict(m)
        sec = m.get("section")
        if sec in ("echo", "coalesce", "idle", "game") and not m.get("na"):
            try:
                with open(f"{d}/{m['name']}.samples") as f:
                    samples = parse_samples(f, per_s)
            except OSError:
                samples = []
            if sec == "echo":
                r.update(analyze_echo(samples, m["peers"], m["offered"], m["hold_from"], m["double_at"],
                                      m["every"], m["steps"]))
            elif sec == "coalesce":
                r.update(analyze_coalesce(samples, m, read_json(f"{d}/{m['name']}.stats.json")))
            else:
                r.update(analyze_window(samples, m["from"], m["to"]))
            if sec == "game":
                load = read_json(f"{d}/{m['name']}.load.json")
                stats = read_json(f"{d}/{m['name']}.stats.json")
                if r["window_s"] > 0:
                    r["cpu_us_per_client_tick"] = round(r["cpu_s"] * 1e6 / (m["peers"] * 30 * r["window_s"]), 2)
                r["bytes_per_client_s"] = load.get("bytes_in_per_bot_s")
                r["dropped"] = load.get("dropped")
                r["violations"] = load.get("violations")
                # Sustained: every bot connected and stayed, and no invariant broke (frames never
                # backwards, every chat line and event shown exactly once).
                r["sustained"] = (bool(load.get("ok")) and load.get("connected") == m["peers"]
                                  and load.get("dropped") == 0 and load.get("violations") == 0)
                r["server"] = stats.get("backend", "?")
        elif sec == "callgrind":
            # Each run read once: the headline's loaded run is also one of the rates.
            runs = {name: callgrind_run(d, name) for name in {m["idle"], m["loaded"], *m.get("by_rate", {}).values()}}
            idle, loaded = runs[m["idle"]], runs[m["loaded"]]
            r.update({"ir_idle": idle["ir"], "ir_loaded": loaded["ir"], "echoes": loaded["echoes"] - idle["echoes"],
                      "ir_per_echo": per_echo(idle, loaded)[0]})
            if m.get("by_rate"):
                points = {}
                for rate, name in m["by_rate"].items():
                    ir, batches = per_echo(idle, runs[name])
                    points[rate] = {"ir_per_echo": ir, "batches_per_echo": batches}
                r["by_rate"] = points
                r.update(pass_and_echo(list(points.values())))
        out.append(r)
    return out


def short_function(name):
    """A function's name without its parameter list, for display: callgrind names carry the
    whole signature (one row per overload stays one row per overload)."""
    if name.endswith(" const"):
        name = name[: -len(" const")]
    if name.endswith(")"):
        depth = 0
        for i in range(len(name) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(name[i], 0)
            if depth == 0:
                return name[:i] if i > 0 else name
    return name


def callgrind_costs(lines):
    """A callgrind output file's instructions by function: ({function: self}, {function:
    inclusive}), a function keyed by its object file and name. Self is what the function's own
    lines cost, inlined code included; inclusive adds the cost of each call it made (a function
    calling itself is not counted twice). Compiler clones (".isra", ".part", ...) are counted
    with their function."""
    names = {"ob": {}, "fn": {}}
    self_cost, inclusive = {}, {}
    positions, ob, cob, fn, callee, call_pending = 1, "", None, None, None, False

    def name_of(kind, spec):
        # Name compression: "(id) name" defines id, "(id)" refers to it.
        spec = spec.strip()
        if spec.startswith("("):
            key, _, rest = spec[1:].partition(")")
            if rest.strip():
                names[kind][key] = rest.strip()
            spec = names[kind].get(key, spec)
        return re.sub(r" \[clone [^\]]*\]", "", spec) if kind == "fn" else spec

    for line in lines:
        if not line.strip():
            continue
        head = line[0]
        if head.isdigit() or head in "+-*":
            fields = line.split()
            cost = int(fields[positions]) if len(fields) > positions else 0
            if call_pending:
                call_pending = False
                if callee != fn:
                    inclusive[fn] = inclusive.get(fn, 0) + cost
            elif fn is not None:
                self_cost[fn] = self_cost.get(fn, 0) + cost
                inclusive[fn] = inclusive.get(fn, 0) + cost
        elif line.startswith("ob="):
            ob = name_of("ob", line[3:])
        elif line.startswith("fn="):
            fn, cob = (ob, name_of("fn", line[3:])), None
        elif line.startswith("cob="):
            cob = name_of("ob", line[4:])
        elif line.startswith("cfn="):
            callee = (cob if cob is not None else ob, name_of("fn", line[4:]))
            cob = None
        elif line.startswith("calls="):
            call_pending = True
        elif line.startswith("positions:"):
            positions = len(line.split()) - 1
    return self_cost, inclusive


def profile_rows(idle, loaded, echoes, top):
    """Per echo, the functions whose cost changed most from the idle run to the loaded one."""
    rows = [(fn, (loaded.get(fn, 0) - idle.get(fn, 0)) / echoes) for fn in set(idle) | set(loaded)]
    rows.sort(key=lambda r: (-abs(r[1]), r[0]))
    return rows[:top]


def profile(d, idle_name, loaded_name, inclusive, top):
    """The text of `bench_report.py profile`: the run's instructions per echo, as in the table,
    then the `top` functions by self or inclusive cost per echo."""
    runs = {name: callgrind_run(d, name) for name in (idle_name, loaded_name)}
    echoes = runs[loaded_name]["echoes"] - runs[idle_name]["echoes"]
    if echoes <= 0:
        raise ValueError(f"no echoes counted between {idle_name} and {loaded_name} (their .stats.json)")
    costs = {}
    for name in (idle_name, loaded_name):
        with open(f"{d}/{name}.callgrind") as f:
            costs[name] = callgrind_costs(f)[1 if inclusive else 0]
    ir, _ = per_echo(runs[idle_name], runs[loaded_name])
    lines = [f"{loaded_name} over {idle_name}: {echoes} echoes, {ir} instructions per echo;"
             f" {'inclusive' if inclusive else 'self'} cost per echo by function"]
    lines += [f"{v:9.1f}  {short_function(fn[1])}" for fn, v in profile_rows(costs[idle_name], costs[loaded_name], echoes, top)]
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) == 4 and argv[1] == "analyze":
        for r in analyze(argv[2], argv[3]):
            print(json.dumps(r))
        return 0
    if len(argv) == 4 and argv[1] == "table":
        sys.stdout.write(table(argv[2], argv[3]))
        return 0
    if len(argv) >= 5 and argv[1] == "profile":
        inclusive, top, rest = False, 40, argv[5:]
        while rest:
            if rest[0] == "--inclusive":
                inclusive, rest = True, rest[1:]
            elif rest[0] == "--top":
                if len(rest) < 2 or not rest[1].isdigit() or int(rest[1]) == 0:
                    print("bench_report.py profile: --top wants a positive whole number", file=sys.stderr)
                    return 2
                top, rest = int(rest[1]), rest[2:]
            else:
                print(f"bench_report.py profile: unknown option {rest[0]}", file=sys.stderr)
                return 2
        try:
            sys.stdout.write(profile(argv[2], argv[3], argv[4], inclusive, top))
        except (OSError, ValueError) as e:
            print(f"bench_report.py profile: {e}", file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
