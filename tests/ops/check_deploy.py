#!/usr/bin/env python3
"""The deployment files (deploy/) parse, and say what deploy/README.md says they do: the Fleet
serves volley-server's UDP game port with Agones health checking and --agones/--metrics on, the
scrape job keeps annotated pods, every metric the Grafana dashboard or an alert rule queries is
one that volley-server exports (server/app/prometheus.cpp), and every alert has a severity, a
summary and a firing case in alerts_test.yaml (which promtool runs where it is installed). Uses
Debian's python3-yaml."""
import json
import pathlib
import re
import sys

import yaml

root = pathlib.Path(sys.argv[1])
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


fleets = list(yaml.safe_load_all((root / "deploy/agones/fleet.yaml").read_text()))
check(len(fleets) == 1, "fleet.yaml: one document")
fleet = fleets[0]
check(fleet.get("apiVersion") == "agones.dev/v1" and fleet.get("kind") == "Fleet", "fleet.yaml: an agones.dev/v1 Fleet")
gs = fleet["spec"]["template"]["spec"]
ports = gs.get("ports", [])
check(any(p.get("protocol") == "UDP" and p.get("containerPort") == 7777 for p in ports), "fleet.yaml: UDP container port 7777")
health = gs.get("health", {})
check(health.get("disabled") is False and health.get("periodSeconds", 0) > 0 and health.get("failureThreshold", 0) > 0,
      "fleet.yaml: Agones health checking on")
pod = gs["template"]["spec"]
containers = pod["containers"]
check(len(containers) == 1 and containers[0]["name"] == "volley-server", "fleet.yaml: one volley-server container")
args = containers[0].get("args", [])
for flag in ("--agones", "--metrics", "--drain-seconds", "--port"):
    check(flag in args, f"fleet.yaml: volley-server runs with {flag}")
if "--port" in args:
    check(args[args.index("--port") + 1] == "7777", "fleet.yaml: --port matches the container port")
if "--drain-seconds" in args:
    check(pod.get("terminationGracePeriodSeconds", 30) > float(args[args.index("--drain-seconds") + 1]),
          "fleet.yaml: termination grace longer than the drain")
resources = containers[0].get("resources", {})
check("requests" in resources and "limits" in resources, "fleet.yaml: resource requests and limits")
annotations = gs["template"]["metadata"].get("annotations", {})
if "--metrics" in args:
    metrics_port = args[args.index("--metrics") + 1].rsplit(":", 1)[1]
    check(annotations.get("prometheus.io/port") == metrics_port, "fleet.yaml: scrape annotation names the --metrics port")

scrape = yaml.safe_load((root / "deploy/prometheus/scrape.yaml").read_text())
jobs = scrape.get("scrape_configs", [])
check(len(jobs) == 1 and jobs[0].get("job_name") == "volley-server", "scrape.yaml: the volley-server job")

dashboard = json.loads((root / "deploy/grafana/volley-dashboard.json").read_text())
exported = set(re.findall(r'"((?:volley|process)_[a-z_]+)"', (root / "server/app/prometheus.cpp").read_text()))
histograms = set(re.findall(r'w\.histogram\("([a-z_]+)"', (root / "server/app/prometheus.cpp").read_text()))
exported |= {h + suffix for h in histograms for suffix in ("_bucket", "_sum", "_count")}
panels = dashboard.get("panels", [])
check(len(panels) >= 10, "dashboard: panels")
used = set()
for panel in panels:
    for target in panel.get("targets", []):
        used |= set(re.findall(r"\b((?:volley|process)_[a-z_]+)", target.get("expr", "")))
check(len(used) >= 15, f"dashboard: queries the metrics ({len(used)} used)")
for name in sorted(used - exported):
    failures.append(f"dashboard queries {name}, which volley-server does not export")

metric_names = re.compile(r"\b((?:volley|process)_[a-z_]+)")
alerts = yaml.safe_load((root / "deploy/prometheus/alerts.yaml").read_text())
rules = [r for g in alerts.get("groups", []) for r in g.get("rules", [])]
check(len(rules) >= 10, f"alerts.yaml: alert rules ({len(rules)})")
alert_used = set()
for rule in rules:
    name = rule.get("alert", "?")
    check(rule.get("labels", {}).get("severity") in ("critical", "warning", "info"), f"alerts.yaml: {name} has a severity")
    check(bool(rule.get("annotations", {}).get("summary")), f"alerts.yaml: {name} has a summary")
    alert_used |= set(metric_names.findall(rule.get("expr", "")))
for name in sorted(alert_used - exported):
    failures.append(f"alerts.yaml queries {name}, which volley-server does not export")
alert_tests = yaml.safe_load((root / "deploy/prometheus/alerts_test.yaml").read_text())
fired = {case["alertname"] for t in alert_tests.get("tests", []) for case in t.get("alert_rule_test", [])
         if case.get("exp_alerts")}
for rule in rules:
    check(rule.get("alert") in fired, f"alerts_test.yaml: no case where {rule.get('alert')} fires")

for f in failures:
    print("FAIL:", f)
print(f"deploy files: {len(failures)} problems; dashboard uses {len(used)} metric names, "
      f"{len(rules)} alert rules use {len(alert_used)}")
sys.exit(1 if failures else 0)
