//! The operation state machine: the states, their wire names, and the one place that
//! decides which call is legal in which state.
//!
//! Every engine call asks [`check`] before it touches anything, so an illegal call changes
//! nothing and answers with the Rocket.Chat error string for it.

use serde::Serialize;

use crate::Error;

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// No operation was ever made in this store.
    None,
    /// Made, nothing staged yet.
    New,
    /// Users staged; ready to run.
    Ready,
    /// A run is under way (or was interrupted and will resume).
    Importing,
    /// The run ended with every staged record imported or flagged.
    Done,
    /// The run could not continue; the reason is on the operation.
    Error,
    /// Invalidated by `clear` or `new` before it ended.
    Canceled,
}

/// The engine calls whose legality depends on the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    AddUsers,
    Run,
}

impl State {
    /// The lowercase name used by the CLI and in `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::None => "none",
            State::New => "new",
            State::Ready => "ready",
            State::Importing => "importing",
            State::Done => "done",
            State::Error => "error",
            State::Canceled => "canceled",
        }
    }

    /// Whether a run in this state is over for good.
    pub fn is_final(self) -> bool {
        matches!(self, State::Done | State::Error | State::Canceled)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Rocket.Chat status strings of the operation document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `importer_new`
    New,
    /// `importer_user_selection`
    UserSelection,
    /// `importer_importing_started`
    ImportingStarted,
    /// `importer_importing_users`
    ImportingUsers,
    /// `importer_finishing`
    Finishing,
    /// `importer_done`
    Done,
    /// `importer_import_failed`
    Failed,
    /// `importer_import_cancelled`
    Cancelled,
}

const STATUS_NAMES: [(Status, &str); 8] = [
    (Status::New, "importer_new"),
    (Status::UserSelection, "importer_user_selection"),
    (Status::ImportingStarted, "importer_importing_started"),
    (Status::ImportingUsers, "importer_importing_users"),
    (Status::Finishing, "importer_finishing"),
    (Status::Done, "importer_done"),
    (Status::Failed, "importer_import_failed"),
    (Status::Cancelled, "importer_import_cancelled"),
];

impl Status {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        STATUS_NAMES.iter().find(|(s, _)| *s == self).map(|(_, n)| *n).unwrap_or_default()
    }

    /// The status for a wire string, if it is one.
    pub fn parse(name: &str) -> Option<Status> {
        STATUS_NAMES.iter().find(|(_, n)| *n == name).map(|(s, _)| *s)
    }

    /// The state this status reads as.
    pub fn state(self) -> State {
        match self {
            Status::New => State::New,
            Status::UserSelection => State::Ready,
            Status::ImportingStarted | Status::ImportingUsers | Status::Finishing => {
                State::Importing
            }
            Status::Done => State::Done,
            Status::Failed => State::Error,
            Status::Cancelled => State::Canceled,
        }
    }
}

/// Whether `call` is legal for the current operation, given its state and whether it is still
/// valid (`None` when there is no current operation at all).
pub(crate) fn check(call: Call, current: Option<State>) -> Result<(), Error> {
    match (call, current) {
        (Call::AddUsers, None) => Err(Error::NotInitialized),
        (Call::AddUsers, Some(State::New | State::Ready)) => Ok(()),
        (Call::AddUsers, Some(_)) => Err(Error::CannotReceiveData),
        (Call::Run, None) => Err(Error::OperationNotFound),
        (Call::Run, Some(State::Ready)) => Ok(()),
        (Call::Run, Some(State::Done)) => Err(Error::AlreadyFinished),
        (Call::Run, Some(_)) => Err(Error::InvalidOperationStatus),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_wire_name() {
        for (status, name) in STATUS_NAMES {
            assert_eq!(status.as_str(), name);
            assert_eq!(Status::parse(name), Some(status));
        }
        assert_eq!(Status::parse("importer_bogus"), None);
    }

    #[test]
    fn add_users_is_legal_only_in_new_and_ready() {
        assert!(matches!(check(Call::AddUsers, None), Err(Error::NotInitialized)));
        assert!(check(Call::AddUsers, Some(State::New)).is_ok());
        assert!(check(Call::AddUsers, Some(State::Ready)).is_ok());
        for s in [State::Importing, State::Done, State::Error, State::Canceled] {
            assert!(matches!(check(Call::AddUsers, Some(s)), Err(Error::CannotReceiveData)));
        }
    }

    #[test]
    fn run_is_legal_only_in_ready() {
        assert!(matches!(check(Call::Run, None), Err(Error::OperationNotFound)));
        assert!(check(Call::Run, Some(State::Ready)).is_ok());
        assert!(matches!(check(Call::Run, Some(State::Done)), Err(Error::AlreadyFinished)));
        for s in [State::New, State::Importing, State::Error, State::Canceled] {
            assert!(matches!(check(Call::Run, Some(s)), Err(Error::InvalidOperationStatus)));
        }
    }
}
