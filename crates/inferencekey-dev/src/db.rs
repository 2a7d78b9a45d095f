//! All SQL lives here: one SQLite file per data folder, WAL with `synchronous=FULL` so an
//! acknowledged write survives a SIGKILL. A single connection behind a mutex; async callers go
//! through `spawn_blocking`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use crate::model::{Delivery, Project, TokenRecord, Webhook, Workload};
use crate::tokens::Kind;

/// Schema migrations, applied in order; `PRAGMA user_version` counts the applied ones.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE tokens (
    token_id    TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('sdk', 'live')),
    project_id  TEXT NOT NULL REFERENCES projects(id),
    token_hash  TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    grants      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE TABLE workloads (
    seq                     INTEGER PRIMARY KEY AUTOINCREMENT,
    id                      TEXT NOT NULL UNIQUE,
    project_id              TEXT NOT NULL REFERENCES projects(id),
    slug                    TEXT NOT NULL,
    name                    TEXT NOT NULL,
    description             TEXT,
    task_type               TEXT NOT NULL,
    backend                 TEXT NOT NULL,
    model_name              TEXT NOT NULL,
    config                  TEXT NOT NULL,
    worker_id               TEXT,
    gpu_resource_id         TEXT,
    execution_policy        TEXT,
    execution_policy_config TEXT,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL
);
CREATE UNIQUE INDEX workloads_project_slug ON workloads(project_id, slug);
"#,
    r#"
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    workload_id TEXT NOT NULL REFERENCES workloads(id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    -- nonce || XChaCha20-Poly1305 ciphertext of the secret (key: webhook.key, not in here)
    secret      BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (workload_id, url)
);
CREATE TABLE deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    job_id          TEXT NOT NULL,
    workload_id     TEXT NOT NULL,
    webhook_id      TEXT NOT NULL,
    url             TEXT NOT NULL,
    event           TEXT NOT NULL,
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    next_attempt_ms INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    updated_at      TEXT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(status, next_attempt_ms);
CREATE INDEX deliveries_workload ON deliveries(workload_id, seq);
"#,
    r#"
-- Jobs accepted and not yet finished: after a crash they end as job.failed, never silently.
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    workload_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    context     TEXT,
    created_at  TEXT NOT NULL
);
"#,
];

const WORKLOAD_COLUMNS: &str = "w.id, w.project_id, p.slug, w.slug, w.name, w.description, \
     w.task_type, w.backend, w.model_name, w.config, w.worker_id, w.gpu_resource_id, \
     w.execution_policy, w.execution_policy_config, w.created_at, w.updated_at";

/// Outcome of an insert that can hit the `(project, slug)` unique index.
#[derive(Debug)]
pub enum InsertError {
    SlugConflict,
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for InsertError {
    fn from(e: rusqlite::Error) -> Self {
        InsertError::Db(e)
    }
}

pub struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (or creates) the database file and applies pending migrations.
    pub fn open(path: &Path) -> Result<Db, rusqlite::Error> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "could not switch the journal to WAL (got {mode})"
            )));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)?;
            tx.commit()?;
        }
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- projects -------------------------------------------------------------------------

    /// Inserts a project, or returns the existing one with that slug.
    pub fn create_or_get_project(
        &self,
        id: &str,
        slug: &str,
        name: &str,
        now: &str,
    ) -> Result<Project, rusqlite::Error> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO projects (id, slug, name, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(slug) DO NOTHING",
            params![id, slug, name, now],
        )?;
        conn.query_row(
            "SELECT id, slug, name FROM projects WHERE slug = ?1",
            [slug],
            project_from_row,
        )
    }

    /// A project by slug or id.
    pub fn find_project(&self, key: &str) -> Result<Option<Project>, rusqlite::Error> {
        self.conn()
            .query_row(
                "SELECT id, slug, name FROM projects WHERE slug = ?1 OR id = ?1",
                [key],
                project_from_row,
            )
            .optional()
    }

    // ---- tokens ---------------------------------------------------------------------------

    /// Stores a token's hash. Returns false when the public id is already taken.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_token(
        &self,
        token_id: &str,
        kind: Kind,
        project_id: &str,
        hash: &str,
        scopes: &[String],
        grants: &[String],
        now: &str,
    ) -> Result<bool, rusqlite::Error> {
        let result = self.conn().execute(
            "INSERT INTO tokens (token_id, kind, project_id, token_hash, scopes, grants, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                token_id,
                kind.as_str(),
                project_id,
                hash,
                serde_json::to_string(scopes).unwrap_or_default(),
                serde_json::to_string(grants).unwrap_or_default(),
                now
            ],
        );
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn token(&self, token_id: &str) -> Result<Option<TokenRecord>, rusqlite::Error> {
        self.conn()
            .query_row(
                "SELECT t.token_id, t.kind, t.token_hash, t.scopes, t.grants, t.revoked_at,
                        p.id, p.slug, p.name
                 FROM tokens t JOIN projects p ON p.id = t.project_id
                 WHERE t.token_id = ?1",
                [token_id],
                |row| {
                    let kind: String = row.get(1)?;
                    let scopes: String = row.get(3)?;
                    let grants: String = row.get(4)?;
                    let revoked_at: Option<String> = row.get(5)?;
                    Ok(TokenRecord {
                        kind: Kind::parse(&kind).unwrap_or(Kind::Sdk),
                        hash: row.get(2)?,
                        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
                        grants: serde_json::from_str(&grants).unwrap_or_default(),
                        revoked: revoked_at.is_some(),
                        project: Project {
                            id: row.get(6)?,
                            slug: row.get(7)?,
                            name: row.get(8)?,
                        },
                    })
                },
            )
            .optional()
    }

    /// Marks a token revoked. Returns false for an unknown id.
    pub fn revoke_token(&self, token_id: &str, now: &str) -> Result<bool, rusqlite::Error> {
        let conn = self.conn();
        let exists = conn
            .query_row(
                "SELECT 1 FROM tokens WHERE token_id = ?1",
                [token_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if exists {
            conn.execute(
                "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE token_id = ?1",
                params![token_id, now],
            )?;
        }
        Ok(exists)
    }

    // ---- workloads ------------------------------------------------------------------------

    pub fn insert_workload(&self, w: &Workload) -> Result<(), InsertError> {
        let result = self.conn().execute(
            "INSERT INTO workloads (id, project_id, slug, name, description, task_type, backend,
                 model_name, config, worker_id, gpu_resource_id, execution_policy,
                 execution_policy_config, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                w.id,
                w.project_id,
                w.slug,
                w.name,
                w.description,
                w.task_type,
                w.backend,
                w.model_name,
                w.config.to_string(),
                w.worker_id,
                w.gpu_resource_id,
                w.execution_policy,
                w.execution_policy_config.as_ref().map(Value::to_string),
                w.created_at,
                w.updated_at,
            ],
        );
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(InsertError::SlugConflict),
            Err(e) => Err(InsertError::Db(e)),
        }
    }

    /// Reads workload `key` (id or slug) of `project_id`, lets `change` compute its new value,
    /// and writes it if it differs, all under one lock. `None` when there is no such workload.
    pub fn modify_workload<E, F>(
        &self,
        project_id: &str,
        key: &str,
        change: F,
    ) -> Result<Option<(Workload, Workload)>, E>
    where
        E: From<rusqlite::Error>,
        F: FnOnce(&Workload) -> Result<Workload, E>,
    {
        let conn = self.conn();
        let Some(old) = find_workload_in(&conn, project_id, key)? else {
            return Ok(None);
        };
        let new = change(&old)?;
        if new != old {
            update_workload_in(&conn, &new)?;
        }
        Ok(Some((old, new)))
    }

    pub fn delete_workload(&self, id: &str) -> Result<bool, rusqlite::Error> {
        Ok(self
            .conn()
            .execute("DELETE FROM workloads WHERE id = ?1", [id])?
            > 0)
    }

    /// The workloads of one project, oldest first.
    pub fn list_workloads(&self, project_id: &str) -> Result<Vec<Workload>, rusqlite::Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {WORKLOAD_COLUMNS} FROM workloads w JOIN projects p ON p.id = w.project_id
             WHERE w.project_id = ?1 ORDER BY w.seq"
        ))?;
        let rows = stmt.query_map([project_id], workload_from_row)?;
        rows.collect()
    }

    /// Every workload of every project, oldest first (restore at start).
    pub fn all_workloads(&self) -> Result<Vec<Workload>, rusqlite::Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {WORKLOAD_COLUMNS} FROM workloads w JOIN projects p ON p.id = w.project_id
             ORDER BY w.seq"
        ))?;
        let rows = stmt.query_map([], workload_from_row)?;
        rows.collect()
    }

    pub fn workload(&self, id: &str) -> Result<Option<Workload>, rusqlite::Error> {
        self.conn()
            .query_row(
                &format!(
                    "SELECT {WORKLOAD_COLUMNS} FROM workloads w
                     JOIN projects p ON p.id = w.project_id WHERE w.id = ?1"
                ),
                [id],
                workload_from_row,
            )
            .optional()
    }

    /// A workload of `project_id` named by its id or its slug.
    pub fn find_workload(
        &self,
        project_id: &str,
        key: &str,
    ) -> Result<Option<Workload>, rusqlite::Error> {
        find_workload_in(&self.conn(), project_id, key)
    }

    // ---- webhooks -------------------------------------------------------------------------

    /// Adds a destination unless the workload already has `limit` of them or this URL.
    pub fn insert_webhook(
        &self,
        hook: &Webhook,
        secret: &[u8],
        limit: usize,
    ) -> Result<Result<(), WebhookInsertError>, rusqlite::Error> {
        let conn = self.conn();
        let count: i64 = conn.query_row(
            "SELECT COUNT(*) FROM webhooks WHERE workload_id = ?1",
            [&hook.workload_id],
            |r| r.get(0),
        )?;
        if count as usize >= limit {
            return Ok(Err(WebhookInsertError::Limit));
        }
        let result = conn.execute(
            "INSERT INTO webhooks (id, workload_id, url, secret, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![hook.id, hook.workload_id, hook.url, secret, hook.created_at],
        );
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) if is_unique_violation(&e) => Ok(Err(WebhookInsertError::Duplicate)),
            Err(e) => Err(e),
        }
    }

    /// A workload's destinations with their encrypted secrets, oldest first.
    pub fn webhooks(&self, workload_id: &str) -> Result<Vec<(Webhook, Vec<u8>)>, rusqlite::Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, workload_id, url, created_at, secret FROM webhooks
             WHERE workload_id = ?1 ORDER BY rowid",
        )?;
        let rows = stmt.query_map([workload_id], |row| {
            Ok((
                Webhook {
                    id: row.get(0)?,
                    workload_id: row.get(1)?,
                    url: row.get(2)?,
                    created_at: row.get(3)?,
                },
                row.get(4)?,
            ))
        })?;
        rows.collect()
    }

    /// One destination's encrypted secret.
    pub fn webhook_secret(&self, id: &str) -> Result<Option<Vec<u8>>, rusqlite::Error> {
        self.conn()
            .query_row("SELECT secret FROM webhooks WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
    }

    pub fn delete_webhook(&self, workload_id: &str, id: &str) -> Result<bool, rusqlite::Error> {
        Ok(self.conn().execute(
            "DELETE FROM webhooks WHERE workload_id = ?1 AND id = ?2",
            [workload_id, id],
        )? > 0)
    }

    /// Records an accepted job (removed when its deliveries are recorded).
    pub fn insert_job(
        &self,
        id: &str,
        workload_id: &str,
        kind: &str,
        context: Option<&str>,
        now: &str,
    ) -> Result<(), rusqlite::Error> {
        self.conn().execute(
            "INSERT INTO jobs (id, workload_id, kind, context, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, workload_id, kind, context, now],
        )?;
        Ok(())
    }

    /// Jobs accepted by an earlier run that never finished: (id, workload_id, kind, context).
    #[allow(clippy::type_complexity)]
    pub fn unfinished_jobs(
        &self,
    ) -> Result<Vec<(String, String, String, Option<String>)>, rusqlite::Error> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, workload_id, kind, context FROM jobs ORDER BY rowid")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect()
    }

    /// Records a finished job's deliveries and forgets the job, in one transaction: a job's
    /// deliveries exist all or none, and a job with none is still finished.
    pub fn finish_job(&self, job_id: &str, deliveries: &[Delivery]) -> Result<(), rusqlite::Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM jobs WHERE id = ?1", [job_id])?;
        for d in deliveries {
            tx.execute(
                "INSERT INTO deliveries (id, job_id, workload_id, webhook_id, url, event, body,
                     attempts, status, next_attempt_ms, last_status, last_error, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    d.id,
                    d.job_id,
                    d.workload_id,
                    d.webhook_id,
                    d.url,
                    d.event,
                    d.body,
                    d.attempts,
                    d.status,
                    d.next_attempt_ms,
                    d.last_status,
                    d.last_error,
                    d.updated_at
                ],
            )?;
        }
        tx.commit()
    }

    /// Pending deliveries due at `now_ms`, oldest first, at most `limit`.
    pub fn due_deliveries(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, rusqlite::Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries
             WHERE status = 'pending' AND next_attempt_ms <= ?1 ORDER BY next_attempt_ms, seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![now_ms, limit as i64], delivery_from_row)?;
        rows.collect()
    }

    /// When the next pending delivery is due, if any.
    pub fn next_due_ms(&self) -> Result<Option<i64>, rusqlite::Error> {
        self.conn().query_row(
            "SELECT MIN(next_attempt_ms) FROM deliveries WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
    }

    /// Records one attempt's outcome.
    pub fn record_attempt(&self, d: &Delivery) -> Result<(), rusqlite::Error> {
        self.conn().execute(
            "UPDATE deliveries SET attempts = ?2, status = ?3, next_attempt_ms = ?4,
                 last_status = ?5, last_error = ?6, updated_at = ?7
             WHERE id = ?1",
            params![
                d.id,
                d.attempts,
                d.status,
                d.next_attempt_ms,
                d.last_status,
                d.last_error,
                d.updated_at
            ],
        )?;
        Ok(())
    }

    /// A workload's deliveries, oldest first.
    pub fn deliveries(&self, workload_id: &str) -> Result<Vec<Delivery>, rusqlite::Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE workload_id = ?1 ORDER BY seq"
        ))?;
        let rows = stmt.query_map([workload_id], delivery_from_row)?;
        rows.collect()
    }
}

/// Why a destination was not added.
#[derive(Debug, PartialEq, Eq)]
pub enum WebhookInsertError {
    Limit,
    Duplicate,
}

const DELIVERY_COLUMNS: &str = "id, job_id, workload_id, webhook_id, url, event, body, attempts, \
     status, next_attempt_ms, last_status, last_error, updated_at";

fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: row.get(0)?,
        job_id: row.get(1)?,
        workload_id: row.get(2)?,
        webhook_id: row.get(3)?,
        url: row.get(4)?,
        event: row.get(5)?,
        body: row.get(6)?,
        attempts: row.get(7)?,
        status: row.get(8)?,
        next_attempt_ms: row.get(9)?,
        last_status: row.get(10)?,
        last_error: row.get(11)?,
        updated_at: row.get(12)?,
    })
}

fn find_workload_in(
    conn: &Connection,
    project_id: &str,
    key: &str,
) -> Result<Option<Workload>, rusqlite::Error> {
    conn.query_row(
        &format!(
            "SELECT {WORKLOAD_COLUMNS} FROM workloads w
             JOIN projects p ON p.id = w.project_id
             WHERE w.project_id = ?1 AND (w.id = ?2 OR w.slug = ?2)
             ORDER BY (w.id = ?2) DESC LIMIT 1"
        ),
        params![project_id, key],
        workload_from_row,
    )
    .optional()
}

/// Writes every mutable column of `w` (matched by id).
fn update_workload_in(conn: &Connection, w: &Workload) -> Result<(), rusqlite::Error> {
    conn.execute(
        "UPDATE workloads SET name = ?2, description = ?3, backend = ?4, model_name = ?5,
             config = ?6, worker_id = ?7, gpu_resource_id = ?8, execution_policy = ?9,
             execution_policy_config = ?10, updated_at = ?11
         WHERE id = ?1",
        params![
            w.id,
            w.name,
            w.description,
            w.backend,
            w.model_name,
            w.config.to_string(),
            w.worker_id,
            w.gpu_resource_id,
            w.execution_policy,
            w.execution_policy_config.as_ref().map(Value::to_string),
            w.updated_at,
        ],
    )?;
    Ok(())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(err, _)
            if err.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

fn project_from_row(row: &Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        id: row.get(0)?,
        slug: row.get(1)?,
        name: row.get(2)?,
    })
}

fn workload_from_row(row: &Row<'_>) -> rusqlite::Result<Workload> {
    let config: String = row.get(9)?;
    let policy_config: Option<String> = row.get(13)?;
    Ok(Workload {
        id: row.get(0)?,
        project_id: row.get(1)?,
        project_slug: row.get(2)?,
        slug: row.get(3)?,
        name: row.get(4)?,
        description: row.get(5)?,
        task_type: row.get(6)?,
        backend: row.get(7)?,
        model_name: row.get(8)?,
        config: serde_json::from_str(&config).unwrap_or_else(|_| Value::Object(Default::default())),
        worker_id: row.get(10)?,
        gpu_resource_id: row.get(11)?,
        execution_policy: row.get(12)?,
        execution_policy_config: policy_config.and_then(|s| serde_json::from_str(&s).ok()),
        created_at: row.get(14)?,
        updated_at: row.get(15)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Workload `bot` (`wl_1`) of project `p`.
    fn workload(p: &Project) -> Workload {
        Workload {
            id: "wl_1".into(),
            project_id: p.id.clone(),
            project_slug: p.slug.clone(),
            slug: "bot".into(),
            name: "Bot".into(),
            description: None,
            task_type: "text2text".into(),
            backend: "vllm".into(),
            model_name: "m".into(),
            config: serde_json::json!({}),
            worker_id: None,
            gpu_resource_id: None,
            execution_policy: Some("fixed".into()),
            execution_policy_config: None,
            created_at: "t".into(),
            updated_at: "t".into(),
        }
    }

    #[test]
    fn migrations_apply_once_and_slugs_are_unique_per_project() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("platform.db");
        let db = Db::open(&path).unwrap();
        let p = db
            .create_or_get_project("proj_a", "acme", "Acme", "t")
            .unwrap();
        let again = db
            .create_or_get_project("proj_b", "acme", "Other", "t")
            .unwrap();
        assert_eq!(p, again);
        let w = workload(&p);
        db.insert_workload(&w).unwrap();
        let dup = Workload {
            id: "wl_2".into(),
            ..w.clone()
        };
        assert!(matches!(
            db.insert_workload(&dup),
            Err(InsertError::SlugConflict)
        ));
        drop(db);
        let db = Db::open(&path).unwrap();
        assert_eq!(db.list_workloads("proj_a").unwrap(), vec![w.clone()]);
        assert_eq!(db.find_workload("proj_a", "bot").unwrap(), Some(w.clone()));
        assert_eq!(db.find_workload("proj_a", "wl_1").unwrap(), Some(w));
    }

    #[test]
    fn webhooks_are_limited_unique_and_go_with_their_workload() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("platform.db")).unwrap();
        let p = db
            .create_or_get_project("proj_a", "acme", "Acme", "t")
            .unwrap();
        let w = workload(&p);
        db.insert_workload(&w).unwrap();
        let hook = |n: usize, url: &str| Webhook {
            id: format!("wh_{n}"),
            workload_id: "wl_1".into(),
            url: url.into(),
            created_at: "t".into(),
        };
        assert_eq!(
            db.insert_webhook(&hook(0, "https://a.example/"), b"s", 2)
                .unwrap(),
            Ok(())
        );
        assert_eq!(
            db.insert_webhook(&hook(1, "https://a.example/"), b"s", 2)
                .unwrap(),
            Err(WebhookInsertError::Duplicate)
        );
        assert_eq!(
            db.insert_webhook(&hook(2, "https://b.example/"), b"s", 2)
                .unwrap(),
            Ok(())
        );
        assert_eq!(
            db.insert_webhook(&hook(3, "https://c.example/"), b"s", 2)
                .unwrap(),
            Err(WebhookInsertError::Limit)
        );
        assert_eq!(db.webhook_secret("wh_2").unwrap(), Some(b"s".to_vec()));
        // Deleting the workload takes its destinations with it.
        assert!(db.delete_workload("wl_1").unwrap());
        assert!(db.webhooks("wl_1").unwrap().is_empty());
        assert_eq!(db.webhook_secret("wh_2").unwrap(), None);
    }
}
