#!/usr/bin/env python3
"""The attack and fault runs of docs/attacks.md, each bounded, each with a report.

  flood    100,000 forged CONNECTs/s (volley-flood) while 100 stock-libenet echo clients
           (volley-bots --engine enet) connect and echo: every client in, nothing lost, zero
           peers from the flood, server RSS flat.
  stock    the same flood against volley-enet-echo-server (stock libenet): the comparison.
           Reported, not judged.
  garbage  random and mutated real datagrams at full rate (volley-flood --mode garbage) while
           100 clients echo: nothing lost, drops counted by reason, no crash, RSS flat.
  soak     echo bots (and optionally game bots against --mode demo) through volley-netsim with
           20% loss, 5% duplication, 5% reordering and 50-150 ms delay each way: no reliable
           message lost, doubled or reordered, no frame regression, no disconnect.
  churn    bots leaving and rejoining at 500/s: RSS and every server table (peers, half-open
           entries, departed ids, per-IP counts) back at their baseline at the end.

Writes OUT/<scenario>.json (figures + checks) and OUT/summary.txt, prints the summary, and exits
1 when any check failed (2 for a bad flag). Every child is bounded by its own --seconds and is
ended by PID. Loopback only.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

MIB = 1024 * 1024


def fail_usage(msg):
    print(f"attack: {msg}", file=sys.stderr)
    sys.exit(2)


class Child:
    """A child process with its output in OUT/<name>.log; `listening ADDR:PORT` parsed if asked."""

    def __init__(self, out, name, argv, wait_listening=False, nice=None):
        self.name = name
        self.log_path = os.path.join(out, name + ".log")
        self.log = open(self.log_path, "w")
        self.log.write("$ " + " ".join(argv) + "\n")
        self.log.flush()
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE if wait_listening else self.log,
                                     stderr=self.log, text=True)
        self.port = None
        if wait_listening:
            deadline = time.time() + 20
            line = ""
            while time.time() < deadline:
                line = self.proc.stdout.readline()
                if not line:
                    break
                self.log.write(line)
                self.log.flush()
                m = re.match(r"listening .*:(\d+)$", line.strip())
                if m:
                    self.port = int(m.group(1))
                    break
            if self.port is None:
                self.stop()
                raise RuntimeError(f"{name} did not print 'listening' (see {self.log_path})")
            threading.Thread(target=self._copy, daemon=True).start()

    def _copy(self):
        for line in self.proc.stdout:
            self.log.write(line)
            self.log.flush()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "killed after timeout"

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.wait(timeout)


class Sampler:
    """RSS of one process (from /proc) and, optionally, server gauges from /metrics, every `every` s."""

    GAUGES = ["volley_peers_connected", "volley_handshake_half_open", "volley_departed_ids",
              "volley_per_ip_addresses", "volley_peer_slots"]

    def __init__(self, pid, every=0.5, metrics_port=None):
        self.pid, self.every, self.metrics_port = pid, every, metrics_port
        self.start = time.time()
        self.samples = []  # dicts: t, rss_mib, and the gauges
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def rss_mib(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def gauges(self):
        if self.metrics_port is None:
            return {}
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] in self.GAUGES:
                out[parts[0].replace("volley_", "")] = float(parts[1])
        return out

    def sample(self):
        s = {"t": round(time.time() - self.start, 2), "rss_mib": self.rss_mib()}
        s.update(self.gauges())
        return s

    def _run(self):
        while not self.stopping:
            s = self.sample()
            if s["rss_mib"] is not None:
                self.samples.append(s)
            time.sleep(self.every)

    def stop(self):
        self.stopping = True
        self.thread.join()

    def rss_between(self, t0, t1):
        return [s["rss_mib"] for s in self.samples if t0 <= s["t"] <= t1]


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class Run:
    def __init__(self, args, name):
        self.args, self.name = args, name
        self.figures = {}
        self.checks = []  # (name, ok, detail)
        self.commands = []

    def check(self, name, ok, detail):
        self.checks.append({"check": name, "ok": bool(ok), "detail": detail})

    def child(self, name, argv, **kw):
        self.commands.append(" ".join(argv))
        return Child(self.args.out, f"{self.name}-{name}", argv, **kw)

    def ok(self):
        return all(c["ok"] for c in self.checks)

    def write(self):
        report = {"scenario": self.name, "ok": self.ok(), "asan": self.args.asan, "commands": self.commands,
                  "figures": self.figures, "checks": self.checks}
        with open(os.path.join(self.args.out, self.name + ".json"), "w") as f:
            json.dump(report, f, indent=1)
        return report


def exe(args, name):
    if name in ("volley-server",):
        base = args.server_build
    else:
        base = args.build
    for root, _, files in os.walk(base):
        if name in files and os.access(os.path.join(root, name), os.X_OK):
            return os.path.join(root, name)
    fail_usage(f"{name} not built under {base}")


def server_argv(args, run, mode="echo", extra=()):
    # Every real client here comes from 127.0.0.1: the per-IP cap (32 by default) is lifted.
    return [exe(args, "volley-server"), "--mode", mode, "--bind", "127.0.0.1", "--port", "0",
            "--per-ip-cap", "0", "--log-level", "warn", "--stats-json", os.path.join(args.out, f"{run.name}-server.json"),
            "--seconds", "3600", *extra]


def bots_argv(args, run, port, tag, extra, engine="enet"):
    return [exe(args, "volley-bots"), "--server", f"127.0.0.1:{port}", "--engine", engine,
            "--report-json", os.path.join(args.out, f"{run.name}-{tag}.json"), *extra]


def drops_by_reason(stats):
    return {k: v for k, v in stats.items() if k.startswith("drop_") and isinstance(v, int) and v > 0}


def server_figures(run, stats, sampler, t_from=0):
    rss = [s["rss_mib"] for s in sampler.samples]
    run.figures["server"] = {
        "cpu_user_s": stats.get("cpu_user_s"), "cpu_sys_s": stats.get("cpu_sys_s"),
        "connects": stats.get("connects"), "disconnects": stats.get("disconnects"),
        "timeouts": stats.get("timeouts"), "peers_peak": stats.get("peers_peak"),
        "datagrams_in": stats.get("datagrams_in"), "datagrams_out": stats.get("datagrams_out"),
        "bad_datagrams": stats.get("bad_datagrams"),
        "handshake": {k: v for k, v in stats.items() if k.startswith("handshake_")},
        "drops_by_reason": drops_by_reason(stats),
        "rss_mib_min": round(min(rss), 1) if rss else None,
        "rss_mib_max": round(max(rss), 1) if rss else None,
        "rss_mib_samples": [[s["t"], round(s["rss_mib"], 1)] for s in sampler.samples[::4]],
    }


def bots_figures(report):
    keys = ["bots", "connected", "failed", "dropped", "churn_leaves", "churn_rejoins", "reliable_sent",
            "reliable_received", "reliable_lost", "reliable_duplicated", "reliable_out_of_order",
            "unreliable_sent", "unreliable_received", "unreliable_reordered", "echo_corrupt",
            "snapshots_applied", "frame_regressions", "events_duplicated", "rtt_p50_us", "rtt_p99_us",
            "violations", "ok"]
    return {k: report.get(k) for k in keys if k in report}


def check_bots(run, label, report, code, bots, allow_drops=False):
    run.check(f"{label}: volley-bots exit 0 and ok", code == 0 and report.get("ok") is True,
              f"exit {code}, ok={report.get('ok')}, violations={report.get('violations')}")
    run.check(f"{label}: all {bots} connected, none failed", report.get("connected") == bots and report.get("failed") == 0,
              f"connected {report.get('connected')}, failed {report.get('failed')}")
    lost = [report.get(k) for k in ("reliable_lost", "reliable_duplicated", "reliable_out_of_order", "echo_corrupt",
                                    "unreliable_reordered")]
    run.check(f"{label}: reliable lost/duplicated/out of order, corrupt, unreliable reordered all 0",
              all(v == 0 for v in lost), f"{lost}")
    if not allow_drops:
        run.check(f"{label}: no bot lost its connection", report.get("dropped") == 0, f"dropped {report.get('dropped')}")


def check_rss_flat(run, sampler, t0, t1, limit_mib):
    """Flat: the RSS growth from the middle of [t0, t1] to its end stays within limit_mib."""
    mid = (t0 + t1) / 2
    first = sampler.rss_between(t0, mid)
    second = sampler.rss_between(mid, t1)
    if run.args.asan:
        run.figures["rss_note"] = "not judged under ASan (its quarantine holds freed memory)"
        return
    if not first or not second:
        run.check("RSS flat", False, "no samples")
        return
    growth = max(second) - max(first)
    run.figures["rss_growth_second_half_mib"] = round(growth, 2)
    run.check(f"server RSS flat: max of the second half - max of the first <= {limit_mib} MiB", growth <= limit_mib,
              f"{max(first):.1f} -> {max(second):.1f} MiB (window {t0:.0f}-{t1:.0f} s)")


def scenario_flood(args, stock=False):
    run = Run(args, "stock" if stock else "flood")
    d = args.flood_seconds
    bots_n = args.flood_bots
    if stock:
        server = run.child("server", [exe(args, "volley-enet-echo-server"), "--bind", "127.0.0.1", "--port", "0",
                                      "--max-peers", "4095", "--seconds", "3600", "--stats-json",
                                      os.path.join(args.out, "stock-server.json")], wait_listening=True)
    else:
        server = run.child("server", server_argv(args, run), wait_listening=True)
    sampler = Sampler(server.proc.pid)
    flood = run.child("flood", [exe(args, "volley-flood"), "--server", f"127.0.0.1:{server.port}", "--rate",
                                str(args.flood_rate), "--seconds", str(d), "--seed", str(args.seed), "--report-json",
                                os.path.join(args.out, f"{run.name}-flood.json")])
    t_flood = time.time() - sampler.start
    time.sleep(2)  # the half-open table is full after 1.3 s at 100,000/s
    bot_seconds = max(3, d - 18)  # ramp 2 s, run, drain <= 10 s, leave <= 3 s: all inside the flood
    bots = run.child("bots", bots_argv(args, run, server.port, "bots",
                                       ["--behavior", "echo", "--bots", str(bots_n), "--sockets", str(bots_n),
                                        "--ramp", "50", "--seconds", str(bot_seconds), "--drain", "10",
                                        "--seed", str(args.seed)]))
    code = bots.wait(d + 60)
    fcode = flood.wait(d + 30)
    t_end = time.time() - sampler.start
    sampler.stop()
    scode = server.stop()
    stats = read_json(os.path.join(args.out, f"{run.name}-server.json"))
    report = read_json(os.path.join(args.out, f"{run.name}-bots.json"))
    fl = read_json(os.path.join(args.out, f"{run.name}-flood.json"))
    run.figures["flood"] = fl
    run.figures["bots"] = bots_figures(report)
    server_figures(run, stats, sampler)
    if stock:
        run.figures["stock_connected"] = f"{report.get('connected')} of {bots_n}"
        run.check("comparison only (stock libenet is expected to fail)", True,
                  f"{report.get('connected')} of {bots_n} stock clients connected")
        return run
    run.check("volley-flood ran", fcode == 0, f"exit {fcode}")
    rate = fl.get("achieved_rate", 0)
    run.check(f"flood achieved >= 95% of {args.flood_rate}/s", rate >= 0.95 * args.flood_rate, f"{rate}/s")
    check_bots(run, "clients", report, code, bots_n)
    run.check("forged CONNECTs created zero peers: server connects == real clients, peak <= clients",
              stats.get("connects") == report.get("connected") and (stats.get("peers_peak") or 0) <= bots_n,
              f"connects {stats.get('connects')}, peers_peak {stats.get('peers_peak')}, clients {report.get('connected')}")
    run.check("server exited cleanly", scode == 0, f"exit {scode}")
    check_rss_flat(run, sampler, t_flood + 3, t_end - 1, args.rss_limit)
    return run


def scenario_garbage(args):
    run = Run(args, "garbage")
    d = args.garbage_seconds
    bots_n = args.flood_bots
    server = run.child("server", server_argv(args, run), wait_listening=True)
    sampler = Sampler(server.proc.pid)
    bots = run.child("bots", bots_argv(args, run, server.port, "bots",
                                       ["--behavior", "echo", "--bots", str(bots_n), "--sockets", str(bots_n),
                                        "--ramp", "100", "--seconds", str(d), "--drain", "10", "--seed", str(args.seed)]))
    time.sleep(3)  # the clients are connected and echoing before the garbage starts
    t_flood = time.time() - sampler.start
    garbage_seconds = max(2, d - 5)
    corpus = os.path.join(args.source, "tests", "fuzz", "corpus", "datagram")
    flood = run.child("flood", [exe(args, "volley-flood"), "--mode", "garbage", "--corpus", corpus, "--server",
                                f"127.0.0.1:{server.port}", "--rate", str(args.garbage_rate), "--seconds",
                                str(garbage_seconds), "--seed", str(args.seed), "--report-json",
                                os.path.join(args.out, "garbage-flood.json")])
    fcode = flood.wait(d + 30)
    t_end = time.time() - sampler.start
    code = bots.wait(d + 60)
    sampler.stop()
    alive = server.proc.poll() is None
    scode = server.stop()
    stats = read_json(os.path.join(args.out, "garbage-server.json"))
    report = read_json(os.path.join(args.out, "garbage-bots.json"))
    fl = read_json(os.path.join(args.out, "garbage-flood.json"))
    run.figures["flood"] = fl
    run.figures["bots"] = bots_figures(report)
    server_figures(run, stats, sampler)
    run.check("volley-flood ran", fcode == 0, f"exit {fcode}")
    check_bots(run, "clients", report, code, bots_n)
    run.check("server alive through the garbage and exited cleanly", alive and scode == 0,
              f"alive {alive}, exit {scode}")
    run.check("garbage was dropped and counted", (stats.get("bad_datagrams") or 0) > 0,
              f"bad_datagrams {stats.get('bad_datagrams')}")
    expected = (report.get("connected") or 0) + (report.get("churn_rejoins") or 0) + fl.get("sessions_connected", 0)
    run.check("peers only from real handshakes: connects == clients + the flood's own real sessions",
              stats.get("connects") == expected, f"connects {stats.get('connects')}, expected {expected}")
    check_rss_flat(run, sampler, t_flood + 2, t_end - 0.5, args.rss_limit)
    return run


def scenario_soak(args):
    run = Run(args, "soak")
    d = args.soak_seconds
    impair = ["--loss", str(args.soak_loss), "--duplicate", "0.05", "--reorder", "0.05", "--latency", "50", "--jitter", "100",
              "--max-clients", "20000", "--max-held", "1000000"]
    # The resend interval cap on both ends (docs/attacks.md "Why 20% loss drops ENet peers"):
    # libenet's doubling without bound leaves, at 20% loss, some command 6 sends in a row lost
    # on almost every connection; only volley-bots --engine volley can cap the clients' side.
    peer_flags = ["--peer-rto-cap", str(args.soak_rto_cap)] if args.soak_rto_cap else []
    server = run.child("server", server_argv(args, run, extra=["--max-peers", "4096", *peer_flags]),
                       wait_listening=True)
    sampler = Sampler(server.proc.pid)
    netsim = run.child("netsim", [exe(args, "volley-netsim"), "--listen", "127.0.0.1:0", "--upstream",
                                  f"127.0.0.1:{server.port}", *impair, "--seed", str(args.seed), "--seconds",
                                  str(d + 60), "--report-json", os.path.join(args.out, "soak-netsim.json")],
                       wait_listening=True)
    children = []
    echo_n, game_n = args.soak_echo_bots, args.soak_game_bots
    bot_flags = peer_flags
    echo = run.child("echo-bots", bots_argv(args, run, netsim.port, "echo-bots",
                                            [*bot_flags, "--behavior", "echo", "--bots", str(echo_n), "--sockets",
                                             str(max(1, echo_n // 100)), "--ramp", "200", "--seconds", str(d),
                                             "--drain", "15", "--seed", str(args.seed)], engine=args.soak_engine))
    game = None
    if game_n > 0:
        gserver = run.child("demo-server", [exe(args, "volley-server"), "--mode", "demo", "--bind", "127.0.0.1",
                                            "--port", "0", "--per-ip-cap", "0", "--log-level", "warn", *peer_flags,
                                            "--tick-hz", "30",
                                            "--view-cell", "32", "--seconds", "3600", "--stats-json",
                                            os.path.join(args.out, "soak-demo-server.json")],
                            wait_listening=True)
        gnet = run.child("demo-netsim", [exe(args, "volley-netsim"), "--listen", "127.0.0.1:0", "--upstream",
                                         f"127.0.0.1:{gserver.port}", *impair, "--seed", str(args.seed + 1),
                                         "--seconds", str(d + 60), "--report-json",
                                         os.path.join(args.out, "soak-demo-netsim.json")], wait_listening=True)
        game = run.child("game-bots", bots_argv(args, run, gnet.port, "game-bots",
                                                [*bot_flags, "--behavior", "game", "--bots", str(game_n), "--sockets",
                                                 str(max(1, game_n // 100)), "--ramp", "100", "--seconds", str(d),
                                                 "--chat-every", "0", "--seed", str(args.seed)],
                                                engine=args.soak_engine))
        children = [gserver, gnet]
    code = echo.wait(d + 120)
    gcode = game.wait(d + 120) if game else None
    sampler.stop()
    scode = server.stop()
    netsim.stop()
    for c in children[::-1]:
        c.stop()
    stats = read_json(os.path.join(args.out, "soak-server.json"))
    report = read_json(os.path.join(args.out, "soak-echo-bots.json"))
    ns = read_json(os.path.join(args.out, "soak-netsim.json"))
    run.figures["echo_bots"] = bots_figures(report)
    run.figures["netsim"] = ns
    server_figures(run, stats, sampler)
    check_bots(run, f"{echo_n} echo bots", report, code, echo_n)
    run.check("echo server: no timeouts", stats.get("timeouts") == 0, f"timeouts {stats.get('timeouts')}")
    run.check("server exited cleanly", scode == 0, f"exit {scode}")
    if game:
        greport = read_json(os.path.join(args.out, "soak-game-bots.json"))
        gstats = read_json(os.path.join(args.out, "soak-demo-server.json"))
        run.figures["game_bots"] = bots_figures(greport)
        run.figures["demo_server"] = {k: gstats.get(k) for k in ("connects", "timeouts", "ticks", "ticks_late",
                                                                  "cpu_user_s", "cpu_sys_s")}
        run.check(f"{game_n} game bots: all connected, none dropped, zero frame regressions, no event twice",
                  greport.get("connected") == game_n and greport.get("dropped") == 0
                  and greport.get("frame_regressions") == 0 and greport.get("events_duplicated") == 0,
                  f"exit {gcode}, connected {greport.get('connected')}, dropped {greport.get('dropped')}, "
                  f"frame_regressions {greport.get('frame_regressions')}, "
                  f"events_duplicated {greport.get('events_duplicated')}")
    return run


def scenario_churn(args):
    run = Run(args, "churn")
    d = args.churn_seconds
    n = args.churn_bots
    server = run.child("server", server_argv(args, run, extra=["--max-peers", "4096",
                                                                "--metrics", "127.0.0.1:0"]), wait_listening=True)
    metrics_port = None
    with open(server.log_path) as f:
        for line in f:
            m = re.search(r"metrics.*127\.0\.0\.1:(\d+)", line)
            if m:
                metrics_port = int(m.group(1))
    sampler = Sampler(server.proc.pid, every=1.0, metrics_port=metrics_port)
    base = sampler.sample()
    bots = run.child("bots", bots_argv(args, run, server.port, "bots",
                                       ["--behavior", "echo", "--bots", str(n), "--sockets", str(max(1, n // 250)),
                                        "--ramp", "500", "--churn", str(args.churn_rate), "--rate", "2",
                                        "--seconds", str(d), "--seed", str(args.seed)]))
    code = bots.wait(d + 60)
    t_end = time.time() - sampler.start
    # Past the 20 s a half-open entry may wait for its proof (a bot churned away between its CONNECT
    # and its ACK leaves one) and the 5 s a departed id is remembered.
    time.sleep(21)
    # One more client connecting and leaving: the tables expire lazily, on the next use.
    probe = run.child("probe", bots_argv(args, run, server.port, "probe", ["--bots", "1", "--seconds", "1"]))
    pcode = probe.wait(60)
    time.sleep(1)
    after = sampler.sample()
    sampler.stop()
    scode = server.stop()
    stats = read_json(os.path.join(args.out, "churn-server.json"))
    report = read_json(os.path.join(args.out, "churn-bots.json"))
    run.figures["bots"] = bots_figures(report)
    server_figures(run, stats, sampler)
    run.figures["tables_before"] = base
    run.figures["tables_after"] = after
    peak = {k: max((s.get(k, 0) for s in sampler.samples), default=0) for k in
            ("peers_connected", "handshake_half_open", "departed_ids", "per_ip_addresses", "peer_slots")}
    run.figures["tables_peak"] = peak
    leaves = report.get("churn_leaves") or 0
    run.figures["churn_per_s_achieved"] = round(leaves / d, 1)
    run.check("volley-bots (churn) exit 0 and ok", code == 0 and report.get("ok") is True,
              f"exit {code}, violations {report.get('violations')}, dropped {report.get('dropped')}")
    run.check(f"churn rate >= 90% of {args.churn_rate}/s", leaves >= 0.9 * args.churn_rate * d,
              f"{leaves} leaves in {d} s")
    run.check("probe client connected", pcode == 0, f"exit {pcode}")
    run.check("tables back to baseline: peers 0, half-open 0, departed <= 1 (the probe's), per-IP 0",
              after.get("peers_connected") == 0 and after.get("handshake_half_open") == 0
              and after.get("departed_ids", 99) <= 1 and after.get("per_ip_addresses") == 0,
              json.dumps({k: v for k, v in after.items() if k != "t"}))
    run.check("server exited cleanly", scode == 0, f"exit {scode}")
    if args.asan:
        run.figures["rss_note"] = "not judged under ASan (its quarantine holds freed memory)"
    else:
        warm = sampler.rss_between(0.2 * d, 0.3 * d)
        late = sampler.rss_between(0.9 * d, t_end)
        if warm and late and after.get("rss_mib"):
            baseline = statistics.median(warm)
            run.figures["rss_mib_baseline_20_30pct"] = round(baseline, 1)
            run.figures["rss_mib_end_of_churn"] = round(max(late), 1)
            run.figures["rss_mib_after_leave"] = round(after["rss_mib"], 1)
            run.check(f"RSS back to baseline: end of churn and after leaving <= baseline + {args.rss_limit} MiB",
                      max(late) <= baseline + args.rss_limit and after["rss_mib"] <= baseline + args.rss_limit,
                      f"baseline {baseline:.1f}, end {max(late):.1f}, after {after['rss_mib']:.1f} MiB")
        else:
            run.check("RSS sampled", False, "no samples")
    return run


def summary_lines(report):
    lines = [f"== {report['scenario']}{' (asan)' if report['asan'] else ''}: {'ok' if report['ok'] else 'FAILED'}"]
    f = report["figures"]
    s = f.get("server", {})
    if s:
        lines.append(f"   server cpu {s.get('cpu_user_s')} user + {s.get('cpu_sys_s')} sys s; RSS "
                     f"{s.get('rss_mib_min')}..{s.get('rss_mib_max')} MiB; connects {s.get('connects')}, "
                     f"timeouts {s.get('timeouts')}, datagrams in {s.get('datagrams_in')}")
        if s.get("drops_by_reason"):
            lines.append("   drops: " + ", ".join(f"{k}={v}" for k, v in s["drops_by_reason"].items()))
    if "flood" in f:
        fl = f["flood"]
        lines.append(f"   flood: {fl.get('sent')} datagrams = {fl.get('achieved_rate')}/s from "
                     f"{fl.get('sources_used')} sources")
    for key in ("bots", "echo_bots", "game_bots"):
        if key in f:
            lines.append(f"   {key}: " + ", ".join(f"{k} {v}" for k, v in f[key].items()))
    for c in report["checks"]:
        lines.append(f"   [{'ok' if c['ok'] else 'FAIL'}] {c['check']}: {c['detail']}")
    return lines


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(here, "..", "..", "build", "default"),
                   help="build directory with volley-bots, volley-flood, volley-netsim, volley-enet-echo-server")
    p.add_argument("--server-build", help="build directory of volley-server (default --build; an asan build)")
    p.add_argument("--asan", action="store_true", help="the server is an ASan build: RSS is reported, not judged")
    p.add_argument("--scenarios", default="flood,stock,garbage,soak,churn")
    p.add_argument("--short", action="store_true", help="the CI lengths (each scenario under 60 s)")
    p.add_argument("--seconds", type=float, help="every scenario's length (overrides the defaults)")
    p.add_argument("--out", default="attack-report")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--flood-rate", type=int, default=100000)
    p.add_argument("--flood-bots", type=int, default=100)
    p.add_argument("--garbage-rate", type=int, default=0, help="0 = as fast as the flood can send")
    p.add_argument("--soak-echo-bots", type=int, default=800)
    p.add_argument("--soak-game-bots", type=int, default=200)
    p.add_argument("--soak-loss", type=float, default=0.2, help="netsim loss each way")
    p.add_argument("--soak-engine", default="volley", choices=["enet", "volley"],
                   help="the soak bots' client: volley (Volley's Peer, which can cap its resend interval) or "
                        "enet (stock libenet 1.3.17)")
    p.add_argument("--soak-rto-cap", type=int, default=1000,
                   help="ms: the server's and the volley bots' resend interval cap in the soak; 0 = none (libenet)")
    p.add_argument("--churn-bots", type=int, default=1000)
    p.add_argument("--churn-rate", type=float, default=500)
    p.add_argument("--rss-limit", type=float, default=4.0, help="MiB of RSS growth judged flat")
    p.error = fail_usage  # one line, exit 2
    args = p.parse_args()
    args.source = os.path.abspath(os.path.join(here, "..", ".."))
    args.server_build = args.server_build or args.build
    for d in (args.build, args.server_build):
        if not os.path.isdir(d):
            fail_usage(f"no build directory {d}")
    known = {"flood", "stock", "garbage", "soak", "churn"}
    scenarios = [s for s in args.scenarios.split(",") if s]
    if args.soak_rto_cap and args.soak_engine != "volley":
        fail_usage("--soak-rto-cap needs --soak-engine volley (libenet has no cap); give --soak-rto-cap 0")
    if not scenarios or any(s not in known for s in scenarios):
        fail_usage(f"--scenarios takes a comma list of {sorted(known)}, got '{args.scenarios}'")
    if args.seconds is not None and not (1 <= args.seconds <= 3600):
        fail_usage("--seconds must be 1..3600")
    full = {"flood": 30, "garbage": 30, "soak": 300, "churn": 300}
    short = {"flood": 30, "garbage": 25, "soak": 30, "churn": 25}  # the flood's clients need 12 s
    lengths = short if args.short else full
    if args.seconds is not None:
        lengths = {k: args.seconds for k in lengths}
    args.flood_seconds, args.garbage_seconds = lengths["flood"], lengths["garbage"]
    args.soak_seconds, args.churn_seconds = lengths["soak"], lengths["churn"]
    if args.short:
        args.soak_echo_bots = min(args.soak_echo_bots, 200)
        args.soak_game_bots = min(args.soak_game_bots, 20)
        args.churn_bots = min(args.churn_bots, 500)
    os.makedirs(args.out, exist_ok=True)
    runs = {"flood": lambda: scenario_flood(args), "stock": lambda: scenario_flood(args, stock=True),
            "garbage": lambda: scenario_garbage(args), "soak": lambda: scenario_soak(args),
            "churn": lambda: scenario_churn(args)}
    all_ok = True
    lines = []
    for s in scenarios:
        started = time.time()
        report = runs[s]().write()
        all_ok &= report["ok"]
        block = summary_lines(report) + [f"   ({time.time() - started:.0f} s, load average "
                                         f"{os.getloadavg()[0]:.1f})"]
        print("\n".join(block), flush=True)
        lines += block
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
