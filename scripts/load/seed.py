#!/usr/bin/env python3
"""Bulk-seeds a migrated Trustdesk SQLite database for the system load test (scripts/load/system.sh).

Writes directly with SQL in one transaction per table, far faster than the API (which commits
and fsyncs every write), so that 10x-data runs take seconds to prepare. The rows have the same
shape the service writes:

  --sessions N   issued sessions (a tenth revoked), spread over the last day
  --reports N    received reports, each with its "received" event; their ids and receipts go to
                 --receipts FILE (one "id receipt" per line) for report-status requests
  --audit N      audit entries, hash-chained exactly as src/audit.rs chains them, so
                 `trustdesk audit verify` still passes
  --offset K     numbering start, so separate seeding runs never collide
  --queue N      confirmed-fraud reports with a queued escalation each (mixed P1/P2/P3)

Usage: seed.py DB --agent-id ID [--sessions N] [--reports N] [--audit N] [--queue N] [--receipts F]
"""
import argparse
import base64
import hashlib
import json
import os
import sqlite3
import time
import uuid

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as report ids use


def code(n, width=8):
    s = ""
    for _ in range(width):
        s = ALPHABET[n % 32] + s
        n //= 32
    return s


def report_id(n):
    c = code(n)
    return f"TD-{c[:4]}-{c[4:]}"


def hexsha(b):
    return hashlib.sha256(b).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--agent-id", required=True)
    ap.add_argument("--sessions", type=int, default=0)
    ap.add_argument("--reports", type=int, default=0)
    ap.add_argument("--audit", type=int, default=0)
    ap.add_argument("--queue", type=int, default=0)
    ap.add_argument("--receipts")
    ap.add_argument("--offset", type=int, default=0,
                    help="first report number, so that separate seeding runs do not collide")
    a = ap.parse_args()

    db = sqlite3.connect(a.db, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    now = int(time.time())

    if a.sessions:
        db.execute("BEGIN")
        rows = []
        for i in range(a.sessions):
            jti = str(uuid.uuid4())
            issued = now - 86_400 + (i * 86_400) // a.sessions
            revoked = issued + 60 if i % 10 == 0 else None
            rows.append((jti, a.agent_id, "seed", "telegram", "acme_support",
                         hexsha(f"seed-code-{a.offset}-{i}".encode()), issued, issued + 7200,
                         revoked, a.agent_id if revoked else None))
        db.executemany(
            "INSERT INTO sessions (jti, agent_id, kid, channel_kind, channel_value, code_hash, "
            "issued_at, expires_at, revoked_at, revoked_by) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        db.execute("COMMIT")

    def insert_reports(n, first, status, receipts_out):
        db.execute("BEGIN")
        reports, events, escalations = [], [], []
        for i in range(n):
            rid = report_id(first + i)
            receipt = "tdr_" + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
            created = now - 86_400 + (i * 86_400) // max(n, 1)
            prio = ("P1", "P2", "P3")[i % 3]
            reports.append((rid, hexsha(receipt.encode()), status, "impersonation", prio, "none",
                            "[]", f"seeded report {i}", "telegram", f"fake_support_{i % 5000}",
                            "[]", "en", created, created, created + 86_400))
            events.append((rid, 1, created, "received", "Report received", "已收到举报"))
            if status == "confirmed_fraud":
                escalations.append((str(uuid.uuid4()), rid, prio, i % 3 + 1, "seeded", "queued",
                                    created, created + 86_400))
            if receipts_out is not None:
                receipts_out.write(f"{rid} {receipt}\n")
        db.executemany(
            "INSERT INTO reports (id, receipt_hash, status, category, priority, triage, "
            "triage_reasons, description, scam_channel_kind, scam_channel_value, transactions, "
            "locale, created_at, updated_at, first_response_by) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", reports)
        db.executemany(
            "INSERT INTO report_events (report_id, seq, at, kind, public_en, public_zh) "
            "VALUES (?,?,?,?,?,?)", events)
        db.executemany(
            "INSERT INTO escalations (id, report_id, priority, priority_rank, reason, state, "
            "created_at, sla_due_at, claims) VALUES (?,?,?,?,?,?,?,?,0)", escalations)
        db.execute("COMMIT")

    if a.reports:
        with open(a.receipts, "w") if a.receipts else open(os.devnull, "w") as out:
            insert_reports(a.reports, a.offset, "received", out)
    if a.queue:
        # Far above any --reports range (32^8 ids exist).
        insert_reports(a.queue, 2**39 + a.offset, "confirmed_fraud", None)

    if a.audit:
        db.execute("BEGIN")
        seq, prev = db.execute(
            "SELECT COALESCE(MAX(seq), 0), COALESCE((SELECT hash FROM audit_log "
            "ORDER BY seq DESC LIMIT 1), ?) FROM audit_log", ("0" * 64,)).fetchone()
        rows = []
        for i in range(a.audit):
            seq += 1
            at = now - 3600
            details = json.dumps({"seeded": i}, separators=(",", ":"))
            canonical = json.dumps([seq, at, a.agent_id, "seed.entry", f"seed-{i}", details, prev],
                                   separators=(",", ":"), ensure_ascii=False)
            h = hexsha(canonical.encode())
            rows.append((seq, at, a.agent_id, "seed.entry", f"seed-{i}", details, prev, h))
            prev = h
        db.executemany(
            "INSERT INTO audit_log (seq, at, actor_id, action, subject, details, prev_hash, hash) "
            "VALUES (?,?,?,?,?,?,?,?)", rows)
        db.execute("COMMIT")
    db.close()


if __name__ == "__main__":
    main()
