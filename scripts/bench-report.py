#!/usr/bin/env python3
"""Turns a zk-bench JSONL file (from scripts/bench-compare) into a Markdown comparison table and an SVG plot.

Usage: bench-report.py results.jsonl out.md out.svg
Ratios are zk-server / Apache for throughput, Apache / zk-server for latency, CPU, memory and failover
times, so a ratio above 1 always means zk-server is better. Ensemble rows (load lines with "hosts" > 1,
"failover" lines) get their own tables; the plot shows the standalone points.
"""
import json
import platform
import sys


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fmt(v, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float) and v >= 100 or isinstance(v, int):
        return f"{v:,.0f}{unit}"
    return f"{v:,.1f}{unit}"


def ratio(a, b):
    if not a or not b:
        return "–"
    return f"{a / b:.2f}x"


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import os
    return f"{os.cpu_count()} cores ({model}), Linux {platform.release()}"


def is_ensemble(row):
    return row.get("hosts", 1) > 1


def load_table(out, pairs, cpu_title):
    """One row per load point measured on both servers (pairs of Apache and zk-server lines)."""
    out.append("| op | sessions x in flight | Apache ops/s | zk-server ops/s | ratio | Apache p50/p99 µs | "
               f"zk-server p50/p99 µs | p99 ratio | {cpu_title} Apache / zk-server | CPU ratio |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for a, z in pairs:
        out.append(
            f"| {a['op']} | {a['sessions']} x {a['inflight']} | {fmt(a['ops_per_sec'])} | {fmt(z['ops_per_sec'])} | "
            f"{ratio(z['ops_per_sec'], a['ops_per_sec'])} | {fmt(a['p50_us'])} / {fmt(a['p99_us'])} | "
            f"{fmt(z['p50_us'])} / {fmt(z['p99_us'])} | {ratio(a['p99_us'], z['p99_us'])} | "
            f"{fmt(a.get('server_cpu_us_per_op'))} / {fmt(z.get('server_cpu_us_per_op'))} | "
            f"{ratio(a.get('server_cpu_us_per_op'), z.get('server_cpu_us_per_op'))} |")


def pair_points(apache_rows, zk_rows):
    key = lambda r: (r["op"], r["sessions"], r["inflight"])
    zk = {key(r): r for r in zk_rows}
    return [(a, zk[key(a)]) for a in apache_rows if key(a) in zk]


def ensemble_section(out, by, one):
    loads = {s: [r for r in by("load", s) if is_ensemble(r)] for s in ("apache", "zk-server")}
    fails = {s: one("failover", s) for s in ("apache", "zk-server")}
    if not any(loads.values()) and not any(fails.values()):
        return
    ens = one("ensemble", "apache") or one("ensemble", "zk-server") or {}
    f = fails["apache"] or fails["zk-server"] or {}
    n = ens.get("servers") or f.get("servers") or 3
    tick = ens.get("tick_time_ms") or f.get("tick_time_ms")
    out.append(f"\nEnsembles: {n} servers of each implementation on this machine, the same zoo.cfg (tickTime "
               f"{fmt(tick)} ms, initLimit 10, syncLimit 5, fsync on); session i connects to server i mod {n}. "
               "CPU is the sum over the ensemble's processes.\n")
    leaders = [f"{s}: server.{int(e['leader']) + 1}" for s in ("apache", "zk-server")
               if (e := one("ensemble", s)) and e.get("leader") is not None]
    if leaders:
        out.append(f"Leader during the load points (by myid; sessions 0, 3, 6, … use server.1): {', '.join(leaders)}.\n")
    missing = [s for s in ("apache", "zk-server") if not loads[s] and not fails[s]]
    if missing:
        out.append(f"No ensemble figures for {', '.join(missing)} in this run.\n")
    pairs = pair_points(loads["apache"], loads["zk-server"])
    if pairs:
        load_table(out, pairs, "ensemble CPU µs/op")
    else:
        for s, rows in loads.items():
            if rows:
                out.append(f"| op | sessions x in flight | {s} ops/s | p50/p99 µs | ensemble CPU µs/op |")
                out.append("|---|---|---|---|---|")
                for r in rows:
                    out.append(f"| {r['op']} | {r['sessions']} x {r['inflight']} | {fmt(r['ops_per_sec'])} | "
                               f"{fmt(r['p50_us'])} / {fmt(r['p99_us'])} | {fmt(r.get('server_cpu_us_per_op'))} |")
    if any(fails.values()):
        a, z = fails["apache"] or {}, fails["zk-server"] or {}
        rounds = max(a.get("rounds", 0), z.get("rounds", 0))
        writers = a.get("writers") or z.get("writers")
        out.append(f"\n| failover: SIGKILL the leader, {rounds} rounds, {writers} writing sessions | Apache | "
                   "zk-server | ratio |")
        out.append("|---|---|---|---|")

        def fline(name, field, unit=" ms", higher_better=False):
            av, zv = a.get(field), z.get(field)
            r = ratio(zv, av) if higher_better else ratio(av, zv)
            out.append(f"| {name} | {fmt(av, unit)} | {fmt(zv, unit)} | {r} |")

        fline("writes resume on every session (median round)", "recovery_max_ms_p50")
        fline("writes resume on every session (worst round)", "recovery_max_ms_worst")
        fline("writes resume, median session", "recovery_p50_ms")
        fline("a survivor reports Mode: leader (median)", "elected_ms_p50")
        fline("killed server restarted to back in the quorum (median)", "rejoin_ms_p50")
        fline("steady writes before the kill", "steady_ops_per_sec", " ops/s", higher_better=True)
        notes = [f"{s}: {r['failed_rounds']} of {r['rounds']} rounds had a session that did not write again "
                 "within 60 s" for s, r in fails.items() if r and r.get("failed_rounds")]
        notes += [f"{s}: {r['new_sessions']} sessions expired and were re-created"
                  for s, r in fails.items() if r and r.get("new_sessions")]
        if notes:
            out.append("\n" + "; ".join(notes) + ".")
        out.append(f"\nTimes run from the SIGKILL to the first successful setData sent after the process was gone; "
                   f"sessions (timeout {fmt(a.get('session_timeout_ms') or z.get('session_timeout_ms'))} ms) resume on "
                   "the next server as Apache's Java client would, retrying every 10 ms.")


def main(src, md_out, svg_out):
    rows = load(src)
    by = lambda kind, server=None: [r for r in rows if r["kind"] == kind and (server is None or r.get("server") == server)]
    one = lambda kind, server: (by(kind, server) or [None])[0]

    out = []
    out.append(f"Machine: {machine()}; client and servers share it. Both servers fsync every write "
               f"(Apache: forceSync=yes, its default; zk-server: group commit). Apache runs with -Xmx1g.\n")
    points = pair_points([r for r in by("load", "apache") if not is_ensemble(r)],
                         [r for r in by("load", "zk-server") if not is_ensemble(r)])
    if points:
        load_table(out, points, "server CPU µs/op")

    out.append("\n| measure | Apache | zk-server | ratio |")
    out.append("|---|---|---|---|")

    def line(name, kind, field, unit="", higher_better=False):
        a, z = one(kind, "apache"), one(kind, "zk-server")
        av, zv = (a or {}).get(field), (z or {}).get(field)
        r = ratio(zv, av) if higher_better else ratio(av, zv)
        out.append(f"| {name} | {fmt(av, unit)} | {fmt(zv, unit)} | {r} |")

    measures = [("launch to serving (empty data dir)", "startup", "ms", " ms"),
                ("idle RSS", "rss-idle", "rss_kib", " KiB"),
                ("RSS after populate", "rss-populated", "rss_kib", " KiB"),
                ("ping round trip p50", "rtt", "p50_us", " µs"),
                ("watch fan-out to 100 sessions p50", "fanout", "p50_us", " µs")]
    if any(by(kind) for _, kind, _, _ in measures):
        for m in measures:
            line(*m)
    else:
        del out[-2:]
    f = (by("fsync") or [None])[0]
    if f:
        out.append(f"\nFloors: one fdatasync of a small append p50 {fmt(f['p50_us'])} µs (p99 {fmt(f['p99_us'])} µs).")
    pop = one("populate", "zk-server")
    if pop:
        out.append(f"Populate: {fmt(pop['nodes'])} znodes of 100 bytes.")

    clients = by("client-load")
    if clients:
        out.append("\n| client library (against zk-server) | in flight | ops/s | p99 µs | client CPU µs/op |")
        out.append("|---|---|---|---|---|")
        for c in clients:
            out.append(f"| {c['client']} | {c['inflight']} | {fmt(c['ops_per_sec'])} | {fmt(c['p99_us'])} | "
                       f"{fmt(c.get('client_cpu_us_per_op'))} |")

    ensemble_section(out, by, one)

    with open(md_out, "w") as f:
        f.write("\n".join(out) + "\n")
    write_svg(points, svg_out)


def write_svg(points, path):
    """Throughput vs. concurrency (sessions x in flight) for set and get, both servers."""
    w, h, pad = 720, 420, 60
    series = {}
    for a, z in points:
        if a["op"] not in ("set", "get"):
            continue
        conc = a["sessions"] * a["inflight"]
        series.setdefault(("apache", a["op"]), []).append((conc, a["ops_per_sec"]))
        series.setdefault(("zk-server", a["op"]), []).append((conc, z["ops_per_sec"]))
    xs = sorted({c for s in series.values() for c, _ in s}) or [1]
    ymax = max([v for s in series.values() for _, v in s] or [1]) * 1.1
    xpos = {c: pad + i * (w - 2 * pad) / max(len(xs) - 1, 1) for i, c in enumerate(xs)}
    ypos = lambda v: h - pad - v / ymax * (h - 2 * pad)
    colors = {("apache", "set"): "#d62728", ("apache", "get"): "#ff9896",
              ("zk-server", "set"): "#1f77b4", ("zk-server", "get"): "#aec7e8"}
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w/2}" y="20" text-anchor="middle" font-size="14">Throughput vs. requests in flight (ops/s)</text>',
           f'<line x1="{pad}" y1="{h-pad}" x2="{w-pad}" y2="{h-pad}" stroke="black"/>',
           f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h-pad}" stroke="black"/>']
    for c in xs:
        svg.append(f'<text x="{xpos[c]}" y="{h-pad+18}" text-anchor="middle">{c}</text>')
    for i in range(6):
        v = ymax * i / 5
        svg.append(f'<text x="{pad-6}" y="{ypos(v)+4}" text-anchor="end">{v/1000:.0f}k</text>')
        svg.append(f'<line x1="{pad}" y1="{ypos(v)}" x2="{w-pad}" y2="{ypos(v)}" stroke="#eee"/>')
    svg.append(f'<text x="{w/2}" y="{h-15}" text-anchor="middle">sessions x requests in flight per session</text>')
    for n, (key, pts) in enumerate(sorted(series.items())):
        pts.sort()
        d = " ".join(f"{xpos[c]:.1f},{ypos(v):.1f}" for c, v in pts)
        svg.append(f'<polyline fill="none" stroke="{colors[key]}" stroke-width="2" points="{d}"/>')
        for c, v in pts:
            svg.append(f'<circle cx="{xpos[c]:.1f}" cy="{ypos(v):.1f}" r="3" fill="{colors[key]}"/>')
        svg.append(f'<rect x="{pad+10}" y="{pad+n*18-10}" width="12" height="12" fill="{colors[key]}"/>')
        svg.append(f'<text x="{pad+28}" y="{pad+n*18}">{key[0]} {key[1]}</text>')
    svg.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
