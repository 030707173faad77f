#!/usr/bin/env python3
"""The scaling curve of bench/run.sh's medians, as text: for each place and measurement, the
wall time at every N on a log scale, and how it grows (the exponent k of t ~ N^k between
the smallest and the largest N).

usage: python3 bench/plot.py [bench/results.csv] [--place tmpfs] [--cpu]
(--cpu: CPU time instead of wall time, for a machine that is not idle)
The last row for each (n, place, measurement) wins, so re-runs replace older figures.
"""
import csv
import math
import sys

WIDTH = 48
ORDER = ["cold", "noop", "service", "template", "check", "diff", "floor", "jinja2"]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    place_filter = None
    if "--place" in sys.argv:
        place_filter = sys.argv[sys.argv.index("--place") + 1]
        args = [a for a in args if a != place_filter]
    path = args[0] if args else "bench/results.csv"
    latest = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            value = row["cpu_s"] if "--cpu" in sys.argv else row["wall_s"]
            latest[(int(row["n"]), row["place"], row["measurement"])] = float(value)
    places = sorted({p for _, p, _ in latest if place_filter in (None, p)})
    for place in places:
        points = {(n, m): t for (n, p, m), t in latest.items() if p == place and t > 0}
        ns = sorted({n for n, _ in points})
        lo, hi = min(points.values()), max(points.values())
        span = math.log10(hi / lo) or 1
        what = "CPU time" if "--cpu" in sys.argv else "wall time"
        print(f"{what} on {place}, log scale from {lo * 1000:.1f} ms to {hi:.2f} s")
        for m in [m for m in ORDER if any((n, m) in points for n in ns)]:
            for n in ns:
                t = points.get((n, m))
                if t is None:
                    continue
                bar = "#" * max(1, round(WIDTH * math.log10(t / lo) / span))
                print(f"  {m:>8} N={n:<6} {bar:<{WIDTH}} {t * 1000:9.1f} ms")
            have = [n for n in ns if (n, m) in points]
            if len(have) >= 2:
                a, b = have[0], have[-1]
                k = math.log(points[(b, m)] / points[(a, m)]) / math.log(b / a)
                print(f"  {'':>8} t ~ N^{k:.2f} from N={a} to N={b}")
        print()


if __name__ == "__main__":
    main()
