//! The engine: the public face of the core. It owns the store and the current run, and
//! puts every call through the state machine before it changes anything.
//!
//! Locks are always taken in one order: the run slot, then the store. The run's own
//! threads take only the store lock, between batches, so calls interleave with a run.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use rand::RngCore;
use tracing::{info, warn};

use crate::error::RecordRef;
use crate::identity::key;
use crate::operation::{FlaggedPage, Operation, StatusReport};
use crate::run::{self, Observer, RunHandle};
use crate::state::{check, Call, State, Status};
use crate::store::{now, Store};
use crate::user::{prepare, NewUser, User};
use crate::{Config, Error, OnInterrupted, Password, StoreError};

/// A bulk user import engine on one SQLite file. Cheap to clone: clones share the store and
/// the run. When the last clone is dropped, a running import stops at a batch boundary and
/// stays `importing`, to be resumed by the next [`Engine::open`].
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    run: Mutex<Option<ActiveRun>>,
    access: Access,
}

/// Whether an engine may run imports in its store.
enum Access {
    /// It may: it holds the store's lock (none is needed for a store in memory) until the
    /// engine is dropped.
    Owner { _lock: Option<File> },
    /// It may only look (and manage API tokens), beside an owner elsewhere.
    Shared,
}

struct ActiveRun {
    handle: RunHandle,
    thread: JoinHandle<()>,
}

/// What the engine and its run threads share.
pub(crate) struct Shared {
    store: Mutex<Store>,
    pub(crate) config: Config,
}

impl Shared {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("config", &self.inner.shared.config).finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens (or creates) the store at `path`, migrating its schema, and deals with a run
    /// that was interrupted as `config.on_interrupted` says.
    ///
    /// The engine takes the store's lock (a file beside it, named `<path>.lock`): one engine
    /// at a time runs imports in a store, so two processes never decide the same records.
    /// A second `open` of a locked store answers [`Error::StoreBusy`]; use
    /// [`Engine::open_shared`] to look at a store that another engine owns.
    pub fn open(path: impl AsRef<Path>, config: Config) -> Result<Engine, Error> {
        config.validate()?;
        let lock = lock(path.as_ref())?;
        Engine::with_store(Store::open(path.as_ref())?, config, Access::Owner { _lock: Some(lock) })
    }

    /// Opens the store at `path` without its lock, to look at it while another engine may own
    /// it: status, flagged records, users, password checks and API tokens work; calls that
    /// start, change or end an operation answer [`Error::NotOwner`]. An interrupted run is
    /// left alone.
    pub fn open_shared(path: impl AsRef<Path>, config: Config) -> Result<Engine, Error> {
        config.validate()?;
        Engine::with_store(Store::open(path.as_ref())?, config, Access::Shared)
    }

    /// An engine on a private in-memory database, for tests and experiments.
    pub fn open_in_memory(config: Config) -> Result<Engine, Error> {
        config.validate()?;
        Engine::with_store(Store::open_in_memory()?, config, Access::Owner { _lock: None })
    }

    fn with_store(store: Store, config: Config, access: Access) -> Result<Engine, Error> {
        let shared = Arc::new(Shared { store: Mutex::new(store), config });
        let owner = matches!(access, Access::Owner { .. });
        let inner = Inner { shared, run: Mutex::new(None), access };
        let engine = Engine { inner: Arc::new(inner) };
        if owner {
            engine.recover()?;
        }
        Ok(engine)
    }

    /// Refuses a call that changes operations on an engine that does not own its store.
    fn owner(&self) -> Result<(), Error> {
        match self.inner.access {
            Access::Owner { .. } => Ok(()),
            Access::Shared => Err(Error::NotOwner),
        }
    }

    fn recover(&self) -> Result<(), Error> {
        let Some(op) = self.current()? else {
            return Ok(());
        };
        if op.state() != State::Importing {
            return Ok(());
        }
        match self.inner.shared.config.on_interrupted {
            OnInterrupted::Resume => {
                warn!(operation = %op.id, decided = op.count.decided(), "resuming an interrupted run");
                let cost = self.resumed_cost(&op.id)?;
                self.start_run(&mut self.run_slot(), op, cost, Box::new(|_| {}));
            }
            OnInterrupted::MarkError => {
                warn!(operation = %op.id, "an interrupted run was marked error");
                self.store().set_status(&op.id, Status::Failed, Some("interrupted"))?;
            }
            OnInterrupted::Leave => {}
        }
        Ok(())
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.inner.shared.store()
    }

    fn run_slot(&self) -> MutexGuard<'_, Option<ActiveRun>> {
        self.inner.run.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current (valid) operation, if any.
    fn current(&self) -> Result<Option<Operation>, Error> {
        Ok(self.store().latest_operation()?.filter(|op| op.valid))
    }

    /// Starts a fresh operation made by `user`. Any current operation is invalidated (an
    /// importing run stops within one batch) and the staging area is emptied.
    pub fn new_operation(&self, user: &str) -> Result<Operation, Error> {
        self.owner()?;
        let mut slot = self.run_slot();
        let stamp = now();
        let op = Operation {
            id: new_id(),
            ts: stamp.clone(),
            updated_at: stamp,
            status: Status::New,
            valid: true,
            user: user.to_owned(),
            count: Default::default(),
            reason: None,
        };
        {
            let mut store = self.store();
            cancel(slot.as_ref());
            store.invalidate_all()?;
            store.insert_operation(&op)?;
        }
        join(slot.take());
        info!(operation = %op.id, user, "operation created");
        Ok(op)
    }

    /// Invalidates the current operation and empties the staging area; an importing run
    /// stops within one batch and ends `canceled`.
    pub fn clear(&self) -> Result<(), Error> {
        self.owner()?;
        let mut slot = self.run_slot();
        {
            let mut store = self.store();
            cancel(slot.as_ref());
            store.invalidate_all()?;
        }
        join(slot.take());
        info!("operation cleared");
        Ok(())
    }

    /// Stages `users`, all or nothing, in order. An empty list changes nothing.
    pub fn add_users(&self, users: Vec<NewUser>) -> Result<Operation, Error> {
        self.stage_with(|stager| {
            for (i, user) in users.into_iter().enumerate() {
                stager.push(user, RecordRef::Index(i))?;
            }
            Ok(())
        })
    }

    /// Stages the users that `fill` pushes, all or nothing: if `fill` or any push fails,
    /// nothing is staged. For inputs too large to hold in memory (see [`crate::input`]).
    pub fn stage_with<E: From<Error>>(
        &self,
        fill: impl FnOnce(&mut Stager<'_>) -> Result<(), E>,
    ) -> Result<Operation, E> {
        self.owner()?;
        let _slot = self.run_slot();
        let store = self.store();
        let current = store.latest_operation().map_err(Error::from)?.filter(|op| op.valid);
        check(Call::AddUsers, current.as_ref().map(Operation::state))?;
        let op = current.ok_or(Error::NotInitialized)?;

        store.begin_staging().map_err(Error::from)?;
        let config = &self.inner.shared.config;
        let mut stager = Stager { target: Some((&store, &op.id)), config, added: 0 };
        let filled = fill(&mut stager);
        let added = stager.added;
        let ended = match (&filled, added) {
            (Ok(()), 1..) => store.end_staging(&op.id, Some(added)),
            _ => store.end_staging(&op.id, None),
        };
        filled?;
        ended.map_err(Error::from)?;
        if added > 0 {
            info!(operation = %op.id, added, "users staged");
        }
        let op = store.latest_operation().map_err(Error::from)?;
        Ok(op.ok_or_else(|| Error::from(crate::StoreError::Corrupt("operation vanished".into())))?)
    }

    /// Starts the run of the current operation in the background; the state is `importing`
    /// when this returns.
    pub fn run(&self) -> Result<RunHandle, Error> {
        self.run_with_progress(Box::new(|_| {}))
    }

    /// Like [`Engine::run`], calling `observer` after every committed batch and at the end.
    pub fn run_with_progress(&self, observer: Observer) -> Result<RunHandle, Error> {
        self.owner()?;
        let mut slot = self.run_slot();
        let op = {
            let store = self.store();
            let current = store.latest_operation()?.filter(|op| op.valid);
            check(Call::Run, current.as_ref().map(Operation::state))?;
            let op = current.ok_or(Error::OperationNotFound)?;
            store.begin_run(&op.id, self.inner.shared.config.bcrypt_cost)?;
            op
        };
        let cost = self.inner.shared.config.bcrypt_cost;
        Ok(self.start_run(&mut slot, op, cost, observer))
    }

    /// Resumes the current operation's interrupted run, for an engine opened with
    /// [`OnInterrupted::Leave`]; `error-invalid-operation-status` unless it is `importing`
    /// with no run going in this engine.
    pub fn resume_with_progress(&self, observer: Observer) -> Result<RunHandle, Error> {
        self.owner()?;
        let mut slot = self.run_slot();
        let running =
            slot.as_ref().is_some_and(|run| run.handle.wait_timeout(Default::default()).is_none());
        let op = self.current()?.ok_or(Error::OperationNotFound)?;
        if running || op.state() != State::Importing {
            return Err(Error::InvalidOperationStatus);
        }
        info!(operation = %op.id, decided = op.count.decided(), "resuming an interrupted run");
        let cost = self.resumed_cost(&op.id)?;
        Ok(self.start_run(&mut slot, op, cost, observer))
    }

    /// The bcrypt cost a resumed run goes on with: the one its run started with.
    fn resumed_cost(&self, id: &str) -> Result<u32, Error> {
        let recorded = self.store().run_cost(id)?;
        Ok(recorded.unwrap_or(self.inner.shared.config.bcrypt_cost))
    }

    /// Starts a run; the caller holds the run slot, so no other call can come between.
    fn start_run(
        &self,
        slot: &mut Option<ActiveRun>,
        op: Operation,
        cost: u32,
        observer: Observer,
    ) -> RunHandle {
        join(slot.take());
        let shared = Arc::clone(&self.inner.shared);
        let (handle, thread) = run::start(shared, op.id, op.count, cost, observer);
        *slot = Some(ActiveRun { handle: handle.clone(), thread });
        handle
    }

    /// The run going on or last started by this engine, if any.
    pub fn current_run(&self) -> Option<RunHandle> {
        self.run_slot().as_ref().map(|run| run.handle.clone())
    }

    /// The state and the latest operation.
    pub fn status(&self) -> Result<StatusReport, Error> {
        let operation = self.store().latest_operation()?;
        let state = operation.as_ref().map_or(State::None, Operation::state);
        Ok(StatusReport { state, operation })
    }

    /// Up to `count` flagged records of the current operation from `offset`, in staging
    /// order, with the total.
    pub fn flagged(&self, offset: u64, count: u64) -> Result<FlaggedPage, Error> {
        let store = self.store();
        Ok(FlaggedPage { flagged: store.flags(offset, count)?, total: store.flag_total()? })
    }

    /// Up to `count` users from `offset`, in the order they were created.
    pub fn users(&self, offset: u64, count: u64) -> Result<Vec<User>, Error> {
        Ok(self.store().users(offset, count)?)
    }

    /// Whether `password` is the password of the user named `username` (compared as the
    /// run compares usernames). A user without a password matches nothing.
    pub fn verify_password(&self, username: &str, password: &Password) -> Result<bool, Error> {
        let hash = self.store().password_hash(&key(username.trim()))?;
        match hash {
            None => Err(Error::UnknownUser(username.to_owned())),
            Some(None) => Ok(false),
            Some(Some(hash)) => Ok(password.matches(&hash)),
        }
    }

    /// Makes an API token for `user_id` with `permissions` and returns it; only its digest
    /// is stored, so this is the one time it can be read.
    pub fn create_token(&self, user_id: &str, permissions: &[String]) -> Result<String, Error> {
        Ok(crate::token::create(&self.store(), user_id, permissions)?)
    }

    /// The permissions of `user_id` when `token` is one of their tokens; `None` when the
    /// pair does not authenticate.
    pub fn authenticate(&self, user_id: &str, token: &str) -> Result<Option<Vec<String>>, Error> {
        Ok(crate::token::check(&self.store(), user_id, token)?)
    }

    /// The configuration the engine was opened with.
    pub fn config(&self) -> &Config {
        &self.inner.shared.config
    }
}

/// The open staging transaction handed to [`Engine::stage_with`]'s `fill`.
pub struct Stager<'a> {
    /// The store and operation to stage into; `None` when only checking.
    target: Option<(&'a Store, &'a str)>,
    config: &'a Config,
    added: u64,
}

impl<'a> Stager<'a> {
    /// A stager that checks users exactly as staging would, and stages nothing.
    pub(crate) fn checking(config: &'a Config) -> Stager<'a> {
        Stager { target: None, config, added: 0 }
    }

    /// Checks one user and stages it; `at` says where it came from, for errors.
    pub fn push(&mut self, user: NewUser, at: RecordRef) -> Result<(), Error> {
        let (staged, password) = prepare(user, &at, self.config)?;
        if let Some((store, operation_id)) = self.target {
            store.stage(operation_id, &staged, password.as_ref())?;
        }
        self.added += 1;
        Ok(())
    }

    /// How many users were pushed so far.
    pub fn added(&self) -> u64 {
        self.added
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let slot = self.run.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(run) = &slot {
            run.handle.signals().shutdown();
        }
        join(slot);
    }
}

fn cancel(run: Option<&ActiveRun>) {
    if let Some(run) = run {
        run.handle.signals().cancel();
    }
}

fn join(run: Option<ActiveRun>) {
    if let Some(run) = run {
        // The run records its own failures; a panic here has nothing left to tell.
        let _ = run.thread.join();
    }
}

/// Takes the lock of the store at `path`: an exclusive lock on `<path>.lock`, which the OS
/// releases when the process ends, however it ends.
fn lock(path: &Path) -> Result<File, Error> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = std::path::PathBuf::from(name);
    let failed = |source| StoreError::Lock { path: lock_path.clone(), source };
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path);
    let file = file.map_err(failed)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::StoreBusy { path: path.to_owned() }),
        Err(TryLockError::Error(source)) => Err(failed(source).into()),
    }
}

/// A fresh operation id: 24 lowercase hex digits, like a MongoDB ObjectId.
fn new_id() -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}
