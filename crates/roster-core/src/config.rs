//! The knobs of an engine, set once when it is opened.

use std::num::NonZeroUsize;

use crate::Error;

/// What to do with an operation found `importing` when a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnInterrupted {
    /// Go on with the run in the background (the default).
    #[default]
    Resume,
    /// End the operation as `error` with reason `interrupted`.
    MarkError,
    /// Leave it as it is: for read-only tools that only look at a store.
    Leave,
}

/// Which usernames are acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernamePolicy {
    /// Punctuation allowed beside Unicode letters, marks and decimal digits.
    pub punctuation: String,
    /// The most characters (Unicode scalar values) a username may have.
    pub max_chars: usize,
}

impl Default for UsernamePolicy {
    fn default() -> Self {
        UsernamePolicy { punctuation: "._-".to_owned(), max_chars: 64 }
    }
}

/// Everything configurable about an engine.
#[derive(Debug, Clone)]
pub struct Config {
    /// Threads that hash passwords during a run; default: the machine's parallelism.
    pub workers: usize,
    /// bcrypt cost for imported passwords, 4 to 31; default 10.
    pub bcrypt_cost: u32,
    /// Most staged records decided and committed in one transaction; default 3000. Larger
    /// transactions write each index page they touch fewer times, but a run's resident
    /// memory grows by about 6 KiB per record of batch size (see docs/BENCHMARKS.md).
    pub batch_size: usize,
    /// Most passwords in one batch per worker, so a batch of hashing stays short and a
    /// cancel or a shutdown takes effect soon.
    pub passwords_per_worker: usize,
    /// Roles merged into every staged user; default `["user"]`.
    pub default_roles: Vec<String>,
    /// The roles a staged user may have.
    pub role_catalogue: Vec<String>,
    /// Which usernames are valid.
    pub username_policy: UsernamePolicy,
    /// What opening a store does with an interrupted run.
    pub on_interrupted: OnInterrupted,
}

/// Rocket.Chat's built-in roles, the default catalogue.
pub const BUILT_IN_ROLES: [&str; 12] = [
    "admin",
    "moderator",
    "leader",
    "owner",
    "user",
    "bot",
    "app",
    "guest",
    "anonymous",
    "livechat-agent",
    "livechat-manager",
    "livechat-monitor",
];

impl Default for Config {
    fn default() -> Self {
        Config {
            workers: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            bcrypt_cost: 10,
            batch_size: 3000,
            passwords_per_worker: 8,
            default_roles: vec!["user".to_owned()],
            role_catalogue: BUILT_IN_ROLES.iter().map(|r| (*r).to_owned()).collect(),
            username_policy: UsernamePolicy::default(),
            on_interrupted: OnInterrupted::Resume,
        }
    }
}

impl Config {
    /// Refuses a configuration that no run could use.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let problem = if self.workers == 0 {
            "workers must be at least 1"
        } else if !(4..=31).contains(&self.bcrypt_cost) {
            "bcrypt_cost must be between 4 and 31"
        } else if self.batch_size == 0 || self.passwords_per_worker == 0 {
            "batch_size and passwords_per_worker must be at least 1"
        } else if self.username_policy.max_chars == 0 {
            "username_policy.max_chars must be at least 1"
        } else {
            return Ok(());
        };
        Err(Error::InvalidConfig(problem))
    }
}
