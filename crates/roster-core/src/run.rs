//! The run pipeline: a planner, a pool of hashing workers and one writer.
//!
//! ```text
//!   staged ──► planner ──batches──► writer ──► users, flags, counts (one tx per batch)
//!                 │                   ▲
//!                 └─jobs─► workers ─hashes
//! ```
//!
//! - The planner (thread `roster-plan`) reads pending records page by page in staging order
//!   and decides each one ([`crate::plan`]); a batch ends at `batch_size` records or when it
//!   holds `workers × passwords_per_worker` passwords. It sends the batch to the writer, then
//!   the batch's passwords to the workers. It reads through a connection of its own (a file
//!   store in WAL mode lets it read while the writer commits), each batch in one read
//!   transaction; an in-memory store has no file to share, and there it takes the store lock.
//! - The workers (threads `roster-hash-N`) hash passwords, the only slow step. Records
//!   without a password, and flagged ones, never reach them.
//! - The writer (the run's own thread) puts the hashes into their batch and commits batches
//!   in order, each in one transaction, then tells the planner, which drops the claims of
//!   that batch.
//!
//! All channels are bounded, so memory does not grow with the file. Shutdown is by dropping:
//! when the writer stops it drops its receivers, every send fails, and every thread ends.
//! Cancel (`clear`, `new`) and shutdown (the engine dropped) are flags the writer reads, under
//! the store lock, before each commit: a run stops within one batch.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use tracing::{debug, error, info, info_span, trace, warn};

use crate::engine::Shared;
use crate::operation::{Counts, Reason, Summary};
use crate::plan::{decide, Claims};
use crate::state::{State, Status};
use crate::store::{BatchError, Decision, FlagRecord, Pending, Store};
use crate::{Password, StoreError};

/// What a caller sees of a run while it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// `importing` while the run goes; the final state last.
    pub state: State,
    /// The counts as committed so far.
    pub count: Counts,
}

/// A callback that receives the progress after every committed batch and at the end.
pub type Observer = Box<dyn Fn(&Progress) + Send + 'static>;

/// The stop flags of a run, shared with the engine.
#[derive(Default)]
pub(crate) struct Signals {
    /// `clear` or `new`: end the run `canceled`.
    cancel: AtomicBool,
    /// The engine is going away: stop at a batch boundary, leave the run `importing`.
    shutdown: AtomicBool,
}

impl Signals {
    pub(crate) fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    pub(crate) fn shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
    }

    fn canceled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    fn stopped(&self) -> Option<State> {
        if self.cancel.load(Ordering::SeqCst) {
            Some(State::Canceled)
        } else if self.shutdown.load(Ordering::SeqCst) {
            Some(State::Importing)
        } else {
            None
        }
    }
}

/// A handle on a run going on in the background.
#[derive(Clone)]
pub struct RunHandle {
    shared: Arc<RunShared>,
}

struct RunShared {
    signals: Signals,
    summary: Mutex<Option<Summary>>,
    finished: Condvar,
    count: Mutex<Counts>,
}

impl std::fmt::Debug for RunHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunHandle").field("count", &self.count()).finish_non_exhaustive()
    }
}

impl RunHandle {
    /// Blocks until the run ends, and tells how.
    pub fn wait(&self) -> Summary {
        let mut summary = lock(&self.shared.summary);
        loop {
            if let Some(s) = summary.as_ref() {
                return s.clone();
            }
            summary = self.shared.finished.wait(summary).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Like [`RunHandle::wait`], giving up after `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Summary> {
        let summary = lock(&self.shared.summary);
        let (summary, _) = self
            .shared
            .finished
            .wait_timeout_while(summary, timeout, |s| s.is_none())
            .unwrap_or_else(|e| e.into_inner());
        summary.clone()
    }

    /// The counts committed so far.
    pub fn count(&self) -> Counts {
        *lock(&self.shared.count)
    }

    pub(crate) fn signals(&self) -> &Signals {
        &self.shared.signals
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the run of operation `id`, whose counts so far are `count`, hashing at `cost`.
pub(crate) fn start(
    shared: Arc<Shared>,
    id: String,
    count: Counts,
    cost: u32,
    observer: Observer,
) -> (RunHandle, JoinHandle<()>) {
    let run = Arc::new(RunShared {
        signals: Signals::default(),
        summary: Mutex::new(None),
        finished: Condvar::new(),
        count: Mutex::new(count),
    });
    let handle = RunHandle { shared: Arc::clone(&run) };
    let thread = thread::Builder::new()
        .name("roster-run".to_owned())
        .spawn(move || {
            let span = info_span!("run", operation = %id);
            let _entered = span.enter();
            let summary = Writer { shared, run: Arc::clone(&run), id, count, cost, observer }.run();
            *lock(&run.summary) = Some(summary);
            run.finished.notify_all();
        })
        .expect("the OS refused to start the run thread");
    (handle, thread)
}

/// A batch as the planner hands it to the writer.
struct Batch {
    number: u64,
    decisions: Vec<Decision>,
    /// Passwords still being hashed.
    missing: usize,
}

enum PlanMsg {
    Batch(Batch),
    /// Every pending record was decided.
    End,
    /// The planner could not read the store.
    Failed(String),
}

/// A batch the writer has committed, handed back to the planner to release its claims and
/// free its decisions.
struct Committed {
    batch: u64,
    decisions: Vec<Decision>,
}

struct HashJob {
    batch: u64,
    index: usize,
    password: Password,
}

struct Hashed {
    batch: u64,
    index: usize,
    hash: Result<String, String>,
}

struct Writer {
    shared: Arc<Shared>,
    run: Arc<RunShared>,
    id: String,
    count: Counts,
    /// The bcrypt cost of this operation's run.
    cost: u32,
    observer: Observer,
}

/// How the writer's loop ended.
enum End {
    Done,
    Stopped(State),
    Failed(String),
}

impl Writer {
    fn run(mut self) -> Summary {
        let config = &self.shared.config;
        let workers = config.workers;
        let per_batch = workers * config.passwords_per_worker;
        info!(workers, total = self.count.total, "run started");

        // One planned batch waits while the writer commits another: enough to keep the writer
        // busy, and each batch in flight is memory.
        let (plan_tx, plan_rx) = bounded::<PlanMsg>(1);
        let (job_tx, job_rx) = bounded::<HashJob>(per_batch * 2);
        let (hash_tx, hash_rx) = bounded::<Hashed>(per_batch * 3);
        let (ack_tx, ack_rx) = unbounded::<Committed>();

        let mut threads = Vec::with_capacity(workers + 1);
        for n in 0..workers {
            let (jobs, hashes) = (job_rx.clone(), hash_tx.clone());
            let cost = self.cost;
            threads.push(spawn(format!("roster-hash-{n}"), move || {
                hash_worker(n, jobs, hashes, cost)
            }));
        }
        drop((job_rx, hash_tx));
        let planner = Planner { shared: Arc::clone(&self.shared), run: Arc::clone(&self.run) };
        threads.push(spawn("roster-plan".to_owned(), move || planner.run(plan_tx, job_tx, ack_rx)));

        let end = self.write(&plan_rx, &hash_rx, &ack_tx);
        // Dropping the receivers makes every blocked send fail, so every thread ends.
        drop((plan_rx, hash_rx, ack_tx));
        let panicked = threads.into_iter().map(JoinHandle::join).any(|r| r.is_err());
        let end = match end {
            End::Done if panicked => End::Failed("a worker thread panicked".to_owned()),
            other => other,
        };
        self.finish(end)
    }

    /// Commits batches in order until the planner is done or the run must stop.
    fn write(
        &mut self,
        plans: &Receiver<PlanMsg>,
        hashes: &Receiver<Hashed>,
        acks: &Sender<Committed>,
    ) -> End {
        let mut early: HashMap<u64, Vec<Hashed>> = HashMap::new();
        loop {
            let mut batch = match plans.recv() {
                Ok(PlanMsg::Batch(batch)) => batch,
                Ok(PlanMsg::End) => return End::Done,
                Ok(PlanMsg::Failed(reason)) => return End::Failed(reason),
                Err(_) => return self.stopped_or("the planner stopped unexpectedly"),
            };
            for hashed in early.remove(&batch.number).unwrap_or_default() {
                if let Err(reason) = fill(&mut batch, hashed) {
                    return End::Failed(reason);
                }
            }
            while batch.missing > 0 {
                if let Some(state) = self.run.signals.stopped() {
                    return End::Stopped(state);
                }
                let hashed = match hashes.recv_timeout(Duration::from_millis(50)) {
                    Ok(hashed) => hashed,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => {
                        return self.stopped_or("the hashing workers stopped unexpectedly")
                    }
                };
                if hashed.batch != batch.number {
                    early.entry(hashed.batch).or_default().push(hashed);
                } else if let Err(reason) = fill(&mut batch, hashed) {
                    return End::Failed(reason);
                }
            }
            if let Some(end) = self.commit(&mut batch.decisions) {
                return end;
            }
            let _ = acks.send(Committed { batch: batch.number, decisions: batch.decisions });
        }
    }

    fn stopped_or(&self, reason: &str) -> End {
        match self.run.signals.stopped() {
            Some(state) => End::Stopped(state),
            None => End::Failed(reason.to_owned()),
        }
    }

    /// Commits one batch, flagging and leaving out any user the store refuses. Returns how
    /// the run ends if it must end here.
    fn commit(&mut self, decisions: &mut [Decision]) -> Option<End> {
        let shared = Arc::clone(&self.shared);
        let mut store = shared.store();
        // Checked under the store lock: a clear or new that got the lock first has already
        // invalidated the operation, and this batch must not land after it.
        if let Some(state) = self.run.signals.stopped() {
            return Some(End::Stopped(state));
        }
        loop {
            let count = tally(&self.count, decisions);
            match store.commit_batch(&self.id, decisions, &count, Status::ImportingUsers) {
                Ok(()) => {
                    debug!(records = decisions.len(), decided = count.decided(), "batch committed");
                    self.count = count;
                    break;
                }
                Err(BatchError::User { index, error }) => {
                    warn!(%error, "the store refused a user; flagged store-error");
                    decisions[index] = store_error_flag(&decisions[index], &error);
                }
                Err(BatchError::Store(error)) => return Some(End::Failed(error.to_string())),
            }
        }
        drop(store);
        *lock(&self.run.count) = self.count;
        (self.observer)(&Progress { state: State::Importing, count: self.count });
        None
    }

    /// Records how the run ended and builds its summary.
    fn finish(self, end: End) -> Summary {
        let store = self.shared.store();
        // A cancel that came after the last batch still wins: the operation is invalidated.
        let end = if self.run.signals.canceled() { End::Stopped(State::Canceled) } else { end };
        let (state, reason) = match end {
            End::Done => (State::Done, None),
            End::Stopped(state) => (state, None),
            End::Failed(reason) => (State::Error, Some(reason)),
        };
        let written = match state {
            State::Done => store.set_status(&self.id, Status::Done, None),
            State::Error => store.set_status(&self.id, Status::Failed, reason.as_deref()),
            // A cancel was written by clear or new; a shutdown leaves the run to resume.
            _ => Ok(()),
        };
        let written = written.and_then(|()| store.truncate_wal());
        drop(store);
        if let Err(e) = written {
            error!(error = %e, "could not record the end of the run");
        }
        match state {
            State::Error => error!(reason = reason.as_deref().unwrap_or_default(), "run failed"),
            State::Importing => {
                info!(decided = self.count.decided(), "run paused at a batch boundary")
            }
            _ => info!(
                state = %state,
                completed = self.count.completed,
                skipped = self.count.skipped,
                failed = self.count.error,
                "run finished"
            ),
        }
        (self.observer)(&Progress { state, count: self.count });
        Summary { state, count: self.count, reason }
    }
}

/// Puts a hash into its place in the batch.
fn fill(batch: &mut Batch, hashed: Hashed) -> Result<(), String> {
    let hash = hashed.hash?;
    if let Some(Decision::Create(account)) = batch.decisions.get_mut(hashed.index) {
        account.password_hash = Some(hash);
        batch.missing -= 1;
    }
    Ok(())
}

/// The counts after `decisions` are committed on top of `base`.
fn tally(base: &Counts, decisions: &[Decision]) -> Counts {
    let mut count = *base;
    for decision in decisions {
        match decision {
            Decision::Create(_) => count.completed += 1,
            Decision::Flag(flag) => match flag.reason.outcome() {
                crate::Outcome::Skipped => count.skipped += 1,
                crate::Outcome::Failed => count.error += 1,
            },
        }
    }
    count
}

fn store_error_flag(decision: &Decision, error: &rusqlite::Error) -> Decision {
    let (seq, import_id) = match decision {
        Decision::Create(a) => (a.seq, a.import_id.clone()),
        Decision::Flag(f) => (f.seq, f.import_id.clone()),
    };
    let message = format!("record {import_id}: the store refused the user: {error}");
    Decision::Flag(FlagRecord { seq, import_id, reason: Reason::StoreError, message })
}

fn spawn(name: String, body: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    thread::Builder::new().name(name).spawn(body).expect("the OS refused to start a thread")
}

fn hash_worker(n: usize, jobs: Receiver<HashJob>, hashes: Sender<Hashed>, cost: u32) {
    let span = info_span!("worker", n);
    let _entered = span.enter();
    for job in jobs {
        let hash = catch_unwind(AssertUnwindSafe(|| job.password.hash(cost)));
        let hash = match hash {
            Ok(Ok(hash)) => Ok(hash),
            Ok(Err(e)) => Err(format!("password hashing failed: {e}")),
            Err(_) => Err("a hashing worker panicked".to_owned()),
        };
        trace!(batch = job.batch, index = job.index, "password hashed");
        if hashes.send(Hashed { batch: job.batch, index: job.index, hash }).is_err() {
            return;
        }
    }
}

struct Planner {
    shared: Arc<Shared>,
    run: Arc<RunShared>,
}

/// A planned batch: its decisions and the passwords to hash for it.
type Planned = (Vec<Decision>, Vec<HashJob>);

impl Planner {
    /// Decides the next batch in one read transaction on `reader`, or under the store lock
    /// when the store has no file for a reader; `None` when nothing is pending.
    fn plan(
        &self,
        reader: Option<&Store>,
        number: u64,
        queue: &mut VecDeque<Pending>,
        after: &mut i64,
        claims: &mut Claims,
        max_passwords: usize,
    ) -> Result<Option<Planned>, StoreError> {
        let config = &self.shared.config;
        let shared;
        let store = match reader {
            Some(reader) => reader,
            None => {
                shared = self.shared.store();
                &*shared
            }
        };
        store.read(|store| {
            if queue.is_empty() {
                queue.extend(store.pending(*after, config.batch_size)?);
            }
            if queue.is_empty() {
                return Ok(None);
            }
            let mut decisions = Vec::with_capacity(queue.len());
            let mut passwords = Vec::new();
            while passwords.len() < max_passwords {
                let Some(record) = queue.pop_front() else {
                    break;
                };
                *after = record.seq;
                let planned = decide(record, number, claims, store, config)?;
                if let Some(password) = planned.password {
                    passwords.push(HashJob { batch: number, index: decisions.len(), password });
                }
                decisions.push(planned.decision);
            }
            Ok(Some((decisions, passwords)))
        })
    }

    fn run(self, plans: Sender<PlanMsg>, jobs: Sender<HashJob>, acks: Receiver<Committed>) {
        let span = info_span!("planner");
        let _entered = span.enter();
        let config = &self.shared.config;
        let max_passwords = config.workers * config.passwords_per_worker;
        let mut claims = Claims::default();
        let mut queue = VecDeque::new();
        let mut after = 0;
        // The claims of a batch are dropped only once the writer has committed it, and every
        // plan starts a fresh snapshot, so the reader sees each user as soon as its claim is gone.
        let reader = match self.shared.store().open_reader() {
            Ok(reader) => reader,
            Err(e) => {
                let _ = plans.send(PlanMsg::Failed(e.to_string()));
                return;
            }
        };

        for number in 1u64.. {
            if self.run.signals.stopped().is_some() {
                return;
            }
            // Committed batches come back to be freed here: the planner has time to spare,
            // the writer, the narrow step of a run, has none.
            let mut acked = None;
            for committed in acks.try_iter() {
                acked = acked.max(Some(committed.batch));
                drop(committed.decisions);
            }
            if let Some(acked) = acked {
                claims.release_through(acked);
            }
            let planned = self.plan(
                reader.as_ref(),
                number,
                &mut queue,
                &mut after,
                &mut claims,
                max_passwords,
            );
            // No store lock is held by now: a send may block until the writer commits.
            let (decisions, passwords) = match planned {
                Ok(Some(batch)) => batch,
                Ok(None) => {
                    let _ = plans.send(PlanMsg::End);
                    return;
                }
                Err(e) => {
                    let _ = plans.send(PlanMsg::Failed(e.to_string()));
                    return;
                }
            };
            trace!(batch = number, records = decisions.len(), "batch planned");
            let batch = Batch { number, decisions, missing: passwords.len() };
            if plans.send(PlanMsg::Batch(batch)).is_err() {
                return;
            }
            for job in passwords {
                if jobs.send(job).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, Engine, NewUser, Password, State, User};

    /// Users whose addresses and usernames collide within a batch, with batches in flight and
    /// with batches already committed; every third has a password, so batches stay short.
    fn colliding_users() -> Vec<NewUser> {
        let email = |i: usize| match i % 5 {
            4 => format!("USER{}@EXAMPLE.ORG", i / 3),
            _ => format!("user{i}@example.org"),
        };
        (0..120)
            .map(|i| NewUser {
                emails: vec![email(i)],
                import_ids: vec![format!("id-{i}")],
                username: (i % 7 != 0).then(|| format!("name{}", i % 50)),
                password: (i % 3 == 0).then(|| Password::new(format!("pw-{i}"))),
                ..NewUser::default()
            })
            .collect()
    }

    fn outcome(engine: &Engine) -> (Vec<(String, String)>, Vec<User>) {
        let flagged = engine.flagged(0, 1000).unwrap().flagged;
        let flags = flagged.into_iter().map(|f| (f.import_id, f.message)).collect();
        (flags, engine.users(0, 1000).unwrap())
    }

    // On a file the planner reads through a connection of its own; in memory it shares the
    // writer's under the store lock. Both must decide every record alike.
    #[test]
    fn a_file_store_and_an_in_memory_store_decide_alike() {
        let config = Config {
            workers: 2,
            bcrypt_cost: 4,
            batch_size: 7,
            passwords_per_worker: 1,
            ..Config::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let on_file = Engine::open(dir.path().join("run.db"), config.clone()).unwrap();
        let in_memory = Engine::open_in_memory(config).unwrap();
        let mut seen = Vec::new();
        for engine in [&on_file, &in_memory] {
            engine.new_operation("test").unwrap();
            engine.add_users(colliding_users()).unwrap();
            assert_eq!(engine.run().unwrap().wait().state, State::Done);
            seen.push(outcome(engine));
        }
        assert!(seen[0].0.len() > 20, "{:?}", seen[0].0);
        assert_eq!(seen[0], seen[1]);
    }
}
