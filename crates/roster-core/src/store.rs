//! The SQLite store: the only module that writes SQL.
//!
//! One file holds the operations, the staging area, the flags and the users, so that
//! creating a user and removing its staged record is one transaction. The interface is a
//! short list of units of work in the engine's own terms (stage a record, read a page of
//! pending records, find who holds a key, commit a decided batch), with no SQL types in it,
//! so that another store (PostgreSQL, for hosts that run several servers on one database)
//! can offer the same list.
//!
//! Invariants of the file:
//! - `users.username_key` and `user_emails.email_key` are unique: the database itself refuses
//!   a second holder of an address or username, whatever the run decided.
//! - A staged record leaves `staged` only in the transaction that creates its user, or when
//!   the whole staging area is emptied by `new` or `clear`.
//! - The counts on an operation are written in the same transaction as the batch they count.
//! - `PRAGMA user_version` is the schema version.

use std::path::Path;
use std::time::SystemTime;

use rusqlite::{params, CachedStatement, Connection, ErrorCode, OpenFlags, OptionalExtension, Row};

use crate::error::StoreError;
use crate::operation::{Counts, Flag, Operation, Reason};
use crate::state::Status;
use crate::user::{StagedUser, User, UserType};
use crate::Password;

/// The schema, one entry per version; entry `i` takes a file from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r"
    CREATE TABLE operations (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        ts TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        status TEXT NOT NULL,
        valid INTEGER NOT NULL,
        user TEXT NOT NULL,
        total INTEGER NOT NULL DEFAULT 0,
        completed INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        reason TEXT
    );
    CREATE TABLE staged (
        seq INTEGER PRIMARY KEY,
        operation_id TEXT NOT NULL,
        import_id TEXT NOT NULL,
        record TEXT NOT NULL,
        password TEXT,
        flagged INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE flags (
        seq INTEGER PRIMARY KEY,
        operation_id TEXT NOT NULL,
        import_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL,
        username_key TEXT NOT NULL,
        name TEXT NOT NULL,
        emails TEXT NOT NULL,
        password_hash TEXT,
        active INTEGER NOT NULL,
        type TEXT NOT NULL,
        roles TEXT NOT NULL,
        import_ids TEXT NOT NULL,
        profile TEXT NOT NULL,
        operation_id TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX users_username_key ON users (username_key);
    CREATE TABLE user_emails (
        email_key TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL
    ) WITHOUT ROWID;
",
    r"
    CREATE TABLE api_tokens (
        digest TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        permissions TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX api_tokens_user ON api_tokens (user_id);
",
    r"
    ALTER TABLE operations ADD COLUMN bcrypt_cost INTEGER;
",
];

/// The page cache of the connection that writes, in KiB: 8 MiB (resident, it costs about 1.4
/// times that). Four times SQLite's default; more helps little and counts against the 64 MiB
/// a run of any size may use (docs/BENCHMARKS.md).
const WRITER_CACHE_KIB: i64 = 8 * 1024;
/// The page cache of the planner's read-only connection, in KiB: SQLite's default. Each plan
/// is a new read transaction after a commit by the other connection, which empties this
/// cache, so a larger one would not be reused.
const READER_CACHE_KIB: i64 = 2 * 1024;

/// The current time as ISO 8601 with milliseconds.
pub(crate) fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Who holds an email or a username: for flag messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    pub username: String,
    pub import_id: Option<String>,
}

/// A staged record waiting for the run.
pub(crate) struct Pending {
    pub seq: i64,
    pub user: StagedUser,
    pub password: Option<Password>,
}

/// A user the run decided to create, ready for the writer. The columns copied from the
/// staged record are rendered when the account is made, on the planner's thread, so that the
/// writer, the narrow step of a run, only binds values.
#[derive(Debug)]
pub(crate) struct Account {
    pub seq: i64,
    pub import_id: String,
    pub username: String,
    pub username_key: String,
    /// The key of each address, each key once.
    pub email_keys: Vec<String>,
    pub password_hash: Option<String>,
    columns: Columns,
}

/// The columns of a user row that come from its staged record, as the row holds them.
#[derive(Debug)]
struct Columns {
    name: String,
    emails: String,
    active: bool,
    user_type: &'static str,
    roles: String,
    import_ids: String,
    profile: String,
}

/// The `profile` column: the optional fields of a staged user, keys in alphabetical order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Profile<'a> {
    avatar_url: &'a Option<String>,
    bio: &'a Option<String>,
    custom_fields: &'a Option<serde_json::Map<String, serde_json::Value>>,
    status_text: &'a Option<String>,
    utc_offset: &'a Option<f64>,
}

impl Account {
    /// The account for staged record `seq`, created as `username` (with its key) and `name`,
    /// with `emails`: each address with its key, the later of two with one key left out.
    pub(crate) fn new(
        seq: i64,
        (username, username_key): (String, String),
        name: String,
        emails: Vec<(String, String)>,
        user: &StagedUser,
    ) -> Account {
        let addresses: Vec<&str> = emails.iter().map(|(address, _)| address.as_str()).collect();
        let profile = Profile {
            avatar_url: &user.avatar_url,
            bio: &user.bio,
            custom_fields: &user.custom_fields,
            status_text: &user.status_text,
            utc_offset: &user.utc_offset,
        };
        let columns = Columns {
            name,
            emails: json(&addresses),
            active: !user.deleted,
            user_type: type_name(user.user_type),
            roles: json(&user.roles),
            import_ids: json(&user.import_ids),
            profile: json(&profile),
        };
        Account {
            seq,
            import_id: user.import_ids[0].clone(),
            username,
            username_key,
            email_keys: emails.into_iter().map(|(_, key)| key).collect(),
            password_hash: None,
            columns,
        }
    }
}

/// A staged record the run decided not to import.
#[derive(Debug, Clone)]
pub(crate) struct FlagRecord {
    pub seq: i64,
    pub import_id: String,
    pub reason: Reason,
    pub message: String,
}

/// What the writer commits for one staged record.
#[derive(Debug)]
pub(crate) enum Decision {
    Create(Box<Account>),
    Flag(FlagRecord),
}

/// Why a batch did not commit.
#[derive(Debug)]
pub(crate) enum BatchError {
    /// The store refused one user (a constraint, an oversized value): flag it and retry.
    User { index: usize, error: rusqlite::Error },
    /// The store itself failed: the run cannot go on.
    Store(StoreError),
}

pub(crate) struct Store {
    conn: Connection,
}

impl Store {
    pub(crate) fn open(path: &Path) -> Result<Store, StoreError> {
        Store::setup(Connection::open(path)?)
    }

    pub(crate) fn open_in_memory() -> Result<Store, StoreError> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> Result<Store, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        // A run inserts into two indexes of random keys: each batch dirties leaves all over
        // them. A larger page cache saves re-reading those leaves, and checkpointing every
        // 10,000 log pages rather than every 1,000 copies a leaf dirtied by several batches
        // into the file once (see docs/BENCHMARKS.md). Negative sizes are KiB.
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// A second, read-only connection on the same file, for the run's planner: in WAL mode it
    /// reads (pending records, look-ups) while the writer commits, so planning and writing
    /// overlap. `None` for an in-memory store, which has no file to share.
    pub(crate) fn open_reader(&self) -> Result<Option<Store>, StoreError> {
        let path = match self.conn.path() {
            Some(path) if !path.is_empty() => path.to_owned(),
            _ => return Ok(None),
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
        Ok(Some(Store { conn }))
    }

    /// Runs `read` in one read transaction: one snapshot and one round of file locking for
    /// a whole batch of look-ups, rather than one per statement.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let out = read(self)?;
        tx.commit()?;
        Ok(out)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::UnknownSchema { found, known });
        }
        let tx = self.conn.transaction()?;
        for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version as i64 + 1)?;
        }
        tx.commit()?;
        Ok(())
    }

    // ---- operations -------------------------------------------------------------------

    /// The latest operation, valid or not.
    pub(crate) fn latest_operation(&self) -> Result<Option<Operation>, StoreError> {
        let sql = "SELECT id, ts, updated_at, status, valid, user, total, completed, skipped,
                   failed, reason FROM operations ORDER BY seq DESC LIMIT 1";
        let mut stmt = self.conn.prepare_cached(sql)?;
        let row = stmt.query_row([], operation_from_row).optional()?;
        row.transpose()
    }

    pub(crate) fn insert_operation(&self, op: &Operation) -> Result<(), StoreError> {
        let sql = "INSERT INTO operations (id, ts, updated_at, status, valid, user)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
        self.conn.execute(
            sql,
            params![op.id, op.ts, op.updated_at, op.status.as_str(), op.valid, op.user],
        )?;
        Ok(())
    }

    /// Moves an operation to `status`, with a reason when it ends `error`.
    pub(crate) fn set_status(
        &self,
        id: &str,
        status: Status,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE operations SET status = ?2, reason = ?3, updated_at = ?4 WHERE id = ?1";
        self.conn.execute(sql, params![id, status.as_str(), reason, now()])?;
        Ok(())
    }

    /// Moves an operation to `importing` and records the bcrypt cost of its run, so that a
    /// resumed run hashes the rest of its passwords as it hashed the first.
    pub(crate) fn begin_run(&self, id: &str, bcrypt_cost: u32) -> Result<(), StoreError> {
        let sql = "UPDATE operations SET status = ?2, bcrypt_cost = ?3, updated_at = ?4
                   WHERE id = ?1";
        let status = Status::ImportingStarted.as_str();
        self.conn.execute(sql, params![id, status, bcrypt_cost, now()])?;
        Ok(())
    }

    /// The bcrypt cost an operation's run started with, if it started.
    pub(crate) fn run_cost(&self, id: &str) -> Result<Option<u32>, StoreError> {
        let sql = "SELECT bcrypt_cost FROM operations WHERE id = ?1";
        Ok(self.conn.query_row(sql, [id], |r| r.get(0)).optional()?.flatten())
    }

    /// Invalidates every operation and empties the staging area, in one transaction. An
    /// operation that had not ended reads `canceled` afterwards.
    pub(crate) fn invalidate_all(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let ended = [Status::Done, Status::Failed, Status::Cancelled].map(Status::as_str);
        tx.execute(
            "UPDATE operations SET status = ?1, updated_at = ?2
             WHERE valid = 1 AND status NOT IN (?3, ?4, ?5)",
            params![Status::Cancelled.as_str(), now(), ended[0], ended[1], ended[2]],
        )?;
        tx.execute("UPDATE operations SET valid = 0 WHERE valid = 1", [])?;
        tx.execute("DELETE FROM staged", [])?;
        tx.execute("DELETE FROM flags", [])?;
        tx.commit()?;
        self.truncate_wal()
    }

    /// Copies the write-ahead log into the main file and empties it. Staged passwords pass
    /// through the log in plaintext; the main file zeroes what is deleted (`secure_delete`),
    /// but old log frames stay on disk until overwritten, so the log is emptied whenever
    /// staged records have left (the end of a run, `clear`, `new`).
    pub(crate) fn truncate_wal(&self) -> Result<(), StoreError> {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    // ---- staging ----------------------------------------------------------------------

    /// Opens the staging transaction; [`Store::end_staging`] commits or rolls it back.
    pub(crate) fn begin_staging(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    pub(crate) fn stage(
        &self,
        operation_id: &str,
        user: &StagedUser,
        password: Option<&Password>,
    ) -> Result<(), StoreError> {
        let record = serde_json::to_string(user).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sql = "INSERT INTO staged (operation_id, import_id, record, password)
                   VALUES (?1, ?2, ?3, ?4)";
        let mut stmt = self.conn.prepare_cached(sql)?;
        stmt.execute(params![
            operation_id,
            user.import_ids[0],
            record,
            password.map(Password::expose)
        ])?;
        Ok(())
    }

    /// Ends the staging transaction: with `added` records and the operation made `ready`, or
    /// rolled back when `added` is `None`.
    pub(crate) fn end_staging(
        &self,
        operation_id: &str,
        added: Option<u64>,
    ) -> Result<(), StoreError> {
        let Some(added) = added else {
            self.conn.execute_batch("ROLLBACK")?;
            return Ok(());
        };
        let sql = "UPDATE operations SET total = total + ?2, status = ?3, updated_at = ?4
                   WHERE id = ?1";
        let status = Status::UserSelection.as_str();
        let done = self.conn.execute(sql, params![operation_id, added, status, now()]);
        if let Err(e) = done {
            self.conn.execute_batch("ROLLBACK")?;
            return Err(e.into());
        }
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// Up to `limit` records not yet decided, after `after` in staging order.
    pub(crate) fn pending(&self, after: i64, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let sql = "SELECT seq, record, password FROM staged
                   WHERE seq > ?1 AND flagged = 0 ORDER BY seq LIMIT ?2";
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![after, limit as i64], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get(2)?))
        })?;
        let mut page = Vec::with_capacity(limit);
        for row in rows {
            let (seq, record, password): (i64, String, Option<String>) = row?;
            let user = serde_json::from_str(&record).map_err(|e| corrupt("staged", seq, e))?;
            page.push(Pending { seq, user, password: password.map(Password::new) });
        }
        Ok(page)
    }

    // ---- look-ups for the planner -------------------------------------------------------

    pub(crate) fn email_holder(&self, key: &str) -> Result<Option<Holder>, StoreError> {
        let sql = "SELECT u.username, u.import_ids FROM user_emails e
                   JOIN users u ON u.id = e.user_id WHERE e.email_key = ?1";
        self.holder(sql, key)
    }

    pub(crate) fn username_holder(&self, key: &str) -> Result<Option<Holder>, StoreError> {
        self.holder("SELECT username, import_ids FROM users WHERE username_key = ?1", key)
    }

    fn holder(&self, sql: &str, key: &str) -> Result<Option<Holder>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let found = stmt
            .query_row([key], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
            .optional()?;
        let Some((username, ids)) = found else {
            return Ok(None);
        };
        let ids: Vec<String> = serde_json::from_str(&ids).unwrap_or_default();
        Ok(Some(Holder { username, import_id: ids.into_iter().next() }))
    }

    // ---- the writer -------------------------------------------------------------------

    /// Commits one batch: each created user with the removal of its staged record, each
    /// flag with the mark on its staged record (whose password is wiped), and the counts.
    /// Every user of a batch gets the batch's time as `created_at`.
    pub(crate) fn commit_batch(
        &mut self,
        operation_id: &str,
        decisions: &[Decision],
        count: &Counts,
        status: Status,
    ) -> Result<(), BatchError> {
        let store = |e: rusqlite::Error| BatchError::Store(e.into());
        let stamp = now();
        let tx = self.conn.transaction().map_err(store)?;
        {
            let mut writes = BatchWrites::prepare(&tx, operation_id, &stamp).map_err(store)?;
            for (index, decision) in decisions.iter().enumerate() {
                let written = match decision {
                    Decision::Create(account) => writes.create(&tx, account),
                    Decision::Flag(flag) => writes.flag(flag),
                };
                written.map_err(|error| match is_per_user(&error) {
                    true => BatchError::User { index, error },
                    false => store(error),
                })?;
            }
        }
        let sql = "UPDATE operations SET completed = ?2, skipped = ?3, failed = ?4,
                   status = ?5, updated_at = ?6 WHERE id = ?1";
        let values = params![
            operation_id,
            count.completed,
            count.skipped,
            count.error,
            status.as_str(),
            stamp
        ];
        tx.execute(sql, values).map_err(store)?;
        tx.commit().map_err(store)
    }

    // ---- reading results --------------------------------------------------------------

    pub(crate) fn flags(&self, offset: u64, count: u64) -> Result<Vec<Flag>, StoreError> {
        let sql = "SELECT f.seq, f.import_id, f.reason, f.message, s.record FROM flags f
                   JOIN staged s ON s.seq = f.seq ORDER BY f.seq LIMIT ?1 OFFSET ?2";
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![count as i64, offset as i64], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
        })?;
        let mut flags = Vec::new();
        for row in rows {
            let (seq, import_id, reason, message, record): (i64, String, String, String, String) =
                row?;
            let reason = Reason::parse(&reason).ok_or_else(|| corrupt("flags", seq, &reason))?;
            let user: StagedUser =
                serde_json::from_str(&record).map_err(|e| corrupt("staged", seq, e))?;
            let outcome = reason.outcome();
            let (username, emails) = (user.username, user.emails);
            flags.push(Flag { import_id, outcome, reason, message, username, emails });
        }
        Ok(flags)
    }

    pub(crate) fn flag_total(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM flags", [], |r| r.get(0))?)
    }

    pub(crate) fn users(&self, offset: u64, count: u64) -> Result<Vec<User>, StoreError> {
        let sql = "SELECT id, username, emails, name, active, roles, import_ids, type,
                   password_hash IS NOT NULL FROM users ORDER BY id LIMIT ?1 OFFSET ?2";
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![count as i64, offset as i64], user_from_row)?;
        rows.map(|r| r?).collect()
    }

    /// The password hash of the user with this username key; `None` when there is no such
    /// user, `Some(None)` when the user has no password.
    pub(crate) fn password_hash(&self, key: &str) -> Result<Option<Option<String>>, StoreError> {
        let sql = "SELECT password_hash FROM users WHERE username_key = ?1";
        Ok(self.conn.query_row(sql, [key], |r| r.get(0)).optional()?)
    }
}

impl Store {
    // ---- API tokens ---------------------------------------------------------------------

    pub(crate) fn insert_token(
        &self,
        digest: &str,
        user_id: &str,
        permissions: &[String],
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO api_tokens (digest, user_id, permissions, created_at)
                   VALUES (?1, ?2, ?3, ?4)";
        self.conn.execute(sql, params![digest, user_id, json(permissions), now()])?;
        Ok(())
    }

    /// The token digests of a user, each with its permissions.
    pub(crate) fn tokens_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let sql = "SELECT digest, permissions FROM api_tokens WHERE user_id = ?1";
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map([user_id], |r| Ok((r.get(0)?, r.get::<_, String>(1)?)))?;
        let mut tokens = Vec::new();
        for row in rows {
            let (digest, permissions) = row?;
            let permissions = serde_json::from_str(&permissions)
                .map_err(|e| StoreError::Corrupt(format!("api token permissions: {e}")))?;
            tokens.push((digest, permissions));
        }
        Ok(tokens)
    }
}

/// The statements of a batch, prepared once for all its records.
struct BatchWrites<'c> {
    operation_id: &'c str,
    stamp: &'c str,
    user: CachedStatement<'c>,
    email: CachedStatement<'c>,
    unstage: CachedStatement<'c>,
    flag: CachedStatement<'c>,
    mark: CachedStatement<'c>,
}

impl<'c> BatchWrites<'c> {
    fn prepare(
        tx: &'c rusqlite::Transaction<'_>,
        operation_id: &'c str,
        stamp: &'c str,
    ) -> rusqlite::Result<BatchWrites<'c>> {
        Ok(BatchWrites {
            operation_id,
            stamp,
            user: tx.prepare_cached(
                "INSERT INTO users (username, username_key, name, emails, password_hash, active,
                 type, roles, import_ids, profile, operation_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?,
            email: tx
                .prepare_cached("INSERT INTO user_emails (email_key, user_id) VALUES (?1, ?2)")?,
            unstage: tx.prepare_cached("DELETE FROM staged WHERE seq = ?1")?,
            flag: tx.prepare_cached(
                "INSERT OR REPLACE INTO flags (seq, operation_id, import_id, reason, message)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            mark: tx
                .prepare_cached("UPDATE staged SET flagged = 1, password = NULL WHERE seq = ?1")?,
        })
    }

    /// Creates the user of `account` and removes its staged record.
    fn create(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        account: &Account,
    ) -> rusqlite::Result<()> {
        let columns = &account.columns;
        self.user.execute(params![
            account.username,
            account.username_key,
            columns.name,
            columns.emails,
            account.password_hash,
            columns.active,
            columns.user_type,
            columns.roles,
            columns.import_ids,
            columns.profile,
            self.operation_id,
            self.stamp,
        ])?;
        let user_id = tx.last_insert_rowid();

        for key in &account.email_keys {
            self.email.execute(params![key, user_id])?;
        }
        self.unstage.execute([account.seq])?;
        Ok(())
    }

    /// Records a flag and marks its staged record, wiping its password.
    fn flag(&mut self, flag: &FlagRecord) -> rusqlite::Result<()> {
        self.flag.execute(params![
            flag.seq,
            self.operation_id,
            flag.import_id,
            flag.reason.as_str(),
            flag.message
        ])?;
        self.mark.execute([flag.seq])?;
        Ok(())
    }
}

/// Whether an error is about the one user being written (and so worth a flag and a retry)
/// rather than about the store (and so the end of the run).
fn is_per_user(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::ConstraintViolation | ErrorCode::TooBig | ErrorCode::TypeMismatch)
    )
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn type_name(t: UserType) -> &'static str {
    match t {
        UserType::User => "user",
        UserType::Bot => "bot",
    }
}

fn corrupt(table: &str, seq: i64, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{table} row {seq}: {what}"))
}

fn operation_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Operation, StoreError>> {
    let status: String = row.get(3)?;
    let Some(parsed) = Status::parse(&status) else {
        return Ok(Err(StoreError::Corrupt(format!("operation status {status:?}"))));
    };
    let total: u64 = row.get(6)?;
    Ok(Ok(Operation {
        id: row.get(0)?,
        ts: row.get(1)?,
        updated_at: row.get(2)?,
        status: parsed,
        valid: row.get(4)?,
        user: row.get(5)?,
        count: Counts {
            total,
            users: total,
            completed: row.get(7)?,
            skipped: row.get(8)?,
            error: row.get(9)?,
        },
        reason: row.get(10)?,
    }))
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<Result<User, StoreError>> {
    let id: i64 = row.get(0)?;
    let list = |i: usize| -> rusqlite::Result<Result<Vec<String>, StoreError>> {
        let text: String = row.get(i)?;
        Ok(serde_json::from_str(&text).map_err(|e| corrupt("users", id, e)))
    };
    let (emails, roles, import_ids) = match (list(2)?, list(5)?, list(6)?) {
        (Ok(e), Ok(r), Ok(i)) => (e, r, i),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Ok(Err(e)),
    };
    let user_type: String = row.get(7)?;
    Ok(Ok(User {
        username: row.get(1)?,
        emails,
        name: row.get(3)?,
        active: row.get(4)?,
        roles,
        import_ids,
        user_type: if user_type == "bot" { UserType::Bot } else { UserType::User },
        has_password: row.get(8)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::UserType;

    fn staged(custom: serde_json::Value, utc_offset: Option<f64>) -> StagedUser {
        StagedUser {
            emails: vec!["Ann@Example.org".into()],
            import_ids: vec!["42".into(), "43".into()],
            username: None,
            name: None,
            avatar_url: Some("https://example.org/a \"b\".png".into()),
            status_text: None,
            bio: Some("é\n".into()),
            user_type: UserType::Bot,
            utc_offset,
            deleted: true,
            roles: vec!["bot".into(), "user".into()],
            custom_fields: custom.as_object().cloned(),
        }
    }

    // The profile column must read as it did when it was built as a `serde_json::Value`.
    #[test]
    fn account_columns_render_as_the_row_holds_them() {
        for (custom, offset) in [
            (serde_json::json!({"z": 1, "a": [true, null]}), Some(-3.5)),
            (serde_json::Value::Null, Some(2.0)),
            (serde_json::Value::Null, None),
        ] {
            let user = staged(custom, offset);
            let emails = vec![("Ann@Example.org".to_owned(), "ann@example.org".to_owned())];
            let account =
                Account::new(7, ("ann".into(), "ann".into()), "Ann".into(), emails, &user);
            let profile = serde_json::json!({
                "avatarUrl": user.avatar_url, "statusText": user.status_text, "bio": user.bio,
                "utcOffset": user.utc_offset, "customFields": user.custom_fields,
            });
            assert_eq!(account.columns.profile, profile.to_string());
            assert_eq!(account.columns.emails, r#"["Ann@Example.org"]"#);
            assert_eq!(account.columns.import_ids, r#"["42","43"]"#);
            assert_eq!(account.columns.roles, r#"["bot","user"]"#);
            assert_eq!((account.columns.active, account.columns.user_type), (false, "bot"));
            assert_eq!((account.import_id.as_str(), account.email_keys.len()), ("42", 1));
        }
    }
}
