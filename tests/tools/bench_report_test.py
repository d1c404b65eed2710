#!/usr/bin/env python3
"""tools/bench/bench_report.py, the arithmetic of bench.sh, on made-up samples: CPU per echo over
the equal-load window, where a ramp stops and what it blames, medians with their spread, and the
table's n/a rows. Nothing here measures or starts a process."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "bench"))
import bench_report as br  # noqa: E402

HZ = 100


def line(t, srv_ticks, load_ticks, inp, out, p50=1.0, p99=3.0, connected=64, rss=5000):
    return (f"{srv_ticks} {load_ticks} {rss} t={t}s connected {connected}/64 in {inp} pps out {out} pps "
            f"rtt p50 {p50:.2f} p99 {p99:.2f} ms errors 0")


def run(steps):
    """Seconds 1..: a 1 s settle, 3 s hold at 8k/s (t=2..4), then 2 s steps; `steps` gives per
    step (in, out, server ticks per second, load ticks per second)."""
    lines, srv, load = [line(1, 0, 0, "8.0k", "8.0k")], 0, 0
    for t in (2, 3, 4):
        srv += 10
        load += 20
        lines.append(line(t, srv, load, "8.0k", "8.0k"))
    t = 4
    for inp, out, s_per_s, l_per_s in steps:
        for _ in range(2):
            t += 1
            srv += s_per_s
            load += l_per_s
            lines.append(line(t, srv, load, inp, out))
    return br.parse_samples(lines, HZ)


def table_of(rows, meta):
    """bench_report.py's markdown for these result rows and this meta, through its files."""
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/results.jsonl", "w") as f:
            f.write("\n".join(json.dumps(r) for r in rows))
        with open(f"{d}/meta.json", "w") as f:
            json.dump(meta, f)
        return br.table(f"{d}/results.jsonl", f"{d}/meta.json")


class WindowRun(unittest.TestCase):
    def test_rss_of_a_sample_racing_the_exit_is_ignored(self):
        lines = [line(t, 10 * t, 20 * t, "0", "0", rss=14000 + t) for t in range(1, 6)]
        lines.append(line(6, 60, 120, "0", "0", rss=0))  # the server was already exiting
        r = br.analyze_window(br.parse_samples(lines, HZ), 0, 6)
        self.assertEqual(r["rss_kib"], 14005)
        self.assertEqual(r["cpu_percent"], 10.0)


class EchoRun(unittest.TestCase):
    def analyze(self, samples, steps=3):
        return br.analyze_echo(samples, 64, 8000, hold_from=1, double_at=4, every=2, steps=steps)

    def test_cpu_per_echo_over_the_hold(self):
        r = self.analyze(run([]), steps=0)
        # 0.3 CPU-s over 3 s and 24,000 echoes: 12.5 us each, 10 % of a core.
        self.assertAlmostEqual(r["cpu_us_per_echo"], 12.5, places=3)
        self.assertEqual(r["cpu_percent"], 10.0)
        self.assertEqual(r["echo_per_s"], 8000)
        self.assertEqual(r["limit"], "ramp top")
        self.assertEqual(r["max_echo_per_s"], 8000)

    def test_server_saturated_stops_the_ramp(self):
        r = self.analyze(run([("16.0k", "16.0k", 30, 20), ("20.0k", "32.0k", 95, 30), ("20.0k", "64.0k", 99, 30)]))
        self.assertEqual(r["max_echo_per_s"], 16000)
        self.assertEqual(r["limit"], "server")
        self.assertEqual(r["max_cpu_percent"], 30.0)

    def test_generator_short_of_the_offer_is_blamed_not_the_server(self):
        # Short of the offer with its core full, and short of it without (a paced generator
        # can fall behind from stalls): either way the step says nothing about the server.
        for load_ticks in (99, 60):
            r = self.analyze(run([("16.0k", "16.0k", 30, 60), ("25.0k", "25.0k", 40, load_ticks)]))
            self.assertEqual(r["max_echo_per_s"], 16000)
            self.assertEqual(r["limit"], "load generator")

    def test_loss_with_neither_core_full(self):
        r = self.analyze(run([("12.0k", "16.0k", 30, 30)]))
        self.assertEqual(r["max_echo_per_s"], 8000)
        self.assertEqual(r["limit"], "loss/queueing, neither core full")

    def test_rates_with_suffixes(self):
        self.assertEqual(br.rate("950"), 950)
        self.assertEqual(br.rate("13.4k"), 13400)
        self.assertEqual(br.rate("1.02M"), 1020000)


class Table(unittest.TestCase):
    def test_spread_is_the_median_and_the_range(self):
        self.assertEqual(br.spread([3.0, 1.0, 2.0]), "2.00 (1.00–3.00)")
        self.assertEqual(br.spread([4.0]), "4.00")
        self.assertEqual(br.spread([None, None]), "n/a")
        self.assertEqual(br.spread([16000, 32000, 20000], thousands=True), "20.0k (16.0–32.0k)")

    def test_rows_grouped_by_point_with_n_a_for_stock_enet_at_16000(self):
        rows = [
            {"section": "echo", "server": "io_uring", "peers": 64, "delivery": "reliable", "round": r,
             "cpu_us_per_echo": v, "cpu_percent": 10.0, "rtt_p50_ms": 1.0, "rtt_p99_ms": 2.0,
             "max_echo_per_s": 30000, "limit": "load generator", "max_cpu_percent": 40.0,
             "rss_peak_kib": 10240, "connected": 64}
            for r, v in ((1, 3.0), (2, 5.0), (3, 4.0))]
        rows.append({"section": "echo", "server": "enet", "peers": 16000, "delivery": "reliable", "round": 1,
                     "na": "libenet caps a host at 4,095 peers"})
        text = table_of(rows, {"mode": "full", "commit": "abc1234", "offered": 8000, "every": 2, "steps": 4})
        self.assertIn("| 64 | reliable | volley-server (io_uring) | 4.00 (3.00–5.00) |", text)
        self.assertIn("≥ 30.0k", text)  # the generator, not the server, ended every round's ramp
        self.assertIn("| 16,000 | reliable | stock libenet 1.3.17 | n/a: libenet caps a host at 4,095 peers |", text)
        self.assertIn("commit: abc1234", text)

    def test_each_raw_floor_sits_under_the_delivery_it_is_the_floor_of(self):
        rows = [{"section": "callgrind", "server": server, "delivery": delivery, "ir_per_echo": ir, "echoes": 6000,
                 "ir_idle": 1, "ir_loaded": 2}
                for server, delivery, ir in (("raw", "acked", 1500), ("raw", "any", 900), ("epoll", "unreliable", 2900),
                                             ("epoll", "reliable", 4800), ("enet", "reliable", 20000))]
        text = table_of(rows, {"mode": "full", "commit": "abc1234"})
        order = [line.split("|")[3].strip() for line in text.splitlines() if line.startswith("| ") and "/ 2 |" in line]
        self.assertEqual(order, ["4,800", "20,000", "1,500", "2,900", "900"])
        self.assertIn("| raw recvmmsg/sendmmsg echo | any, plus an ACK datagram per echo", text)

    def test_each_echo_floor_sits_under_the_delivery_it_is_the_floor_of(self):
        rows = [{"section": "echo", "server": server, "peers": 4000, "delivery": delivery, "round": 1,
                 "cpu_us_per_echo": cpu, "cpu_percent": 5.0, "rtt_p50_ms": 1.0, "rtt_p99_ms": 2.0,
                 "max_echo_per_s": 30000, "limit": "ramp top", "max_cpu_percent": 40.0,
                 "rss_peak_kib": 10240, "connected": 4000}
                for server, delivery, cpu in (("raw", "acked", 7.5), ("raw", "any", 5.5), ("epoll", "unreliable", 8.5),
                                              ("epoll", "reliable", 9.5), ("enet", "reliable", 33.0))]
        text = table_of(rows, {"mode": "full", "commit": "abc1234", "offered": 8000, "every": 2, "steps": 4})
        order = [line.split("|")[4].strip() for line in text.splitlines() if line.startswith("| 4,000 |")]
        self.assertEqual(order, ["9.50", "33.00", "7.50", "8.50", "5.50"])
        self.assertIn("| 4,000 | any, plus an ACK datagram per echo (a reliable echo's datagrams) | raw recvmmsg/sendmmsg echo | 7.50 |", text)

    def test_cpu_units_from_the_meta_ns_now_and_clock_ticks_in_older_runs(self):
        # Server at a quarter of a core, the load at a full one, over 4 s; the same run recorded
        # in ns (cpu_units_per_s) and, as runs before ns did, in 100 Hz ticks (clk_tck).
        for key, per_s in (("cpu_units_per_s", 10**9), ("clk_tck", 100)):
            with tempfile.TemporaryDirectory() as d:
                with open(f"{d}/idle-epoll-1.samples", "w") as f:
                    f.write("\n".join(line(t, t * per_s // 4, t * per_s, "0", "0") for t in range(1, 6)))
                with open(f"{d}/manifest.jsonl", "w") as f:
                    f.write(json.dumps({"section": "idle", "server": "epoll", "name": "idle-epoll-1", "from": 1, "to": 5}))
                with open(f"{d}/meta.json", "w") as f:
                    json.dump({key: per_s, "dir": d}, f)
                r = br.analyze(f"{d}/manifest.jsonl", f"{d}/meta.json")[0]
            self.assertEqual((r["cpu_percent"], r["load_cpu_percent"], r["window_s"]), (25.0, 100.0, 4.0), key)

class CoalesceRuns(unittest.TestCase):
    """The coalesce section: each backend's capped run against its run with coalescing off."""

    def analyze(self, runs):
        with tempfile.TemporaryDirectory() as d:
            manifest = []
            for server, cap, srv_per_s, p99, stats_cap in runs:
                name = f"coalesce-{server}-{cap}-1"
                with open(f"{d}/{name}.samples", "w") as f:
                    f.write("\n".join(line(t, srv_per_s * t, 20 * t, "8.0k", "8.0k", p99=p99) for t in range(1, 6)))
                stats = {"loop_naps": 900 if cap else 0, "loop_waits": 1000, "loop_datagrams_in": 40000,
                         "loop_recv_batches": 2000}
                if stats_cap is not None:
                    stats["coalesce_us"] = stats_cap
                with open(f"{d}/{name}.stats.json", "w") as f:
                    json.dump(stats, f)
                manifest.append({"section": "coalesce", "server": server, "cap": str(cap), "peers": 64, "round": 1,
                                 "name": name, "offered": 8000, "hold_from": 1, "double_at": 4, "step_us": 50})
            with open(f"{d}/manifest.jsonl", "w") as f:
                f.write("\n".join(json.dumps(m) for m in manifest))
            with open(f"{d}/meta.json", "w") as f:
                json.dump({"clk_tck": HZ, "dir": d}, f)
            return br.analyze(f"{d}/manifest.jsonl", f"{d}/meta.json")

    def test_cpu_and_p99_against_coalescing_off(self):
        rows = self.analyze([("io_uring", "default", 10, 0.30, 200), ("io_uring", 0, 20, 0.10, 0),
                             ("epoll", "default", 15, 0.35, 200), ("epoll", 0, 20, 0.10, 0)])
        capped = rows[0]
        # 0.3 CPU-s over the 3 s hold and 24,000 echoes: 12.5 us each; the cap is the server's own.
        self.assertAlmostEqual(capped["cpu_us_per_echo"], 12.5, places=3)
        self.assertEqual((capped["cap_us"], capped["naps"], capped["waits"], capped["per_batch"]), (200, 900, 1000, 20.0))
        text = table_of(rows, {"mode": "full"})
        self.assertIn("### Coalescing: 64 peers, 8,000 unreliable echoes/s, the bots' sends spread out (--step-us 50)", text)
        self.assertIn("| volley-server (io_uring) | 200 | 12.50 | 0.50× | 1.00 | 0.30 | +200 (yes) | 900 / 1,000 | 20.0 | 1 |", text)
        self.assertIn("| volley-server (io_uring) | 0 | 25.00 | — | 1.00 | 0.10 | — | 0 / 1,000 | 20.0 | 1 |", text)
        # 250 us more p99 than off is more than a 200 us cap allows.
        self.assertIn("| volley-server (epoll) | 200 | 18.75 | 0.75× | 1.00 | 0.35 | +250 (**no**) |", text)
        lines = [l for l in text.splitlines() if l.startswith("| volley-server")]
        self.assertEqual([l.split("|")[1:3] for l in lines][0][0].strip(), "volley-server (io_uring)")
        self.assertEqual([l.split("|")[2].strip() for l in lines], ["200", "0", "200", "0"])

    def test_a_server_without_the_cap_in_its_stats_reads_it_from_the_manifest(self):
        rows = self.analyze([("epoll", 0, 20, 0.10, None), ("epoll", "default", 10, 0.20, None)])
        self.assertEqual([r["cap_us"] for r in rows], [0, None])
        text = table_of(rows, {"mode": "full"})
        self.assertIn("| volley-server (epoll) | n/a | 12.50 | 0.50× | 1.00 | 0.20 | +100 | ", text)


class CallgrindRates(unittest.TestCase):
    """The echo-rate spread of the callgrind section, on made-up runs that cost exactly
    3,900 instructions per echo plus 600 per receive batch."""

    def runs(self, d, server, batch_key, batches_per_echo):
        def write(name, ir, echoes, batches):
            with open(f"{d}/{name}.callgrind", "w") as f:
                f.write(f"events: Ir\nsummary: {ir}\n")
            stats = {"packets_out": echoes}
            if batch_key:
                stats[batch_key] = batches
            with open(f"{d}/{name}.stats.json", "w") as f:
                json.dump(stats, f)
        idle_ir, idle_batches = 7_000_000, 500
        write(f"cg-{server}-0", idle_ir, 0, idle_batches)
        by_rate = {}
        for rate, bpe in batches_per_echo.items():
            echoes = 320 * int(rate)
            batches = round(bpe * echoes)
            write(f"cg-{server}-{rate}", idle_ir + echoes * 3900 + batches * 600, echoes, idle_batches + batches)
            by_rate[rate] = f"cg-{server}-{rate}"
        return {"section": "callgrind", "server": server, "delivery": "reliable", "idle": f"cg-{server}-0",
                "loaded": f"cg-{server}-20", "by_rate": by_rate}

    def analyze(self, entries_of):
        with tempfile.TemporaryDirectory() as d:
            with open(f"{d}/manifest.jsonl", "w") as f:
                f.write("\n".join(json.dumps(m) for m in entries_of(d)))
            with open(f"{d}/meta.json", "w") as f:
                json.dump({"dir": d}, f)
            return br.analyze(f"{d}/manifest.jsonl", f"{d}/meta.json")

    def test_the_line_through_the_rates_splits_a_pass_from_an_echo(self):
        spread = {"10": 2.0, "20": 1.5, "60": 0.5}
        volley, stock = self.analyze(lambda d: [self.runs(d, "epoll", "loop_recv_batches", spread),
                                                self.runs(d, "enet", None, spread)])
        self.assertEqual(volley["by_rate"]["10"], {"ir_per_echo": 3900 + 1200, "batches_per_echo": 2.0})
        self.assertEqual(volley["ir_per_echo"], 3900 + 900)
        self.assertEqual((volley["ir_per_pass"], volley["ir_per_echo_batched"]), (600, 3900))
        # Stock ENet counts no batches: its counts per rate, and no split.
        self.assertIsNone(stock["by_rate"]["60"]["batches_per_echo"])
        self.assertNotIn("ir_per_pass", stock)
        text = table_of([volley, stock], {"mode": "full", "commit": "abc1234"})
        self.assertIn("| volley-server (epoll) — epoll | reliable | 5,100 | 4,800 | 4,200 | 2.00 / 1.50 / 0.50 | 600 | 3,900 |", text)
        self.assertIn("| stock libenet 1.3.17 | reliable | 5,100 | 4,800 | 4,200 | n/a | n/a | n/a |", text)

    def test_batch_counts_too_close_give_no_split(self):
        (r,) = self.analyze(lambda d: [self.runs(d, "raw", "recv_batches", {"20": 1.0, "60": 0.9})])
        self.assertEqual(r["by_rate"]["60"]["batches_per_echo"], 0.9)
        self.assertNotIn("ir_per_pass", r)


# A made-up callgrind file: main (8 of its own, 3 of them inlined from b.hpp) calls work twice;
# work (40) calls itself once and a clone of helper (50); libc's "(below main)" and the server's
# own share a name in two objects.
CALLGRIND = """version: 1
positions: line
events: Ir
summary: 1000
ob=(1) /bin/server
fl=(1) a.cpp
fn=(1) main
10 5
cfn=(2) work(int)
calls=2 20
11 130
fi=(2) b.hpp
12 3
fe=(1)
fn=(2)
20 40
cfn=(2)
calls=1 20
21 40
cfn=(3) helper() [clone .isra.0]
calls=1 30
22 50
fn=(3)
30 50
fn=(4) (below main)
40 1
cfn=(1)
calls=1 10
41 138
ob=(2) /lib/libc.so
fl=(3) x.c
fn=(4)
50 2
cob=(1)
cfn=(4)
calls=1 40
51 139
"""


class CallgrindProfile(unittest.TestCase):
    def test_self_and_inclusive_costs_by_function(self):
        self_cost, inclusive = br.callgrind_costs(CALLGRIND.splitlines())
        server, libc = "/bin/server", "/lib/libc.so"
        self.assertEqual(self_cost[(server, "main")], 8)  # inlined b.hpp lines included
        self.assertEqual(self_cost[(server, "work(int)")], 40)
        self.assertEqual(self_cost[(server, "helper()")], 50)  # the clone is the function
        self.assertEqual(inclusive[(server, "main")], 138)
        self.assertEqual(inclusive[(server, "work(int)")], 90)  # its call to itself not again
        self.assertEqual(inclusive[(server, "(below main)")], 139)
        self.assertEqual(inclusive[(libc, "(below main)")], 141)  # two functions, one name
        self.assertEqual(sum(self_cost.values()), 101)

    def test_rows_per_echo_largest_change_first(self):
        idle = {("o", "a"): 100, ("o", "b"): 50}
        loaded = {("o", "a"): 300, ("o", "b"): 1050, ("o", "c"): 40}
        rows = br.profile_rows(idle, loaded, 10, 2)
        self.assertEqual(rows, [(("o", "b"), 100.0), (("o", "a"), 20.0)])

    def test_short_function_drops_only_the_parameter_list(self):
        self.assertEqual(br.short_function("volley::Peer::send(unsigned char, std::span<int>) const"),
                         "volley::Peer::send")
        self.assertEqual(br.short_function("std::_Function_handler<void (int)>::_M_invoke(std::_Any_data const&)"),
                         "std::_Function_handler<void (int)>::_M_invoke")
        self.assertEqual(br.short_function("(below main)"), "(below main)")
        self.assertEqual(br.short_function("0x000000000001ab70"), "0x000000000001ab70")

    def test_profile_through_files(self):
        with tempfile.TemporaryDirectory() as d:
            idle = CALLGRIND.replace("summary: 1000", "summary: 500").replace("20 40\n", "20 20\n", 1)
            for name, text, packets in (("cg-idle", idle, 0), ("cg-loaded", CALLGRIND, 4)):
                with open(f"{d}/{name}.callgrind", "w") as f:
                    f.write(text)
                with open(f"{d}/{name}.stats.json", "w") as f:
                    json.dump({"packets_out": packets, "loop_recv_batches": packets}, f)
            out = br.profile(d, "cg-idle", "cg-loaded", False, 5).splitlines()
            self.assertEqual(out[0], "cg-loaded over cg-idle: 4 echoes, 125 instructions per echo;"
                                     " self cost per echo by function")
            self.assertEqual(out[1].split(), ["5.0", "work"])


if __name__ == "__main__":
    unittest.main()
