//! The operation document and its counts: what `status` shows and a run updates.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::state::{State, Status};

/// The progress counts of an operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Records staged.
    pub total: u64,
    /// Users staged (the same as `total`: every record is one user).
    pub users: u64,
    /// Users imported.
    pub completed: u64,
    /// Records flagged `skipped`.
    pub skipped: u64,
    /// Records flagged `failed`.
    pub error: u64,
}

impl Counts {
    /// Records decided so far.
    pub fn decided(&self) -> u64 {
        self.completed + self.skipped + self.error
    }
}

/// One import job, as Rocket.Chat's `import.status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// 24 lowercase hex digits.
    pub id: String,
    /// When it was made (ISO 8601).
    pub ts: String,
    /// When it last changed (ISO 8601).
    pub updated_at: String,
    /// The Rocket.Chat status string.
    pub status: Status,
    /// False once a newer operation or a `clear` invalidated it.
    pub valid: bool,
    /// Who made it.
    pub user: String,
    /// The progress counts.
    pub count: Counts,
    /// Why it ended `error`, when it did.
    pub reason: Option<String>,
}

impl Operation {
    /// The state this operation is in.
    pub fn state(&self) -> State {
        self.status.state()
    }
}

impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut doc = serializer.serialize_struct("Operation", 10)?;
        doc.serialize_field("_id", &self.id)?;
        doc.serialize_field("type", "api")?;
        doc.serialize_field("importerKey", "api")?;
        doc.serialize_field("ts", &self.ts)?;
        doc.serialize_field("_updatedAt", &self.updated_at)?;
        doc.serialize_field("status", self.status.as_str())?;
        doc.serialize_field("valid", &self.valid)?;
        doc.serialize_field("user", &self.user)?;
        doc.serialize_field("count", &self.count)?;
        if let Some(reason) = &self.reason {
            doc.serialize_field("reason", reason)?;
        }
        doc.end()
    }
}

/// The answer of `status`: the state, and the latest operation if there ever was one.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    /// `none` when no operation was ever made.
    pub state: State,
    /// The latest operation, valid or not.
    pub operation: Option<Operation>,
}

/// Whether a flagged record was skipped (a conflict) or failed (invalid or refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Not imported because an email or the username is already taken.
    Skipped,
    /// Not imported because the record is invalid or the store refused it.
    Failed,
}

/// Why a record was not imported: a stable code, for programs to count and match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// An email is not a valid address.
    InvalidEmail,
    /// The username does not match the username policy.
    InvalidUsername,
    /// An email is held by an existing user or an earlier record of the run.
    EmailInUse,
    /// The username is held by an existing user or an earlier record of the run.
    UsernameInUse,
    /// The store refused to create this user.
    StoreError,
}

impl Reason {
    /// The stable code, such as `email-in-use`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidEmail => "invalid-email",
            Reason::InvalidUsername => "invalid-username",
            Reason::EmailInUse => "email-in-use",
            Reason::UsernameInUse => "username-in-use",
            Reason::StoreError => "store-error",
        }
    }

    /// The code for a stored string.
    pub(crate) fn parse(code: &str) -> Option<Reason> {
        [
            Reason::InvalidEmail,
            Reason::InvalidUsername,
            Reason::EmailInUse,
            Reason::UsernameInUse,
            Reason::StoreError,
        ]
        .into_iter()
        .find(|r| r.as_str() == code)
    }

    /// Which outcome a record flagged for this reason has.
    pub fn outcome(self) -> Outcome {
        match self {
            Reason::EmailInUse | Reason::UsernameInUse => Outcome::Skipped,
            Reason::InvalidEmail | Reason::InvalidUsername | Reason::StoreError => Outcome::Failed,
        }
    }
}

/// A staged record that was not imported, and why. Never holds a password.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Flag {
    /// The record's first importId.
    pub import_id: String,
    /// Skipped or failed.
    pub outcome: Outcome,
    /// The stable reason code.
    pub reason: Reason,
    /// A sentence naming the record, the value at fault and who holds it.
    pub message: String,
    /// The record's username, if it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The record's emails.
    pub emails: Vec<String>,
}

/// One page of flagged records, in staging order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FlaggedPage {
    /// The records of this page.
    pub flagged: Vec<Flag>,
    /// How many flagged records the current operation has in all.
    pub total: u64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// `done`, `error` or `canceled`; `importing` when the engine was shut down mid-run (the
    /// run resumes when the store is opened again).
    pub state: State,
    /// The counts at the end.
    pub count: Counts,
    /// Why the run ended `error`, when it did.
    pub reason: Option<String>,
}
