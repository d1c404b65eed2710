#!/usr/bin/env python3
"""volley-bench-udp-echo, the raw floor of bench.sh, over loopback: `serve` echoes every datagram
but an acknowledgement's (12 bytes or fewer), and `blast --ack` answers every echo with one, so
the floor of a reliable echo's datagrams is two in and one out. Bounded: each process has its own
--seconds and is ended by PID.

  udp_echo_floor_test.py PATH_TO_volley-bench-udp-echo
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time


def run(exe, ack):
    with tempfile.TemporaryDirectory() as d:
        server = subprocess.Popen([exe, "serve", "--port", "0", "--seconds", "20", "--stats-json", f"{d}/serve.json"],
                                  stdout=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
            if not line.startswith("listening "):
                raise AssertionError(f"serve printed {line!r}")
            port = line.rsplit(":", 1)[1].strip()
            load = [exe, "blast", "--server", f"127.0.0.1:{port}", "--peers", "4", "--sockets", "4", "--rate", "50",
                    "--seconds", "1", "--report-json", f"{d}/blast.json"] + (["--ack"] if ack else [])
            subprocess.run(load, check=True, stderr=subprocess.DEVNULL, timeout=20)
            time.sleep(0.3)  # the last acknowledgements reach the server
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=10)
        with open(f"{d}/serve.json") as f:
            served = json.load(f)
        with open(f"{d}/blast.json") as f:
            blasted = json.load(f)
    return served, blasted


def main():
    exe = sys.argv[1]
    failures = []
    for ack in (False, True):
        served, blasted = run(exe, ack)
        sent, echoes, acks = blasted["packets_out"], blasted["packets_in"], blasted.get("acks_sent", 0)
        print(f"ack={ack}: blast sent {sent}, got {echoes} echoes, sent {acks} acks; "
              f"serve read {served['packets_in']}, sent {served['packets_out']}")
        expected_acks = echoes if ack else 0
        checks = [
            # Echoes still in flight when the load's time is up go uncounted: a few at most.
            (sent > 0 and sent - 8 <= echoes <= sent, "every datagram echoed once (loopback loses none)"),
            (acks == expected_acks, "one acknowledgement per echo with --ack, none without"),
            (served["packets_out"] == sent, "the server echoed the load's datagrams and nothing else"),
            (served["packets_in"] == sent + acks, "the server read the datagrams and the acknowledgements"),
        ]
        failures += [f"ack={ack}: {what}" for ok, what in checks if not ok]
    for f in failures:
        print("FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
