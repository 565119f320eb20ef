#!/usr/bin/python3
"""Checks, for the demo, that `fpx report --csv DIR` shows real figures: in
every period of the demo's traffic (deploy/demo_traffic.py), each requested
state's requests and answers are published (not suppressed), the figures
change from period to period (a trend), and the year the traffic fills has
its tables too. Prints them as a table.

Usage: demo_figures.py CSV_DIR TRAFFIC.json
Exit 0 when they do; 1, naming what is missing, when they do not.
"""

import csv
import json
import os
import sys

STATES = ["BF", "NE", "SN"]
# Issue 17: the header and notes in the demo's language (FPX_LANG=fr|en); the
# CSV's column names and the problems for the developer stay as they are.
LANG_FR = os.environ.get("FPX_LANG", "en").lower().startswith("fr")
HEADINGS = {
    "period start": "début de période" if LANG_FR else "period start",
    "columns": "demandes/accusés/réponses" if LANG_FR else "requests/ack/answered",
    "no row": "(aucune ligne)" if LANG_FR else "(no row)",
    "suppressed": "masquée" if LANG_FR else "suppressed",
    "year": "année" if LANG_FR else "year",
    "origin": "% origine établie" if LANG_FR else "% origin established",
}
MEASURES = ["requests", "acknowledged", "answered"]


def main():
    csv_dir, traffic_file = sys.argv[1], sys.argv[2]
    with open(traffic_file) as source:
        periods = json.load(source)["periodStarts"]
    with open(os.path.join(csv_dir, "by_requested.csv"), newline="") as source:
        rows = list(csv.DictReader(source))
    # The grid's periods by start; the year's row (period "year") apart.
    shown = {(row["periodStart"], row["requested"]): row for row in rows if row["period"] != "year"}
    years = {(row["periodStart"], row["requested"]): row for row in rows if row["period"] == "year"}
    problems = []
    print(f"{HEADINGS['period start']:23}" + "  ".join(f"{state}: {HEADINGS['columns']}" for state in STATES))
    answered_series = []
    for period in periods:
        cells = []
        for state in STATES:
            row = shown.get((period, state))
            if row is None:
                problems.append(f"no row for {state} in the period from {period}")
                cells.append(f"   {HEADINGS['no row']:23}")
                continue
            values = [row[measure] for measure in MEASURES]
            for measure, value in zip(MEASURES, values):
                if value == "":
                    problems.append(f"{state}'s {measure} in the period from {period} is suppressed")
            answered_series.append((state, row["answered"]))
            cells.append(f"    {'/'.join(value or HEADINGS['suppressed'] for value in values):22}")
        print(f"{period}  " + "".join(cells))
    # The year the rounds fill: its tables sum the four periods.
    cells = []
    for state in STATES:
        row = years.get((periods[0], state)) if periods else None
        if row is None:
            problems.append(f"no year row for {state} from {periods[0] if periods else '?'}")
            continue
        values = [row[measure] for measure in MEASURES]
        if row["requests"] == "":
            problems.append(f"{state}'s requests in the year are suppressed")
        established = row.get("originEstablished", "")
        share = (f" ({int(established) * 100 // int(row['requests'])} {HEADINGS['origin']})"
                 if established and row["requests"] else "")
        cells.append(f"    {'/'.join(value or HEADINGS['suppressed'] for value in values) + share:22}")
    print(f"{HEADINGS['year']:20}  " + "".join(cells))
    distinct = {value for _, value in answered_series if value != ""}
    if len(periods) < 3:
        problems.append(f"only {len(periods)} traffic period(s): a trend needs three or more")
    elif len(distinct) < 2:
        problems.append("the answered counts are the same in every period: no trend to show")
    for problem in problems:
        print("missing:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
