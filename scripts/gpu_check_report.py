#!/usr/bin/env python3
"""The report of scripts/gpu-check.sh: <base>.json and <base>.md from the phase logs in $WORK.

Inputs (environment, set by gpu-check.sh): WORK (phases.tsv, notes.tsv, <phase>.log,
build-targets.txt, build-failed.txt, sanitizer.tsv, bench-{kernels,step}.{json,md}), REPORT_BASE,
GPU_NAME, DRIVER, CUDA_VERSION, ARCH, COMMIT, DIRTY (yes/no/unknown), STAMP, TOTAL_S, DRY_RUN,
CUDNN, PHASES, BUDGET.
"""
import json
import os
import re

env = os.environ
work = env["WORK"]
dry_run = env.get("DRY_RUN") == "1"


def read(name):
    path = os.path.join(work, name)
    return open(path, errors="replace").read() if os.path.exists(path) else ""


def rows(name, columns):
    return [dict(zip(columns, line.split("\t"))) for line in read(name).splitlines() if line.strip()]


phases = []
for p in rows("phases.tsv", ("phase", "rc", "seconds")):
    log = read(p["phase"] + ".log")
    rc = p["rc"]
    status = "skipped" if rc == "skipped" else "ok" if rc == "0" else "timeout" if rc in ("124", "137") else "failed"
    phases.append({"phase": p["phase"], "status": status, "rc": rc, "seconds": int(p["seconds"]),
                   "log_tail": log[-4000:], "log": log})

skipped = [{"phase": n["phase"], "why": n["why"]} for n in rows("notes.tsv", ("phase", "why"))]

labs = []
for p in phases:
    for line in p["log"].splitlines():
        if line.startswith("LABJSON "):
            try:
                labs.append(json.loads(line[8:]))
            except ValueError:
                pass

tests = []
for p in phases:
    if p["phase"] == "tests":
        for m in re.finditer(r"Test\s+#\d+:\s+(\S+)\s+\.*\s*(\*\*\*)?(\w+[\w ]*?)\s+([\d.]+) sec", p["log"]):
            tests.append({"name": m.group(1), "result": m.group(3).strip(), "seconds": float(m.group(4))})

sanitizer_runs = [dict(r, seconds=int(r["seconds"])) for r in
                  rows("sanitizer.tsv", ("tool", "binary", "filter", "status", "seconds", "summary"))]
sanitizer = {}
for p in phases:
    if p["phase"] in ("memcheck", "racecheck"):
        sanitizer[p["phase"]] = re.findall(r"=+ (ERROR SUMMARY: .*|RACECHECK SUMMARY: .*)", p["log"])

build = {"targets": read("build-targets.txt").split(), "failed": read("build-failed.txt").split()}

bench = {}
for suite in ("kernels", "step"):
    text = read(f"bench-{suite}.json")
    if text:
        try:
            bench[suite] = json.loads(text)
        except ValueError:
            pass

report = {
    "gpu": env["GPU_NAME"], "driver": env["DRIVER"], "cuda": env["CUDA_VERSION"], "arch": "sm_" + env["ARCH"],
    "commit": env["COMMIT"], "uncommitted_changes": {"yes": True, "no": False}.get(env["DIRTY"]),
    "date": env["STAMP"], "total_seconds": int(env["TOTAL_S"]), "dry_run": dry_run, "cudnn": env["CUDNN"],
    "phases_requested": env["PHASES"].split(","), "budget_seconds": int(env["BUDGET"]),
    "phases": [{k: v for k, v in p.items() if k not in ("log", "log_tail")} for p in phases],
    "skipped": skipped, "build": build, "tests": tests, "sanitizer": sanitizer, "sanitizer_runs": sanitizer_runs,
    "labs": labs, "bench": bench,
}
base = env["REPORT_BASE"]
with open(base + ".json", "w") as f:
    json.dump(report, f, indent=2)

changes = {True: " (with uncommitted changes)", False: "", None: ""}[report["uncommitted_changes"]]
md = [f"# GPU check: {report['gpu']} ({report['date']})", "",
      f"- commit {report['commit']}{changes}, CUDA {report['cuda'] or '?'}, driver {report['driver'] or '?'}, "
      f"built for {report['arch']}"]
if dry_run:
    md.append("- dry run on the CPU execution layer (no GPU): the same configure and build (nvcc objects included); "
              "the requested phases ran the CPU-layer twins (tests, sanitizer checks, labs with --small, bench "
              "suites with --tiny)")
md += [f"- cuDNN {report['cudnn']}",
       f"- phases {', '.join(report['phases_requested'])}; budget {report['budget_seconds']} s, "
       f"total {report['total_seconds']} s", "",
       "| phase | status | seconds |", "|---|---|---|"]
md += [f"| {p['phase']} | {p['status']} (rc {p['rc']}) | {p['seconds']} |" for p in phases]
if skipped:
    md += ["", "## Skipped or left out, and why", ""]
    md += [f"- {s['phase']}: {s['why']}" for s in skipped]
if build["targets"]:
    md += ["", "## Build", "",
           f"- {len(build['targets'])} targets: {' '.join(build['targets'])}",
           f"- failed: {' '.join(build['failed']) if build['failed'] else 'none'}"]
if tests:
    md += ["", "## CPU-layer twins of the GPU tests" if dry_run else "## GPU tests", "",
           "| test | result | seconds |", "|---|---|---|"]
    md += [f"| {t['name']} | {t['result']} | {t['seconds']:.2f} |" for t in tests]
if sanitizer_runs:
    md += ["", "## CPU-layer checks (the sanitizer phases' twins)" if dry_run else "## compute-sanitizer", "",
           "| tool | binary | filter | status | seconds | summary |", "|---|---|---|---|---|---|"]
    md += [f"| {r['tool']} | {r['binary']} | {r['filter'] or 'all'} | {r['status']} | {r['seconds']} | "
           f"{r['summary'].strip() or '-'} |" for r in sanitizer_runs]
if labs:
    md += ["", "## Kernel labs (median of repeats, L2 flushed; GB/s over the minimum traffic)", "",
           "| lab | variant | shape | valid | ms | GB/s |", "|---|---|---|---|---|---|"]
    md += [f"| {l['lab']} | {l['variant']} | {l['shape']} | {'yes' if l['valid'] else 'NO'} | {l['ms']:.4f} | "
           f"{l['gbps']:.1f} |" for l in labs]
for suite in ("step", "kernels"):
    text = read(f"bench-{suite}.md")
    if text:
        # elrscope's own tables, one heading level down, without its title
        md += ["", f"## elrscope bench --suite gpu-{suite}", ""]
        md += [("#" + l if l.startswith("## ") else l) for l in text.splitlines() if not l.startswith("# ")]
for p in phases:
    if p["status"] != "ok":
        md += ["", f"## {p['phase']}: {p['status']} (last lines of the log)", "", "```", p["log_tail"].strip(), "```"]
with open(base + ".md", "w") as f:
    f.write("\n".join(md) + "\n")
