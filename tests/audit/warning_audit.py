#!/usr/bin/python3
"""The differencing audit of the early-warning counts (issue 12 item 5,
docs/PROTOCOL.md section 11 "Early warnings"), apart from the broker's own
C++ audit, as tests/audit/differencing_audit.py is for the tracing tables.

What an observer with a linear-programming solver would do with every
statistics record the feed published: model the unknown counts per slice of
time between any two published period boundaries x warned state x measure
(warnings, acknowledgedWithinClock), write every shown cell of every
"earlyWarnings" table as an equation, add acknowledgedWithinClock <= warnings,
say that a state missing from a period's table (or a period without the table)
had no warning, then minimise and maximise every suppressed cell (scipy's
HiGHS). A suppressed cell is disclosed when its feasible interval reaches
below the threshold yet is narrower than the protection range.

Usage: warning_audit.py FEED.json [--protection N]
FEED.json: a JSON array of statistics records. Exit status 0: nothing
disclosed; 1: at least one cell disclosed (each printed); 2: unusable input.
"""

import argparse
import json
import math
import sys
from datetime import datetime, timezone

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import lil_matrix

MEASURES = ["warnings", "acknowledgedWithinClock"]
# Float slack of the solver before rounding bounds to the integers they stand for.
SLACK = 1e-6


def instant(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def cells_of(record):
    """Yields (description, state or None for the total, measure, count or None) for every cell."""
    table = record.get("earlyWarnings")
    if table is None:
        return
    for row in table["byState"]:
        for measure in MEASURES:
            yield f"{row['state']} {measure}", row["state"], measure, row["counts"][measure]
    for measure in MEASURES:
        yield f"total {measure}", None, measure, table["total"]["counts"][measure]


def audit(records, protection_override=None):
    periods = [(instant(r["periodStart"]), instant(r["periodEnd"])) for r in records]
    bounds = sorted({t for period in periods for t in period})
    slices = list(zip(bounds, bounds[1:]))
    states = sorted({row["state"] for r in records for row in r.get("earlyWarnings", {}).get("byState", [])})
    index = {}
    for s in range(len(slices)):
        for state in states:
            for measure in MEASURES:
                index[(s, state, measure)] = len(index)
    n = len(index)

    def slices_in(period):
        return [s for s, (start, end) in enumerate(slices) if start >= period[0] and end <= period[1]]

    eq_rows, eq_rhs, ub_rows, ub_rhs = [], [], [], []
    for s in range(len(slices)):
        for state in states:
            ub_rows.append({index[(s, state, "acknowledgedWithinClock")]: 1, index[(s, state, "warnings")]: -1})
            ub_rhs.append(0)
    # What silence says: a state missing from a published period's table had no warning in it.
    for record, period in zip(records, periods):
        present = {row["state"] for row in record.get("earlyWarnings", {}).get("byState", [])}
        for s in slices_in(period):
            for state in states:
                if state not in present:
                    for measure in MEASURES:
                        eq_rows.append({index[(s, state, measure)]: 1}); eq_rhs.append(0)

    targets, protection, threshold = [], {}, {}
    for record, period in zip(records, periods):
        p = protection_override or record.get("protectionRange") or record.get("threshold") or 3
        for name, state, measure, count in cells_of(record):
            row = {index[(s, st, measure)]: 1 for s in slices_in(period) for st in states
                   if state is None or st == state}
            label = f"{record.get('period')} {record['periodStart']}: early warnings {name}"
            if count is None:
                targets.append((label, row))
                protection[label] = p
                threshold[label] = record.get("threshold") or 3
            else:
                eq_rows.append(row); eq_rhs.append(count)

    def matrix(rows):
        m = lil_matrix((len(rows), max(n, 1)))
        for r, row in enumerate(rows):
            for c, coefficient in row.items():
                m[r, c] += coefficient
        return m.tocsr()

    disclosed = []
    if not targets:
        return 0, disclosed
    a_eq, a_ub = matrix(eq_rows), matrix(ub_rows)
    b_eq, b_ub = np.array(eq_rhs, dtype=float), np.array(ub_rhs, dtype=float)
    for label, row in targets:
        c = np.zeros(n)
        for k, coefficient in row.items():
            c[k] = coefficient
        ends = []
        for sign in (1, -1):
            result = linprog(sign * c, A_ub=a_ub if ub_rows else None, b_ub=b_ub if ub_rows else None,
                             A_eq=a_eq if eq_rows else None, b_eq=b_eq if eq_rows else None, bounds=(0, None),
                             method="highs")
            if result.status == 3:
                ends.append(math.inf)
            elif result.status == 0:
                ends.append(sign * result.fun)
            else:
                raise RuntimeError(f"the linear program for {label} failed: {result.message}")
        low = max(0, math.ceil(ends[0] - SLACK))
        high = ends[1] if math.isinf(ends[1]) else math.floor(ends[1] + SLACK)
        if low < threshold[label] and high - low < protection[label]:
            disclosed.append((label, low, high, protection[label]))
    return len(targets), disclosed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("feed", help="JSON array of statistics records")
    parser.add_argument("--protection", type=int, help="protection range (default: each record's own)")
    args = parser.parse_args()
    try:
        with open(args.feed, encoding="utf-8") as f:
            records = [r for r in json.load(f) if r.get("kind", "statistics") == "statistics"]
        suppressed, disclosed = audit(records, args.protection)
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"warning_audit: cannot read {args.feed}: {error}", file=sys.stderr)
        return 2
    print(f"{len(records)} statistics record(s), {suppressed} suppressed early-warning cell(s) audited")
    for label, low, high, p in disclosed:
        print(f"DISCLOSED: {label} lies in [{low}, {high}], below the threshold and narrower than the protection "
              f"range {p}")
    if disclosed:
        print(f"{len(disclosed)} suppressed cell(s) can be worked out from what was published")
        return 1
    print("no suppressed early-warning cell that may be small can be narrowed below the protection range")
    return 0


if __name__ == "__main__":
    sys.exit(main())
