//! The SQLite schema: one migration per change, applied forward by `PRAGMA user_version`.

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: event log and outbox.
    "CREATE TABLE event (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        type TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE outbox (
        key TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        first_failure_at TEXT,
        last_error TEXT,
        done_at TEXT
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt_at);",
    // 2: what maintenance files declared last (id → maintenance.add fields).
    "CREATE TABLE declared (id TEXT PRIMARY KEY, fields TEXT NOT NULL);",
    // 3: our incident/maintenance id → Atlassian Statuspage incident id, per environment.
    "CREATE TABLE statuspage_map (our_id TEXT NOT NULL, env TEXT NOT NULL, sp_id TEXT NOT NULL, PRIMARY KEY (our_id, env));",
    // 4: Alertmanager silences per incident (empty id: a create in flight).
    "CREATE TABLE silences (incident TEXT PRIMARY KEY, id TEXT NOT NULL, matchers TEXT NOT NULL, ends_at TEXT NOT NULL, expired INTEGER NOT NULL DEFAULT 0);",
    // 5: the watched mailbox: last handled UID per folder and UIDVALIDITY.
    "CREATE TABLE imap_state (folder TEXT PRIMARY KEY, uidvalidity INTEGER NOT NULL, last_uid INTEGER NOT NULL);",
    // 6: organizations removed from the configuration but still named by open cases.
    "CREATE TABLE retained_org (id TEXT PRIMARY KEY, org TEXT NOT NULL);",
    // 7: maintenance and inquiry keys get their namespace (`About::key_prefix`, SPEC §4.14), so
    // that replay after the upgrade finds the rows it decided before and sends nothing again.
    "UPDATE statuspage_map SET our_id = 'maintenance/' || our_id WHERE our_id IN
        (SELECT json_extract(payload, '$.about.id') FROM outbox
         WHERE json_extract(payload, '$.about.type') = 'maintenance');
     UPDATE outbox SET
        payload = CASE WHEN json_extract(payload, '$.body.thread') IS NOT NULL
            THEN json_set(payload, '$.key', 'maintenance/' || key,
                          '$.body.thread', 'maintenance/' || json_extract(payload, '$.body.thread'))
            ELSE json_set(payload, '$.key', 'maintenance/' || key) END,
        key = 'maintenance/' || key
     WHERE json_extract(payload, '$.about.type') = 'maintenance';
     UPDATE outbox SET
        payload = json_set(payload, '$.key', 'inquiry/' || key),
        key = 'inquiry/' || key
     WHERE json_extract(payload, '$.about.type') = 'inquiry';",
    // 8: one table for the sinks' own state (`sinks::SinkState`), each sink under its name;
    // the Statuspage map and the silences move into it.
    "CREATE TABLE sink_state (sink TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (sink, key));
     INSERT INTO sink_state (sink, key, value)
        SELECT 'statuspage', env || ' ' || our_id, json_quote(sp_id) FROM statuspage_map;
     INSERT INTO sink_state (sink, key, value)
        SELECT 'silence', incident, json_object('incident', incident, 'id', id, 'matchers', matchers,
            'ends_at', ends_at, 'expired', json(CASE WHEN expired THEN 'true' ELSE 'false' END))
        FROM silences;
     DROP TABLE statuspage_map;
     DROP TABLE silences;",
    // 9: timelines (SPEC §5.8): where an event came from and who, the cases it touched, and
    // bounces. Events logged before name their case by `id` (alerts cannot be placed).
    "ALTER TABLE event ADD COLUMN origin TEXT;
     ALTER TABLE event ADD COLUMN by_whom TEXT;
     CREATE TABLE event_case (case_key TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (case_key, seq));
     INSERT OR IGNORE INTO event_case (case_key, seq)
        SELECT CASE
            WHEN type LIKE 'maintenance.%' THEN 'maintenance/' || json_extract(body, '$.id')
            WHEN type LIKE 'inquiry.%' THEN 'inquiry/' || json_extract(body, '$.id')
            ELSE json_extract(body, '$.id') END, seq
        FROM event WHERE json_valid(body) AND json_extract(body, '$.id') IS NOT NULL AND type != 'alert';
     ALTER TABLE outbox ADD COLUMN bounced_at TEXT;",
    // 10: the engine's snapshot (`engine::snapshot`): a restart replays only what follows it.
    "CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, at TEXT NOT NULL, state TEXT NOT NULL);
     CREATE INDEX outbox_done ON outbox(status, at);",
    // 11: the console's delivery problems: failing rows (pending with a failure) and bounces.
    "CREATE INDEX outbox_failing ON outbox(first_failure_at) WHERE first_failure_at IS NOT NULL;
     CREATE INDEX outbox_bounced ON outbox(bounced_at) WHERE bounced_at IS NOT NULL;",
    // 12: the audit log (SPEC §5.10): append-only, each entry chained to the one before by its
    // SHA-256 (`audit`). `seq` is not unique on purpose: a row inserted later with a number
    // already taken is found by `audit verify`, not refused here. Only retention may delete,
    // and only what its anchor covers.
    "CREATE TABLE audit (
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        role TEXT NOT NULL,
        origin TEXT NOT NULL,
        what TEXT NOT NULL,
        object TEXT,
        before TEXT,
        after TEXT,
        prev TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_seq ON audit(seq);
    CREATE INDEX audit_object ON audit(object);
    CREATE TABLE audit_anchor (id INTEGER PRIMARY KEY CHECK (id = 1), through INTEGER NOT NULL, hash TEXT NOT NULL, removed INTEGER NOT NULL);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        WHEN OLD.seq > COALESCE((SELECT through FROM audit_anchor WHERE id = 1), 0)
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    // 13: personal API tokens (SPEC §5.10), as their SHA-256 only (`store::PersonalTokens`).
    "CREATE TABLE personal_token (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        person TEXT NOT NULL,
        role TEXT NOT NULL,
        label TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        revoked_at TEXT,
        last_used_at TEXT
    );
    CREATE INDEX personal_token_person ON personal_token(person);",
    // 14: the directory (SPEC §4.16): each organization's contacts as held, and as the
    // configuration last said them (`store::directory`).
    "CREATE TABLE directory (
        org TEXT PRIMARY KEY,
        contacts TEXT NOT NULL,
        config TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        origin TEXT NOT NULL,
        changed_by TEXT NOT NULL
    );",
    // 15: the directory became engine state (its `directory.*` events are in the event log,
    // its entries in the snapshot: `engine::directory`); the table of 14, which only ever
    // held what the configuration said, goes.
    "DROP TABLE directory;",
    // 16: subscribers (SPEC §4.17) and their own mail queue (`store::subscribers`).
    "CREATE TABLE subscriber (
        id TEXT PRIMARY KEY,
        address TEXT NOT NULL UNIQUE,
        services TEXT NOT NULL,
        test INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        confirmed_at TEXT
    );
    CREATE TABLE subscriber_job (key TEXT PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE subscriber_mail (
        job TEXT NOT NULL,
        subscriber TEXT NOT NULL,
        next_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        PRIMARY KEY (job, subscriber)
    );
    CREATE INDEX subscriber_mail_next ON subscriber_mail(next_at);
    CREATE INDEX subscriber_mail_subscriber ON subscriber_mail(subscriber);",
];
