#!/usr/bin/env python3
"""Convert the LEAN sample equity data into the engine's embedded bar format.

Usage (paths default to the layout of this checkout beside ../shared):
    python3 scripts/convert_lean_data.py [SRC_LEAN_DIR] [DST_BARS_DIR]
    # defaults: ../shared/data/lean  activities/data/bars  (relative to the repository root)

Writes DST/minute/<SYMBOL>.csv, DST/daily/<SYMBOL>.csv and copies the Apache-2.0 licence beside
them. Output is deterministic, so rerunning on the same input leaves `git diff` empty.

Why the details matter:
- LEAN stamps minute bars in exchange time (America/New_York) as milliseconds since midnight.
  The engine's as-of clock is UTC, so each bar start is converted with the US daylight-saving
  rule in force since 2007 (second Sunday of March to first Sunday of November); an older date
  stops the script rather than being converted with the wrong offset.
- Prices are integers in 1/10000 dollar; they are formatted with integer arithmetic so no float
  rounding artefact (167.40999...) can reach the committed data.
- Daily bars are cut to 2012..2014 to keep the repository small; the minute data lies inside it.
"""
import csv
import datetime as dt
import io
import os
import shutil
import sys
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SRC = os.path.join(REPO, "..", "shared", "data", "lean")
DEFAULT_DST = os.path.join(REPO, "activities", "data", "bars")
LICENSE = "LICENSE-lean-apache-2.0.txt"
DAILY_FROM, DAILY_TO = "20120101", "20141231"
MINUTE_HEADER = ["ts_utc", "open", "high", "low", "close", "volume", "bid_close", "ask_close"]
DAILY_HEADER = ["date", "open", "high", "low", "close", "volume"]
MS_PER_MINUTE = 60_000
MS_PER_DAY = 86_400_000


def price(raw: str) -> str:
    """1/10000-dollar integer -> decimal dollars, exact (at most 4 decimals, no trailing zeros)."""
    n = int(raw)
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10000)
    frac_s = f"{frac:04d}".rstrip("0")
    return f"{sign}{whole}.{frac_s}" if frac_s else f"{sign}{whole}"


def opt_price(raw: str) -> str:
    """An empty or zero quote means no quote on that side, not a free or worthless share."""
    raw = raw.strip()
    return "" if raw in ("", "0") else price(raw)


def nth_sunday(year: int, month: int, n: int) -> dt.date:
    d = dt.date(year, month, 1)
    d += dt.timedelta(days=(6 - d.weekday()) % 7)
    return d + dt.timedelta(weeks=n - 1)


def new_york_offset(day: dt.date) -> dt.timedelta:
    """UTC offset of New York for bars on `day`.

    The switch happens at 02:00 local, before the 04:00 pre-market start, so the date alone
    decides (bars earlier than 03:00 on a switch day are rejected in `convert_minute`).
    """
    if day.year < 2007:
        sys.exit(f"{day}: US DST rules before 2007 are not implemented; extend the converter")
    dst = nth_sunday(day.year, 3, 2) <= day < nth_sunday(day.year, 11, 1)
    return dt.timedelta(hours=-4 if dst else -5)


def is_switch_day(day: dt.date) -> bool:
    return day in (nth_sunday(day.year, 3, 2), nth_sunday(day.year, 11, 1))


def read_zip_csv(path: str) -> list:
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        if len(names) != 1:
            sys.exit(f"{path}: expected one CSV inside, found {names}")
        with z.open(names[0]) as f:
            return [r for r in csv.reader(io.TextIOWrapper(f, encoding="ascii")) if r]


def write_csv(path: str, header: list, rows: list) -> None:
    with open(path, "w", newline="", encoding="ascii") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def convert_minute(src: str, dst: str) -> None:
    out_dir = os.path.join(dst, "minute")
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(src, "equity", "usa", "minute")
    for sym in sorted(os.listdir(base)):
        rows = []
        for fname in sorted(os.listdir(os.path.join(base, sym))):
            if not fname.endswith("_trade.zip"):
                continue
            day_s = fname[:8]
            day = dt.datetime.strptime(day_s, "%Y%m%d").date()
            midnight_utc = dt.datetime.combine(day, dt.time()) - new_york_offset(day)
            quotes = {}
            qpath = os.path.join(base, sym, f"{day_s}_quote.zip")
            if os.path.exists(qpath):
                for q in read_zip_csv(qpath):
                    # bid_close is column 4, ask_close column 9.
                    quotes[int(q[0])] = (opt_price(q[4]), opt_price(q[9]))
            for t in read_zip_csv(os.path.join(base, sym, fname)):
                ms = int(t[0])
                if ms % MS_PER_MINUTE or not 0 <= ms < MS_PER_DAY:
                    sys.exit(f"{fname}: {ms} ms is not a minute boundary within the day")
                if is_switch_day(day) and ms < 3 * 3_600_000:
                    sys.exit(f"{fname}: bar before 03:00 on a DST switch day; extend the converter")
                ts = midnight_utc + dt.timedelta(milliseconds=ms)
                bid, ask = quotes.get(ms, ("", ""))
                rows.append(
                    [ts.strftime("%Y-%m-%dT%H:%M:%SZ")]
                    + [price(x) for x in t[1:5]]
                    + [str(int(t[5])), bid, ask]
                )
        rows.sort(key=lambda r: r[0])
        for a, b in zip(rows, rows[1:]):
            if a[0] == b[0]:
                sys.exit(f"{sym}: duplicate minute {a[0]}")
        write_csv(os.path.join(out_dir, f"{sym.upper()}.csv"), MINUTE_HEADER, rows)
        print(f"minute/{sym.upper()}.csv: {len(rows)} bars", file=sys.stderr)


def convert_daily(src: str, dst: str) -> None:
    out_dir = os.path.join(dst, "daily")
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(src, "equity", "usa", "daily")
    for fname in sorted(os.listdir(base)):
        if not fname.endswith(".zip"):
            continue
        sym = fname[:-4].upper()
        rows = []
        for r in read_zip_csv(os.path.join(base, fname)):
            day = r[0][:8]  # "yyyyMMdd HH:mm"
            if DAILY_FROM <= day <= DAILY_TO:
                date = f"{day[:4]}-{day[4:6]}-{day[6:]}"
                rows.append([date] + [price(x) for x in r[1:5]] + [str(int(r[5]))])
        rows.sort(key=lambda r: r[0])
        write_csv(os.path.join(out_dir, f"{sym}.csv"), DAILY_HEADER, rows)
        print(f"daily/{sym}.csv: {len(rows)} bars", file=sys.stderr)


def main(argv: list) -> None:
    if len(argv) > 3 or any(a in ("-h", "--help") for a in argv[1:]):
        sys.exit(__doc__)
    src = argv[1] if len(argv) > 1 else DEFAULT_SRC
    dst = argv[2] if len(argv) > 2 else DEFAULT_DST
    if not os.path.isdir(os.path.join(src, "equity", "usa")):
        sys.exit(f"{src}: not a LEAN data directory (no equity/usa)\n{__doc__}")
    os.makedirs(dst, exist_ok=True)
    convert_minute(src, dst)
    convert_daily(src, dst)
    lic_dst = os.path.join(dst, LICENSE)
    if os.path.exists(lic_dst):
        os.chmod(lic_dst, 0o644)  # a previous copy may be read-only
    shutil.copyfile(os.path.join(src, LICENSE), lic_dst)


if __name__ == "__main__":
    main(sys.argv)
