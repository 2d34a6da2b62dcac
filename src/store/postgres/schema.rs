//! The PostgreSQL schema, migrated forward like the SQLite one: `meldingsvakt_schema.version`
//! counts the migrations applied; each runs in its own transaction under a transaction-level
//! advisory lock, so two hosts starting at once migrate once. A database newer than this build
//! is refused (`StoreError::TooNew`).
//!
//! Same tables as `store::sqlite` (times as fixed-width UTC text, so text order is time order),
//! plus `leader`: the leadership epoch (SPEC §5.7), and the epoch stamped on each event and on
//! each outbox claim.

/// Advisory lock keys: leadership (held on its own session) and migrations.
pub(crate) const LEADER_LOCK: i64 = 0x6d65_6c64_6c65_6164; // "meldlead"
/// The advisory lock an audit append holds for its transaction.
pub(crate) const AUDIT_LOCK: i64 = 0x6d65_6c64_6175_6474; // "meldaudt"
/// The advisory lock migrations run under.
pub(crate) const MIGRATE_LOCK: i64 = 0x6d65_6c64_6d69_6772; // "meldmigr"

/// The schema, one step per version.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the whole state as of SQLite migration 11, and the leader row.
    "CREATE TABLE event (
        seq BIGSERIAL PRIMARY KEY,
        at TEXT NOT NULL,
        type TEXT NOT NULL,
        body TEXT NOT NULL,
        origin TEXT,
        by_whom TEXT,
        epoch BIGINT NOT NULL
    );
    CREATE TABLE event_case (case_key TEXT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (case_key, seq));
    CREATE TABLE outbox (
        id BIGSERIAL UNIQUE,
        key TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        first_failure_at TEXT,
        last_error TEXT,
        done_at TEXT,
        bounced_at TEXT,
        epoch BIGINT NOT NULL
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
    CREATE INDEX outbox_done ON outbox(status, at);
    CREATE INDEX outbox_kind ON outbox(kind, id);
    CREATE INDEX outbox_failing ON outbox(first_failure_at) WHERE first_failure_at IS NOT NULL;
    CREATE INDEX outbox_bounced ON outbox(bounced_at) WHERE bounced_at IS NOT NULL;
    CREATE TABLE declared (id TEXT PRIMARY KEY, fields TEXT NOT NULL);
    CREATE TABLE sink_state (sink TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (sink, key));
    CREATE TABLE imap_state (folder TEXT PRIMARY KEY, uidvalidity BIGINT NOT NULL, last_uid BIGINT NOT NULL);
    CREATE TABLE retained_org (id TEXT PRIMARY KEY, org TEXT NOT NULL);
    CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, at TEXT NOT NULL, state TEXT NOT NULL);
    CREATE TABLE leader (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        epoch BIGINT NOT NULL,
        holder TEXT NOT NULL,
        url TEXT NOT NULL,
        since TIMESTAMPTZ NOT NULL
    );
    INSERT INTO leader (id, epoch, holder, url, since) VALUES (1, 0, '', '', now());",
    // 2: the audit log (SPEC §5.10), as SQLite migration 12; `epoch` is the leader that wrote
    // the entry. Appends take `AUDIT_LOCK` for the transaction, so entries chain one at a time.
    "CREATE TABLE audit (
        id BIGSERIAL PRIMARY KEY,
        seq BIGINT NOT NULL,
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        role TEXT NOT NULL,
        origin TEXT NOT NULL,
        what TEXT NOT NULL,
        object TEXT,
        before TEXT,
        after TEXT,
        prev TEXT NOT NULL,
        hash TEXT NOT NULL,
        epoch BIGINT NOT NULL
    );
    CREATE INDEX audit_seq ON audit(seq);
    CREATE INDEX audit_object ON audit(object);
    CREATE TABLE audit_anchor (id INTEGER PRIMARY KEY CHECK (id = 1), through BIGINT NOT NULL, hash TEXT NOT NULL, removed BIGINT NOT NULL);
    CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND OLD.seq <= COALESCE((SELECT through FROM audit_anchor WHERE id = 1), 0) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'the audit log is append-only';
    END $$;
    CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION audit_append_only();",
    // 3: personal API tokens (SPEC §5.10), as their SHA-256 only (`store::PersonalTokens`).
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
    // 4: the directory (SPEC §4.16): each organization's contacts as held, and as the
    // configuration last said them (`store::directory`).
    "CREATE TABLE directory (
        org TEXT PRIMARY KEY,
        contacts TEXT NOT NULL,
        config TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        origin TEXT NOT NULL,
        changed_by TEXT NOT NULL
    );",
    // 5: the directory became engine state (`engine::directory`); the table of 4 goes.
    "DROP TABLE directory;",
    // 6: subscribers (SPEC §4.17) and their own mail queue (`store::subscribers`).
    "CREATE TABLE subscriber (
        id TEXT PRIMARY KEY,
        address TEXT NOT NULL UNIQUE,
        services TEXT NOT NULL,
        test BIGINT NOT NULL,
        created_at TEXT NOT NULL,
        confirmed_at TEXT
    );
    CREATE TABLE subscriber_job (key TEXT PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE subscriber_mail (
        job TEXT NOT NULL,
        subscriber TEXT NOT NULL,
        next_at TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        last_error TEXT,
        PRIMARY KEY (job, subscriber)
    );
    CREATE INDEX subscriber_mail_next ON subscriber_mail(next_at);
    CREATE INDEX subscriber_mail_subscriber ON subscriber_mail(subscriber);",
];
