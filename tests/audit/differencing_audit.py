#!/usr/bin/python3
"""The differencing audit of FPX's public statistics (issue 12, docs/PROTOCOL.md
"Statistics: disclosure control"), written apart from the broker's own C++
audit so that one cannot hide a mistake of the other.

It does what an observer with a spreadsheet and a linear-programming solver
would do: take EVERY statistics record the feed ever published (all periods,
all tables, all measures, whatever their method), model the unknown counts
at the finest level they could be combined from (each slice of time between
any two published period boundaries x each pair of states x each measure),
write every published cell as a linear equation over those unknowns, add
every relation that holds between measures, and then, for every suppressed
cell, minimise and maximise it (scipy's HiGHS). A suppressed cell is
disclosed when its feasible interval reaches below the threshold yet is
narrower than the protection range: the reader can then tell a small count,
or narrow where it lies. (A complementary cell worked down to, say, [4, 5]
with a threshold of 3 discloses no small count.)

Year tables (period "year") are cells like any other, over the slices of their year: the audit covers
them linked to their periods, and first checks that everything published fits together (exit 1,
INCONSISTENT, when no counts can).

Usage: differencing_audit.py FEED.json [--protection N]
FEED.json is a JSON array of statistics records (the signed record objects
as the feed carries them). Exit status 0: nothing disclosed; 1: at least one
cell disclosed (each printed); 2: unusable input.
"""

import argparse
import json
import math
import os
import sys
from datetime import datetime, timezone

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import lil_matrix

# The closed lists of schemas/messages.capnp, as the lifecycle names them.
OUTCOMES = ["point_of_diversion_established", "last_legal_holder_identified", "partial_chain", "no_record",
            "not_made_or_imported_here", "records_too_old", "insufficient_identifiers", "restricted", "refused",
            "rejected_as_malformed"]
GROUNDS = ["ongoing_investigation", "confidentiality_law", "national_security"]
BASE_MEASURES = ["requests", "acknowledged", "acknowledgedWithinClock", "answered", "answeredWithinClock",
                 "answeredWithin30Days", "originEstablished"]
# The indicator's numerator (docs/PROTOCOL.md "The indicator"): the sum of these outcomes.
ESTABLISHING = ["point_of_diversion_established", "last_legal_holder_identified"]
MEASURES = BASE_MEASURES + ["outcome." + o for o in OUTCOMES] + ["refusalGround." + g for g in GROUNDS]
# Float slack of the solver before rounding bounds to the integers they stand for.
SLACK = 1e-6


def instant(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def cells_of(record):
    """Yields (description, requester set or None, requested set or None, measure, count or None) for every
    published cell of a record. None as a set: every state."""
    if record.get("method") == "cell-suppression/v1":
        regions = record.get("regions", {})
        for row in record.get("pairs", []):
            for measure, count in row["counts"].items():
                yield (f"{row['requester']}->{row['requested']} {measure}", {row["requester"]},
                       {row["requested"]}, measure, count)
        for row in record.get("byRequester", []):
            for measure, count in row["counts"].items():
                yield f"from {row['requester']} {measure}", {row["requester"]}, None, measure, count
        for row in record.get("byRequested", []):
            for measure, count in row["counts"].items():
                yield f"to {row['requested']} {measure}", None, {row["requested"]}, measure, count
        for row in record.get("byRegion", []):
            for measure, count in row["counts"].items():
                yield (f"region {row['region']} {measure}", None, set(regions[row["region"]]), measure, count)
        for measure, count in record["total"]["counts"].items():
            yield f"total {measure}", None, None, measure, count
        return
    # The scheme before issue 12: one entry per pair, "suppressed" hiding all of it.
    for pair in record.get("pairs", []):
        name = f"{pair['requester']}->{pair['requested']}"
        who = ({pair["requester"]}, {pair["requested"]})
        if pair.get("suppressed"):
            yield f"{name} requests", *who, "requests", None
            continue
        for measure in ["requests", "acknowledged", "acknowledgedWithinClock", "answered"]:
            if measure in pair:
                yield f"{name} {measure}", *who, measure, pair[measure]
        for outcome, count in pair.get("outcomes", {}).items():
            yield f"{name} outcome.{outcome}", *who, "outcome." + outcome, count
        for ground, count in pair.get("refusalGrounds", {}).items():
            yield f"{name} refusalGround.{ground}", *who, "refusalGround." + ground, count


def states_of(record):
    if "states" in record:
        return set(record["states"])
    found = set()
    for pair in record.get("pairs", []):
        found.update([pair["requester"], pair["requested"]])
    return found


def is_year(record):
    """A year's tables (docs/PROTOCOL.md "Year tables"): the sums of the grid's periods of one year."""
    return record.get("period") == "year"


class Inconsistent(Exception):
    pass


def audit(records, protection_override=None):
    periods = [(instant(r["periodStart"]), instant(r["periodEnd"])) for r in records]
    bounds = sorted({t for period in periods for t in period})
    slices = list(zip(bounds, bounds[1:]))
    states = sorted(set().union(*[states_of(r) for r in records])) if records else []
    pairs = [(a, b) for a in states for b in states if a != b]
    index = {}
    for s in range(len(slices)):
        for pair in pairs:
            for measure in MEASURES:
                index[(s, pair, measure)] = len(index)
    n = len(index)

    def slices_in(period):
        return [s for s, (start, end) in enumerate(slices) if start >= period[0] and end <= period[1]]

    eq_rows, eq_rhs, ub_rows, ub_rhs = [], [], [], []
    # Between measures, for every slice and pair (they then hold for every sum of them too).
    for s in range(len(slices)):
        for pair in pairs:
            v = lambda m: index[(s, pair, m)]
            for part, whole in [("acknowledged", "requests"), ("acknowledgedWithinClock", "acknowledged"),
                                ("answered", "requests"), ("answered", "acknowledged"),
                                ("answeredWithinClock", "answered"),
                                ("answeredWithin30Days", "answered")]:
                ub_rows.append({v(part): 1, v(whole): -1}); ub_rhs.append(0)
            row = {v("answered"): -1}
            for o in OUTCOMES:
                row[v("outcome." + o)] = 1
            eq_rows.append(row); eq_rhs.append(0)
            row = {v("originEstablished"): -1}
            for o in ESTABLISHING:
                row[v("outcome." + o)] = 1
            eq_rows.append(row); eq_rhs.append(0)
            refusing = {v("outcome.refused"): 1, v("outcome.restricted"): 1}
            at_least = dict(refusing)
            at_most = {k: -3 for k in refusing}
            for g in GROUNDS:
                at_least[v("refusalGround." + g)] = -1
                at_most[v("refusalGround." + g)] = 1
                ub_rows.append({v("refusalGround." + g): 1, **{k: -1 for k in refusing}}); ub_rhs.append(0)
            ub_rows.append(at_least); ub_rhs.append(0)
            ub_rows.append(at_most); ub_rhs.append(0)

    # What silence says: a slice no period of the grid covers, between the first and the last published period,
    # had no tracing (the broker publishes every period that had one; a year's tables, which sum its periods,
    # do not make a period without a record any less empty); a state or pair missing from a record had none in
    # its period.
    covered = set()
    for record, period in zip(records, periods):
        present = states_of(record)
        listed_pairs = None if "states" in record else {(p["requester"], p["requested"]) for p in record["pairs"]}
        for s in slices_in(period):
            if not is_year(record):
                covered.add(s)
            for pair in pairs:
                absent = pair[0] not in present or pair[1] not in present
                if listed_pairs is not None:
                    absent = pair not in listed_pairs
                if absent:
                    for measure in MEASURES:
                        eq_rows.append({index[(s, pair, measure)]: 1}); eq_rhs.append(0)
    for s in range(len(slices)):
        if s not in covered:
            for pair in pairs:
                for measure in MEASURES:
                    eq_rows.append({index[(s, pair, measure)]: 1}); eq_rhs.append(0)

    # Every published cell: an equation when shown, a target when suppressed.
    targets = []
    protection = {}
    threshold = {}
    for number, (record, period) in enumerate(zip(records, periods)):
        p = protection_override or record.get("protectionRange") or record.get("threshold") or 3
        for name, from_set, to_set, measure, count in cells_of(record):
            if measure not in MEASURES:
                raise ValueError(f"unknown measure {measure}")
            row = {}
            for s in slices_in(period):
                for pair in pairs:
                    if (from_set is None or pair[0] in from_set) and (to_set is None or pair[1] in to_set):
                        row[index[(s, pair, measure)]] = 1
            label = f"{record.get('period')} {record['periodStart']}: {name}"
            if count is None:
                targets.append((label, row))
                protection[label] = p
                threshold[label] = record.get("threshold") or 3
            else:
                eq_rows.append(row); eq_rhs.append(count)

    def matrix(rows):
        m = lil_matrix((len(rows), n))
        for r, row in enumerate(rows):
            for c, coefficient in row.items():
                m[r, c] += coefficient
        return m.tocsr()

    a_eq, a_ub = matrix(eq_rows), matrix(ub_rows)
    b_eq, b_ub = np.array(eq_rhs, dtype=float), np.array(ub_rhs, dtype=float)
    # The shown cells must fit together at all: a year's shown cells are the sums of its periods' (shown or
    # not), every record's sums hold. A feed where they do not has counted something twice or lost it.
    feasible = linprog(np.zeros(n), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if feasible.status == 2:
        raise Inconsistent("no counts fit every published cell and relation at once (a year that is not the sum "
                           "of its periods, or a record that breaks its own sums)")
    disclosed = []
    for label, row in targets:
        c = np.zeros(n)
        for k, coefficient in row.items():
            c[k] = coefficient
        ends = []
        for sign in (1, -1):
            result = linprog(sign * c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
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


# The summary in the reader's language (FPX_LANG=fr|en, as deploy/demo.sh
# sets it); the DISCLOSED/INCONSISTENT markers stay as they are for scripts.
ENGLISH = {
    "audited": "{records} statistics record(s) ({years} of them year tables), {suppressed} suppressed cell(s) audited",
    "disclosed": "DISCLOSED: {label} lies in [{low}, {high}], below the threshold and narrower than the protection "
                 "range {p}",
    "narrowed": "{count} suppressed cell(s) can be worked out from what was published",
    "safe": "no suppressed cell that may be small can be narrowed below the protection range",
}
FRENCH = {
    "audited": "{records} enregistrement(s) statistique(s) (dont {years} tableau(x) annuel(s)), "
               "{suppressed} cellule(s) masquée(s) auditée(s)",
    "disclosed": "DISCLOSED : {label} se situe dans [{low}, {high}], sous le seuil et dans un intervalle plus étroit "
                 "que la marge de protection {p}",
    "narrowed": "{count} cellule(s) masquée(s) peuvent être déduites de ce qui a été publié",
    "safe": "aucune cellule masquée pouvant être petite ne peut être resserrée sous la marge de protection",
}


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
        print(f"differencing_audit: cannot read {args.feed}: {error}", file=sys.stderr)
        return 2
    except Inconsistent as error:
        print(f"INCONSISTENT: {error}")
        return 1
    years = sum(1 for r in records if is_year(r))
    say = FRENCH if os.environ.get("FPX_LANG", "en").lower().startswith("fr") else ENGLISH
    print(say["audited"].format(records=len(records), years=years, suppressed=suppressed))
    for label, low, high, p in disclosed:
        print(say["disclosed"].format(label=label, low=low, high=high, p=p))
    if disclosed:
        print(say["narrowed"].format(count=len(disclosed)))
        return 1
    print(say["safe"])
    return 0

if __name__ == "__main__":
    sys.exit(main())
