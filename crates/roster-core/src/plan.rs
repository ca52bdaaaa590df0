//! The planner's rules: what becomes of one staged record. Validation first (a failed
//! record), then conflicts against existing users and earlier records of the run (a
//! skipped record), else a user to create, with a username and a name made up if missing.
//!
//! Records are decided one at a time in staging order, by one thread, so the first record
//! wins every conflict whatever the number of workers.

use std::collections::HashMap;

use crate::identity::{guess_name, is_valid_email, key};
use crate::operation::Reason;
use crate::store::{Account, Decision, FlagRecord, Holder, Pending, Store};
use crate::{Config, Password, StoreError};

/// Keys taken by records of this run that are not committed yet, with the batch that took
/// them. Once a batch commits, its users are in the store and its claims are dropped, so the
/// map holds at most the batches in flight, however large the file.
#[derive(Default)]
pub(crate) struct Claims {
    emails: HashMap<String, (u64, Holder)>,
    usernames: HashMap<String, (u64, Holder)>,
    /// For the base of a generated username, the first suffix that may still be free:
    /// usernames are only ever taken during a run, so every number below it stays taken,
    /// and a thousand `info@...` addresses cost a thousand look-ups, not half a million.
    /// A hint only: it is emptied when it grows past [`SUFFIX_HINTS`].
    next_suffix: HashMap<String, u64>,
}

/// The most bases whose next free suffix is remembered.
const SUFFIX_HINTS: usize = 100_000;

impl Claims {
    /// Forgets the claims of every batch up to and including `batch`.
    pub(crate) fn release_through(&mut self, batch: u64) {
        self.emails.retain(|_, (b, _)| *b > batch);
        self.usernames.retain(|_, (b, _)| *b > batch);
    }
}

/// The decision for one record, and its password when the user is to be created with one.
pub(crate) struct Planned {
    pub decision: Decision,
    pub password: Option<Password>,
}

/// Decides one record against the store and the claims of the run.
pub(crate) fn decide(
    record: Pending,
    batch: u64,
    claims: &mut Claims,
    store: &Store,
    config: &Config,
) -> Result<Planned, StoreError> {
    let Pending { seq, user, password } = record;
    let id = user.import_ids[0].clone();
    let flag = |reason: Reason, message: String| Planned {
        decision: Decision::Flag(FlagRecord { seq, import_id: id.clone(), reason, message }),
        password: None,
    };

    if let Some(bad) = user.emails.iter().find(|e| !is_valid_email(e)) {
        return Ok(flag(
            Reason::InvalidEmail,
            format!("record {id}: \"{bad}\" is not a valid email address"),
        ));
    }
    if let Some(name) = user.username.as_deref().filter(|u| !config.username_policy.accepts(u)) {
        let policy = &config.username_policy;
        let message = format!(
            "record {id}: username \"{name}\" is not allowed (letters, marks, digits and \"{}\", \
             1 to {} characters)",
            policy.punctuation, policy.max_chars
        );
        return Ok(flag(Reason::InvalidUsername, message));
    }

    let emails = distinct_keys(&user.emails);
    for (address, email_key) in &emails {
        if let Some(holder) = find(&claims.emails, email_key, || store.email_holder(email_key))? {
            let message = format!("record {id}: email \"{address}\" {}", held_by(&holder));
            return Ok(flag(Reason::EmailInUse, message));
        }
    }
    let username = match &user.username {
        Some(given) => {
            let username_key = key(given);
            let holder =
                find(&claims.usernames, &username_key, || store.username_holder(&username_key))?;
            if let Some(holder) = holder {
                let message = format!("record {id}: username \"{given}\" {}", held_by(&holder));
                return Ok(flag(Reason::UsernameInUse, message));
            }
            (given.clone(), username_key)
        }
        None => free_username(&user.emails[0], claims, store, config)?,
    };

    let holder = Holder { username: username.0.clone(), import_id: Some(id.clone()) };
    for (_, email_key) in &emails {
        claims.emails.insert(email_key.clone(), (batch, holder.clone()));
    }
    claims.usernames.insert(username.1.clone(), (batch, holder));

    let name = user.name.clone().unwrap_or_else(|| guess_name(&username.0));
    let account = Account::new(seq, username, name, emails, &user);
    Ok(Planned { decision: Decision::Create(Box::new(account)), password })
}

/// Each address with its key, the later of two addresses with one key left out.
fn distinct_keys(emails: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(emails.len());
    for address in emails {
        let k = key(address);
        if !out.iter().any(|(_, seen)| *seen == k) {
            out.push((address.clone(), k));
        }
    }
    out
}

/// Who holds `k`: an earlier record of the run, else an existing user.
fn find(
    claims: &HashMap<String, (u64, Holder)>,
    k: &str,
    in_store: impl FnOnce() -> Result<Option<Holder>, StoreError>,
) -> Result<Option<Holder>, StoreError> {
    match claims.get(k) {
        Some((_, holder)) => Ok(Some(holder.clone())),
        None => in_store(),
    }
}

fn held_by(holder: &Holder) -> String {
    match &holder.import_id {
        Some(id) => format!("is already used by user \"{}\" (importId {id})", holder.username),
        None => format!("is already used by user \"{}\"", holder.username),
    }
}

/// The smallest free username made from `email`: `ann`, else `ann1`, `ann2`, ...
fn free_username(
    email: &str,
    claims: &mut Claims,
    store: &Store,
    config: &Config,
) -> Result<(String, String), StoreError> {
    let policy = &config.username_policy;
    let base_key = key(&policy.username_base(email, 0));
    let first = claims.next_suffix.get(&base_key).copied().unwrap_or(0);
    for n in first.. {
        let candidate = match n {
            0 => policy.username_base(email, 0),
            _ => format!("{}{n}", policy.username_base(email, n.to_string().len())),
        };
        let candidate_key = key(&candidate);
        let taken = claims.usernames.contains_key(&candidate_key)
            || store.username_holder(&candidate_key)?.is_some();
        if !taken {
            if claims.next_suffix.len() >= SUFFIX_HINTS {
                claims.next_suffix.clear();
            }
            claims.next_suffix.insert(base_key, n + 1);
            return Ok((candidate, candidate_key));
        }
    }
    unreachable!("some numeric suffix is always free")
}
