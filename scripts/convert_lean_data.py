#!/usr/bin/env python3
"""Converts the LEAN sample equity data into the engine's embedded bar format.

Run from the repository root with the shared data beside the checkout:
    python3 scripts/convert_lean_data.py ../shared/data/lean activities/data/bars

LEAN minute files stamp bars in exchange time (America/New_York) as milliseconds since midnight;
all minute dates in the sample fall in US daylight time (UTC-4), which the script checks. Prices
are integers in 1/10000 dollar and are converted with integer arithmetic, so no float rounding
enters the committed data.
"""
import csv
import datetime as dt
import io
import os
import sys
import zipfile

EDT = dt.timezone(dt.timedelta(hours=-4))
DAILY_FROM, DAILY_TO = "20120101", "20141231"


def price(raw: str) -> str:
    """1/10000-dollar integer -> decimal string, exactly."""
    n = int(raw)
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10000)
    frac_s = f"{frac:04d}".rstrip("0")
    return f"{sign}{whole}.{frac_s}" if frac_s else f"{sign}{whole}"


def in_dst(day: dt.date) -> bool:
    # US DST: second Sunday of March to first Sunday of November.
    def nth_sunday(year, month, n):
        d = dt.date(year, month, 1)
        d += dt.timedelta(days=(6 - d.weekday()) % 7)
        return d + dt.timedelta(weeks=n - 1)
    return nth_sunday(day.year, 3, 2) <= day < nth_sunday(day.year, 11, 1)


def read_zip_csv(path):
    with zipfile.ZipFile(path) as z:
        name = z.namelist()[0]
        return list(csv.reader(io.TextIOWrapper(z.open(name), encoding="ascii")))


def convert_minute(src, dst):
    os.makedirs(os.path.join(dst, "minute"), exist_ok=True)
    base = os.path.join(src, "equity", "usa", "minute")
    for sym in sorted(os.listdir(base)):
        rows = []
        for fname in sorted(os.listdir(os.path.join(base, sym))):
            if not fname.endswith("_trade.zip"):
                continue
            day_s = fname[:8]
            day = dt.datetime.strptime(day_s, "%Y%m%d").date()
            if not in_dst(day):
                sys.exit(f"{fname}: not in US daylight time; extend the converter")
            quotes = {}
            qpath = os.path.join(base, sym, f"{day_s}_quote.zip")
            if os.path.exists(qpath):
                for q in read_zip_csv(qpath):
                    quotes[q[0]] = (price(q[4]), price(q[9]))
            for t in read_zip_csv(os.path.join(base, sym, fname)):
                local = dt.datetime.combine(day, dt.time(), EDT) + dt.timedelta(milliseconds=int(t[0]))
                ts = local.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                bid, ask = quotes.get(t[0], ("", ""))
                rows.append([ts, price(t[1]), price(t[2]), price(t[3]), price(t[4]), t[5], bid, ask])
        rows.sort(key=lambda r: r[0])
        with open(os.path.join(dst, "minute", f"{sym.upper()}.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["ts_utc", "open", "high", "low", "close", "volume", "bid_close", "ask_close"])
            w.writerows(rows)


def convert_daily(src, dst):
    os.makedirs(os.path.join(dst, "daily"), exist_ok=True)
    base = os.path.join(src, "equity", "usa", "daily")
    for fname in sorted(os.listdir(base)):
        sym = fname[:-4].upper()
        out = []
        for r in read_zip_csv(os.path.join(base, fname)):
            day = r[0][:8]
            if DAILY_FROM <= day <= DAILY_TO:
                out.append([f"{day[:4]}-{day[4:6]}-{day[6:]}", price(r[1]), price(r[2]), price(r[3]), price(r[4]), r[5]])
        with open(os.path.join(dst, "daily", f"{sym}.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["date", "open", "high", "low", "close", "volume"])
            w.writerows(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    convert_minute(sys.argv[1], sys.argv[2])
    convert_daily(sys.argv[1], sys.argv[2])
