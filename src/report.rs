//! What the commands print: summaries, status, flagged records and users, as text for a
//! person or as JSON for a program.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use roster_core::{Engine, Flag, Summary};
use serde_json::json;

use crate::cli::Failure;

/// Flagged records are read from the store in pages of this many.
const PAGE: u64 = 1000;

/// How many flagged records the text summary lists.
const FIRST_FLAGGED: usize = 10;

/// Calls `each` with every flagged record of the current operation, in staging order.
fn each_flag(
    engine: &Engine,
    mut each: impl FnMut(Flag) -> Result<(), Failure>,
) -> Result<(), Failure> {
    for offset in (0..).step_by(PAGE as usize) {
        let page = engine.flagged(offset, PAGE)?;
        let last = page.flagged.len() < PAGE as usize;
        page.flagged.into_iter().try_for_each(&mut each)?;
        if last {
            break;
        }
    }
    Ok(())
}

/// The end of an import: counts, reasons and the first flagged records, or one JSON object.
/// The last pair is how many records this command decided (a resumed run had decided some
/// before it) and how long it took, for the rate.
pub fn summary(
    engine: &Engine,
    summary: &Summary,
    json: bool,
    (decided, took): (u64, Duration),
) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let c = &summary.count;
    if json {
        let mut flagged = Vec::new();
        each_flag(engine, |f| {
            flagged.push(json!({"importId": f.import_id, "outcome": f.outcome, "reason": f.reason, "message": f.message}));
            Ok(())
        })?;
        let doc = json!({
            "state": summary.state,
            "count": {"total": c.total, "completed": c.completed, "skipped": c.skipped, "error": c.error},
            "flagged": flagged,
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }

    let mut reasons: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut first = Vec::new();
    each_flag(engine, |f| {
        *reasons.entry(f.reason.as_str()).or_default() += 1;
        if first.len() < FIRST_FLAGGED {
            first.push(f);
        }
        Ok(())
    })?;
    let secs = took.as_secs_f64();
    let rate = if secs > 0.0 { decided as f64 / secs } else { 0.0 };
    writeln!(
        out,
        "Import {}: {} imported, {} skipped, {} failed of {} users ({:.1} s, {:.0} users/s)",
        summary.state, c.completed, c.skipped, c.error, c.total, secs, rate
    )?;
    if let Some(reason) = &summary.reason {
        writeln!(out, "The run stopped: {reason}")?;
    }
    if !reasons.is_empty() {
        writeln!(out, "\nReasons:")?;
        for (reason, n) in &reasons {
            writeln!(out, "  {reason:<18} {n}")?;
        }
        writeln!(out, "\nFirst flagged records:")?;
        for f in &first {
            writeln!(out, "  {:<16} {:<8} {}", f.import_id, outcome(f), f.message)?;
        }
        let total = reasons.values().sum::<u64>();
        if total as usize > first.len() {
            writeln!(
                out,
                "  ... and {} more: `roster flagged` lists them all",
                total as usize - first.len()
            )?;
        }
    }
    Ok(())
}

fn outcome(f: &Flag) -> &'static str {
    match f.outcome {
        roster_core::Outcome::Skipped => "skipped",
        roster_core::Outcome::Failed => "failed",
    }
}

/// `roster status`.
pub fn status(engine: &Engine, json: bool) -> Result<ExitCode, Failure> {
    let report = engine.status()?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", json!({"state": report.state, "operation": report.operation}))?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "state: {}", report.state)?;
    if report.state == roster_core::State::Importing {
        writeln!(
            out,
            "(an import or a server is running it, or it was interrupted: `roster resume` \
             finishes an interrupted one)"
        )?;
    }
    if let Some(op) = &report.operation {
        let c = &op.count;
        writeln!(
            out,
            "operation: {} ({}, made {} by {})",
            op.id,
            op.status.as_str(),
            op.ts,
            op.user
        )?;
        writeln!(
            out,
            "count: {} total, {} imported, {} skipped, {} failed",
            c.total, c.completed, c.skipped, c.error
        )?;
        if let Some(reason) = &op.reason {
            writeln!(out, "reason: {reason}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `roster flagged`.
pub fn flagged(engine: &Engine, json: bool) -> Result<ExitCode, Failure> {
    let mut out = std::io::stdout().lock();
    let mut any = false;
    each_flag(engine, |f| {
        any = true;
        if json {
            writeln!(
                out,
                "{}",
                serde_json::to_string(&f).map_err(|e| Failure::Other(e.to_string()))?
            )?;
        } else {
            writeln!(
                out,
                "{:<16} {:<8} {:<17} {}",
                f.import_id,
                outcome(&f),
                f.reason.as_str(),
                f.message
            )?;
        }
        Ok(())
    })?;
    if !any && !json {
        writeln!(out, "No flagged records in the current operation.")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `roster users`.
pub fn users(engine: &Engine, json: bool) -> Result<ExitCode, Failure> {
    let mut out = std::io::stdout().lock();
    for offset in (0..).step_by(PAGE as usize) {
        let page = engine.users(offset, PAGE)?;
        for u in &page {
            if json {
                let line = json!({"username": u.username, "emails": u.emails, "name": u.name,
                    "active": u.active, "roles": u.roles, "importIds": u.import_ids,
                    "hasPassword": u.has_password});
                writeln!(out, "{line}")?;
            } else {
                let active = if u.active { "" } else { " (inactive)" };
                writeln!(
                    out,
                    "{:<24} {:<32} {}{}",
                    u.username,
                    u.emails.join(","),
                    u.name,
                    active
                )?;
            }
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
