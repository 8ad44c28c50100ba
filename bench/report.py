#!/usr/bin/python3
"""Turns bench/run's raw samples into the ratio table (text, CSV, JSON) and a PNG of the ratios.

raw.tsv columns: workload, group, server, round, value (or FAIL), unit, server CPU per unit,
CPU unit. Values are higher-is-better except the memory group (KiB per connection), where the
ratio is inverted so that > 1 always means shoal wins. Standard library only; the plot is drawn
with gnuplot when it is installed."""
import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys


def load(raw):
    rows = {}
    order = []
    with open(raw) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 8:
                continue
            wid, group, server, _rnd, value, unit, cpu, cpu_unit = p[:8]
            if wid not in rows:
                rows[wid] = {"group": group, "unit": unit, "cpu_unit": cpu_unit,
                             "shoal": [], "samba": [], "shoal_cpu": [], "samba_cpu": [],
                             "shoal_fail": 0, "samba_fail": 0}
                order.append(wid)
            r = rows[wid]
            if value == "FAIL":
                r[server + "_fail"] += 1
                continue
            r[server].append(float(value))
            if cpu:
                r[server + "_cpu"].append(float(cpu))
    return rows, order


def summary(vals):
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
            "n": len(vals)}


def fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--desc", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", nargs="*", default=[])
    a = ap.parse_args()
    meta = dict(m.split("=", 1) for m in a.meta)
    desc = {}
    with open(a.desc) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            desc[k] = v
    rows, order = load(a.raw)
    results = []
    for wid in order:
        r = rows[wid]
        lower_better = r["group"] == "mem"
        sh, sa = summary(r["shoal"]), summary(r["samba"])
        ratio = None
        if sh and sa and sh["median"] > 0 and sa["median"] > 0:
            ratio = sa["median"] / sh["median"] if lower_better else sh["median"] / sa["median"]
        results.append({
            "workload": wid, "group": r["group"], "description": desc.get(wid, ""),
            "unit": r["unit"], "lower_is_better": lower_better,
            "shoal": sh, "samba": sa, "ratio": ratio,
            "shoal_cpu": summary(r["shoal_cpu"]), "samba_cpu": summary(r["samba_cpu"]),
            "cpu_unit": r["cpu_unit"],
            "failures": {"shoal": r["shoal_fail"], "samba": r["samba_fail"]},
        })
    os.makedirs(a.out, exist_ok=True)

    # text table
    head = ("%-26s %9s %-17s %9s %-17s %7s  %-22s" %
            ("workload", "shoal", "[min..max]", "samba", "[min..max]", "ratio",
             "server CPU shoal / samba (memory row: USS)"))
    lines = [head, "-" * len(head)]
    for x in results:
        def cell(s):
            if not s:
                return ("%9s %-17s" % ("FAIL", ""))
            return "%9s %-17s" % (fmt(s["median"]), "[%s..%s]" % (fmt(s["min"]), fmt(s["max"])))
        cpu = "-"
        if x["shoal_cpu"] and x["samba_cpu"]:
            cpu = "%s / %s %s" % (fmt(x["shoal_cpu"]["median"]), fmt(x["samba_cpu"]["median"]),
                                  x["cpu_unit"])
        ratio = "%.2fx" % x["ratio"] if x["ratio"] else "-"
        fails = ""
        if x["failures"]["shoal"] or x["failures"]["samba"]:
            fails = "  (failed runs: shoal %d, samba %d)" % (x["failures"]["shoal"],
                                                             x["failures"]["samba"])
        lines.append("%-26s %s %s %7s  %-22s %s%s" % (x["workload"], cell(x["shoal"]),
                                                       cell(x["samba"]), ratio, cpu,
                                                       x["unit"], fails))
    lines.append("")
    lines.append("ratio = shoal/samba of the medians (memory: samba/shoal), > 1: shoal is better.")
    if meta.get("aa", "no") != "no":
        lines.append("A/A run: both columns are %s (two instances); the ratios are the noise floor."
                     % meta["aa"])
    lines.append(" ".join("%s=%s" % kv for kv in meta.items()))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "results.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)

    with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workload", "group", "unit", "shoal_median", "shoal_min", "shoal_max",
                    "samba_median", "samba_min", "samba_max", "ratio", "cpu_unit",
                    "shoal_cpu_median", "samba_cpu_median", "rounds_shoal", "rounds_samba",
                    "description"])
        for x in results:
            sh, sa = x["shoal"] or {}, x["samba"] or {}
            w.writerow([x["workload"], x["group"], x["unit"], sh.get("median"), sh.get("min"),
                        sh.get("max"), sa.get("median"), sa.get("min"), sa.get("max"),
                        "%.3f" % x["ratio"] if x["ratio"] else "", x["cpu_unit"],
                        (x["shoal_cpu"] or {}).get("median"), (x["samba_cpu"] or {}).get("median"),
                        sh.get("n", 0), sa.get("n", 0), x["description"]])
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
        f.write("\n")
    plot(results, a.out)


def plot(results, out):
    gp = shutil.which("gnuplot")
    data = [x for x in results if x["ratio"]]
    if not gp or not data:
        print("(no plot: %s)" % ("gnuplot is not installed" if not gp else "no ratios"))
        return
    dat = os.path.join(out, "ratios.dat")
    with open(dat, "w") as f:
        for i, x in enumerate(data):
            f.write('%d "%s" %.4f %d\n' % (i, x["workload"], x["ratio"],
                                          0 if x["ratio"] >= 1 else 1))
    h = max(480, 22 * len(data) + 120)
    lo = min(min(x["ratio"] for x in data) / 1.5, 0.5)
    hi = max(max(x["ratio"] for x in data) * 2.5, 2)
    script = """
set terminal pngcairo size 900,%d font "sans,9"
set output "%s"
set title "shoal / Samba, ratio of the medians (> 1: shoal is better; memory: Samba / shoal)"
set style fill solid 0.85 border -1
set yrange [%d:-1]
set ytics nomirror
set xlabel "ratio (log scale)"
set logscale x 2
set xrange [%g:%g]
set grid xtics
set key off
set arrow from 1, graph 0 to 1, graph 1 nohead lw 2 lc rgb "black"
plot "%s" using (1):1:($3 < 1 ? $3 : 1):($3 < 1 ? 1 : $3):($1 - 0.35):($1 + 0.35):($4 > 0 ? 0xc0392b : 0x2e8b57):ytic(2) with boxxyerror lc rgb variable, \\
     "%s" using ($3 < 1 ? 1.06 : $3 * 1.06):1:(sprintf("%%.2f", $3)) with labels left font "sans,8"
""" % (h, os.path.join(out, "ratios.png"), len(data), lo, hi, dat, dat)
    r = subprocess.run([gp], input=script, text=True, capture_output=True)
    if r.returncode:
        print("(plot failed: %s)" % r.stderr.strip())
    os.unlink(dat)


if __name__ == "__main__":
    main()
