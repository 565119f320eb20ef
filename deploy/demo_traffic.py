#!/usr/bin/python3
"""The demo's tracing traffic (issue 12): enough requests, acknowledgements
and answers, sent with the real `fpx` command line, that the observer's
report shows real, unsuppressed figures per state and a trend.

Every round is one statistics period of the demo's grid: the round waits for
a period to begin, then each of Senegal's, Niger's and Burkina Faso's
agencies sends three tracing requests to both other states' focal points
(and one agency a fourth to one state), so every pair of states counts three
or four tracings in the period, every state six or more. Each requested
state's focal point acknowledges and answers its requests of the round with
one outcome of the round's plan (below), so each outcome cell is three or
more, or zero; in the last round Burkina Faso acknowledges but does not
answer yet, so the trend shows requests still open. The recovery
circumstance of the requests (seized, found, surrendered) varies too.

Each participant's commands run one after another (a certificate has one
session at a time: two at once would take each other's session over); the
senders and the three focal points run side by side.

Usage: demo_traffic.py --fpx BIN --profiles DIR --template REQUEST.json
                       --period-seconds N --publish-after-seconds N [--rounds N]
                       [--align-seconds N] [--out FILE]
Exit 0 only if every request got its receipt and every planned
acknowledgement and answer was accepted by the broker. --out receives one
JSON object: the rounds' period starts (ISO 8601) and the counts sent.
"""

import argparse
import copy
import datetime
import json
import os
import queue
import subprocess
import sys
import threading
import time

# Issue 17: the language deploy/demo.sh narrates in (FPX_LANG=fr|en), passed
# to every fpx command as --lang; this script's own lines are below.
LANG = "fr" if os.environ.get("FPX_LANG", "en").lower().startswith("fr") else "en"
FRENCH = {
    "round {round}: {count} tracing requests sent in the period from {start}":
        "tour {round} : {count} demandes de traçage envoyées dans la période commençant le {start}",
    "{sent} requests ({tracings} tracings) sent; acknowledged and answered by {by}":
        "{sent} demandes ({tracings} traçages) envoyées ; accusé de réception et réponse par {by}",
    "demo traffic failed: {failure}": "échec du trafic de la démo : {failure}",
}


def say(text, **values):
    """`text` in the demo's language, with its {names} filled in."""
    return (FRENCH.get(text, text) if LANG == "fr" else text).format(**values)


# Who sends for each state, and who answers for it.
SENDERS = {"SN": "sn.police-judiciaire", "NE": "ne.police-nationale", "BF": "bf.gendarmerie"}
FOCAL_POINTS = {"SN": "sn.focal-point", "NE": "ne.focal-point", "BF": "bf.focal-point"}
STATES = ["SN", "NE", "BF"]
# Requests each agency sends to both other states in a round: three, the
# demo's suppression threshold, so that a pair's count shows.
REQUESTS_PER_SENDER = 3
# Each requested state's answer in each round (None: acknowledged, not yet answered).
OUTCOMES = {
    "NE": ["partial-chain", "last-legal-holder-identified", "point-of-diversion-established", "partial-chain"],
    "BF": ["refused", "no-record", "partial-chain", None],
    "SN": ["point-of-diversion-established", "records-too-old", "no-record", "last-legal-holder-identified"],
}
CIRCUMSTANCES = ["seized", "found", "surrendered"]
CHAIN_OUTCOMES = {"partial-chain", "last-legal-holder-identified", "point-of-diversion-established"}
# A round must have sent its requests this long before its period ends, or
# it would spill into the next period and split its cells under the threshold.
SUBMIT_MARGIN_S = 0.5
# How long a focal point polls its inbox for one request before giving up.
INBOX_TIMEOUT_S = 60


class Failure(Exception):
    pass


def run_fpx(args, profiles, participant, *command):
    argv = [args.fpx, "--lang", LANG, "--profile", os.path.join(profiles, participant), *command]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise Failure(f"{participant}: `fpx {' '.join(command)}` failed ({done.returncode}): "
                      f"{done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def request_json(template, sender_state, recipients, round_index, number):
    """A tracing request of `sender_state`'s agency to `recipients`: its own case reference and serial
    number (so the duplicate check does not hold it back), its recovery circumstance by turn."""
    message = copy.deepcopy(template)
    reference = f"{sender_state}-DEMO-{round_index + 1}-{number:02d}"
    message["header"]["recipients"] = [{"country": state} for state in recipients]
    message["header"]["caseReference"] = reference
    message["header"]["otherChannelReferences"] = []
    body = message["body"]["tracingRequest"]
    body["requestingCountry"] = sender_state
    body["requestingAgency"] = SENDERS[sender_state]
    body["nationalCaseReference"] = reference
    body["requestedStates"] = [{"country": state, "role": "countryOfLastImport"} for state in recipients]
    firearm = body["firearms"][0]
    firearm["serialNumber"] = f"DEMO-{sender_state}-{round_index + 1}{number:02d}"
    firearm.pop("importMarking", None)
    body["recovery"]["circumstance"] = CIRCUMSTANCES[(round_index + number) % len(CIRCUMSTANCES)]
    return message


def plan_round(round_index):
    """(sender state, recipients) of every request of a round."""
    plan = []
    for sender in STATES:
        others = [state for state in STATES if state != sender]
        plan += [(sender, others)] * REQUESTS_PER_SENDER
    # One more, to one state, from a different agency each round: pairs of 3 and 4.
    sender = STATES[round_index % len(STATES)]
    plan.append((sender, [STATES[(round_index + 1) % len(STATES)]]))
    return plan


def send_requests(args, workdir, template, round_index, requests, answers, errors):
    """One agency's requests of a round, one after another; each id goes to its recipients' queues."""
    try:
        for number, (sender, recipients) in enumerate(requests):
            path = os.path.join(workdir, f"request-{sender}-{round_index + 1}-{number:02d}.json")
            with open(path, "w") as out:
                json.dump(request_json(template, sender, recipients, round_index, number), out)
            receipt = json.loads(run_fpx(args, args.profiles, SENDERS[sender], "--json", "trace", "submit", path))
            request_id = receipt.get("messageId", "")
            if len(request_id) != 32:
                raise Failure(f"{SENDERS[sender]}: no receipt for {path}: {receipt}")
            for state in recipients:
                answers[state].put((round_index, request_id))
    except Exception as error:  # reported by the main thread
        errors.append(error)


def answer_requests(args, state, work, errors, done_count, answered_at):
    """One focal point: fetch each request, acknowledge it, answer it with its round's outcome."""
    participant = FOCAL_POINTS[state]
    inbox = os.path.join(args.profiles, participant, "inbox")
    expected = (datetime.date.today() + datetime.timedelta(days=14)).isoformat()
    try:
        while True:
            item = work.get()
            if item is None:
                return
            round_index, request_id = item
            deadline = time.monotonic() + INBOX_TIMEOUT_S
            while not os.path.exists(os.path.join(inbox, request_id + ".fpx")):
                if time.monotonic() > deadline:
                    raise Failure(f"{participant} did not receive request {request_id} in {INBOX_TIMEOUT_S} s")
                run_fpx(args, args.profiles, participant, "--json", "inbox", "--wait", "1")
            run_fpx(args, args.profiles, participant, "trace", "ack", request_id, "--expected-response", expected)
            outcome = OUTCOMES[state][round_index % len(OUTCOMES[state])]
            if outcome is not None:
                respond = ["trace", "respond", request_id, "--outcome", outcome, "--final"]
                if outcome == "refused":
                    respond += ["--ground", "ongoing-investigation",
                                "--explanation", "the firearm is part of a national investigation"]
                if outcome in CHAIN_OUTCOMES:
                    respond += ["--hop", f"importer;Demo Import Company;{state};2012-05-04;IMP-{request_id[:8]}"]
                run_fpx(args, args.profiles, participant, *respond)
            done_count[state] += 1
            answered_at[round_index] = max(answered_at.get(round_index, 0.0), time.time())
    except Exception as error:
        errors.append(error)
        # Keep draining so the main thread never waits on a full queue.
        while work.get() is not None:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fpx", required=True)
    parser.add_argument("--profiles", required=True, help="the folder of the participants' fpx profiles")
    parser.add_argument("--template", required=True, help="a tracing request to vary (deploy/examples)")
    parser.add_argument("--period-seconds", type=float, required=True, help="the broker's statistics period")
    parser.add_argument("--publish-after-seconds", type=float, required=True,
                        help="the broker's publish_after: a round's answers must be in before its period is published")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--align-seconds", type=float,
                        help="begin the first round at a multiple of this (the broker's year: periods_per_year "
                             "periods), so that the rounds fill one year; default: the period")
    parser.add_argument("--out", help="a JSON summary for the caller")
    args = parser.parse_args()
    with open(args.template) as source:
        template = json.load(source)
    workdir = os.path.join(args.profiles, "..", "traffic")
    os.makedirs(workdir, exist_ok=True)

    errors = []
    answers = {state: queue.Queue() for state in STATES}
    done_count = {state: 0 for state in STATES}
    answered_at = {}  # round -> when its last answer was accepted
    answerers = [threading.Thread(target=answer_requests,
                                  args=(args, state, answers[state], errors, done_count, answered_at))
                 for state in STATES]
    for thread in answerers:
        thread.start()
    period_starts = []
    period_start_s = []
    sent = 0
    tracings = 0
    try:
        for round_index in range(args.rounds):
            # Begin with a period (the first round with a year): the previous round's requests are in the one
            # before.
            now = time.time()
            align = args.align_seconds if round_index == 0 and args.align_seconds else args.period_seconds
            start = (int(now // align) + 1) * align
            time.sleep(start - now + 0.2)
            plan = plan_round(round_index)
            senders = []
            for sender in STATES:
                mine = [request for request in plan if request[0] == sender]
                senders.append(threading.Thread(target=send_requests,
                                                args=(args, workdir, template, round_index, mine, answers, errors)))
            for thread in senders:
                thread.start()
            for thread in senders:
                thread.join()
            if errors:
                raise errors[0]
            if time.time() > start + args.period_seconds - SUBMIT_MARGIN_S:
                raise Failure(f"round {round_index + 1}'s requests took longer than a statistics period "
                              f"({args.period_seconds} s): the machine is too loaded; lengthen the demo's period")
            period_start_s.append(start)
            period_starts.append(datetime.datetime.fromtimestamp(start, datetime.timezone.utc)
                                 .strftime("%Y-%m-%dT%H:%M:%SZ"))
            sent += len(plan)
            tracings += sum(len(recipients) for _, recipients in plan)
            print(say("round {round}: {count} tracing requests sent in the period from {start}",
                      round=round_index + 1, count=len(plan), start=period_starts[-1]), flush=True)
    finally:
        for state in STATES:
            answers[state].put(None)
        for thread in answerers:
            thread.join()
    if errors:
        raise errors[0]
    for round_index, at in sorted(answered_at.items()):
        published = period_start_s[round_index] + args.period_seconds + args.publish_after_seconds
        if at > published:
            raise Failure(f"round {round_index + 1}'s answers came {at - published:.1f} s after its period was "
                          "published: the machine is too loaded; lengthen the demo's publish_after_ms")
    print(say("{sent} requests ({tracings} tracings) sent; acknowledged and answered by {by}", sent=sent,
              tracings=tracings, by=", ".join(f"{FOCAL_POINTS[state]} ({done_count[state]})" for state in STATES)),
          flush=True)
    if args.out:
        with open(args.out, "w") as out:
            json.dump({"periodStarts": period_starts, "requests": sent, "tracings": tracings}, out)


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        print(say("demo traffic failed: {failure}", failure=failure), file=sys.stderr)
        sys.exit(1)
