//! Background jobs: named threads with a cancel flag that report [`Event`]s over a channel.
//! The CLI drains the channel into progress bars; the GUI drains it once per frame.
//!
//! A job can also hand back typed results ([`Jobs::spawn_with`]): values of its own type `T`
//! travel over the job's own channel ([`Output`]), and the owner of the [`Job<T>`] drains them
//! ([`Job::drain`]). Every send wakes the GUI through the waker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use crate::train::TrainEvent;

/// Identifies a job within one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JobId(pub u64);

/// What a job reports.
#[derive(Clone, Debug)]
pub enum EventKind {
    /// Generic progress of a step (import, decoding, demo generation).
    Progress {
        done: usize,
        total: usize,
        what: String,
    },
    /// Something worth telling the user (backend choice, fallback, notes).
    Message(String),
    /// A training run's events.
    Train(TrainEvent),
    /// The job ended; `Err` carries a readable message.
    Finished(Result<(), String>),
}

#[derive(Clone, Debug)]
pub struct Event {
    pub job: JobId,
    pub kind: EventKind,
}

/// Given to the job's closure: where to report, and whether to stop.
#[derive(Clone)]
pub struct JobContext {
    pub id: JobId,
    cancel: Arc<AtomicBool>,
    events: Sender<Event>,
    waker: Option<Waker>,
}

impl JobContext {
    /// A context not attached to any thread (for running a job inline, e.g. in the CLI or tests).
    pub fn inline(events: Sender<Event>) -> Self {
        Self {
            id: JobId(next_id()),
            cancel: Arc::new(AtomicBool::new(false)),
            events,
            waker: None,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Sends an event (a closed receiver is not an error for the job: nobody is listening).
    pub fn send(&self, kind: EventKind) {
        let _ = self.events.send(Event { job: self.id, kind });
        if let Some(w) = &self.waker {
            w();
        }
    }

    pub fn progress(&self, done: usize, total: usize, what: &str) {
        self.send(EventKind::Progress {
            done,
            total,
            what: what.to_string(),
        });
    }
}

/// Where a job sends its typed results (see [`Jobs::spawn_with`]); each send wakes the UI.
pub struct Output<T> {
    tx: Sender<T>,
    waker: Option<Waker>,
}

impl<T> Output<T> {
    /// Sends a result (a closed receiver is not an error: nobody is listening any more).
    pub fn send(&self, value: T) {
        let _ = self.tx.send(value);
        if let Some(w) = &self.waker {
            w();
        }
    }
}

/// Called after every event or result is sent (the GUI's `request_repaint`).
type Waker = Arc<dyn Fn() + Send + Sync>;

/// A running job. `T` is the type of the results it hands back over its own channel (`()` for
/// a job that only reports [`Event`]s).
pub struct Job<T = ()> {
    pub id: JobId,
    pub name: String,
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    results: Option<Receiver<T>>,
}

impl<T> Job<T> {
    /// The results that have arrived, without blocking (called once per frame by the GUI).
    pub fn drain(&self) -> Vec<T> {
        self.results
            .as_ref()
            .map(|rx| rx.try_iter().collect())
            .unwrap_or_default()
    }

    /// Asks the job to stop at its next check (between batches for training).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Waits for the job's thread to end.
    pub fn join(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Drains every job of `jobs` and drops the ones that have ended. A job is dropped only when it
/// had ended before its results were drained, so no result is lost.
pub fn drain_all<T>(jobs: &mut Vec<Job<T>>) -> Vec<T> {
    let mut out = Vec::new();
    jobs.retain(|job| {
        let ended = job.is_finished();
        out.extend(job.drain());
        !ended
    });
    out
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Spawns jobs and owns the event channel they share.
pub struct Jobs {
    tx: Sender<Event>,
    rx: Receiver<Event>,
    waker: Option<Waker>,
}

impl Default for Jobs {
    fn default() -> Self {
        Self::new()
    }
}

impl Jobs {
    pub fn new() -> Self {
        let (tx, rx) = channel();
        Self {
            tx,
            rx,
            waker: None,
        }
    }

    /// Called after every event is sent (the GUI passes `ctx.request_repaint`).
    pub fn with_waker(mut self, waker: Arc<dyn Fn() + Send + Sync>) -> Self {
        self.waker = Some(waker);
        self
    }

    /// Runs `work` on a named thread. Its `Result` becomes the final `Finished` event; a panic
    /// inside the job is caught and reported as a failure.
    pub fn spawn<F>(&self, name: &str, work: F) -> std::io::Result<Job>
    where
        F: FnOnce(&JobContext) -> Result<(), String> + Send + 'static,
    {
        self.spawn_with(name, move |ctx, _: &Output<()>| work(ctx))
    }

    /// [`spawn`](Self::spawn) for a job that hands back results of type `T`: `work` sends them
    /// to its [`Output`], and the returned [`Job<T>`] drains them. The job's end is still the
    /// `Finished` event on the shared channel.
    pub fn spawn_with<T, F>(&self, name: &str, work: F) -> std::io::Result<Job<T>>
    where
        T: Send + 'static,
        F: FnOnce(&JobContext, &Output<T>) -> Result<(), String> + Send + 'static,
    {
        let id = JobId(next_id());
        let cancel = Arc::new(AtomicBool::new(false));
        let ctx = JobContext {
            id,
            cancel: cancel.clone(),
            events: self.tx.clone(),
            waker: self.waker.clone(),
        };
        let (tx, rx) = channel();
        let out = Output {
            tx,
            waker: self.waker.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&ctx, &out)))
                        .unwrap_or_else(|p| {
                            let msg = panic_message(p.as_ref());
                            Err(format!("internal error: {msg}"))
                        });
                ctx.send(EventKind::Finished(result));
            })?;
        Ok(Job {
            id,
            name: name.to_string(),
            cancel,
            handle: Some(handle),
            results: Some(rx),
        })
    }

    /// All events that have arrived, without blocking.
    pub fn drain(&self) -> Vec<Event> {
        self.rx.try_iter().collect()
    }

    /// Blocks until the next event (None when every sender is gone).
    pub fn recv(&self) -> Option<Event> {
        self.rx.recv().ok()
    }

    /// A sender for inline jobs sharing this stream.
    pub fn sender(&self) -> Sender<Event> {
        self.tx.clone()
    }
}

/// The text of a caught panic's payload (`panic!` with a message gives a `String` or `&str`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown error".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_reports_and_can_be_cancelled() {
        let jobs = Jobs::new();
        let job = jobs
            .spawn("test-job", |ctx| {
                for i in 0..1000 {
                    if ctx.is_cancelled() {
                        return Err("cancelled".into());
                    }
                    ctx.progress(i, 1000, "counting");
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Ok(())
            })
            .unwrap();
        // Wait for a first event, then cancel.
        let first = jobs.recv().unwrap();
        assert_eq!(first.job, job.id);
        job.cancel();
        let id = job.id;
        job.join();
        let events = jobs.drain();
        let last = events.last().unwrap();
        assert_eq!(last.job, id);
        assert!(matches!(&last.kind, EventKind::Finished(Err(m)) if m == "cancelled"));
        assert!(events.len() < 1000);
    }

    #[test]
    fn typed_results_come_back_over_the_jobs_own_channel() {
        let jobs = Jobs::new();
        let mut running = vec![
            jobs.spawn_with("typed", |_, out: &Output<usize>| {
                for i in 0..5 {
                    out.send(i);
                }
                Ok(())
            })
            .unwrap(),
        ];
        let mut got = Vec::new();
        while !running.is_empty() {
            got.extend(drain_all(&mut running));
        }
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        // The shared channel carries only the end of the job.
        let ev = jobs.recv().unwrap();
        assert!(matches!(ev.kind, EventKind::Finished(Ok(()))));
    }

    #[test]
    fn panics_become_failures() {
        let jobs = Jobs::new();
        let job = jobs.spawn("panicky", |_| panic!("boom")).unwrap();
        job.join();
        let ev = jobs.drain();
        assert!(
            matches!(&ev.last().unwrap().kind, EventKind::Finished(Err(m)) if m.contains("boom"))
        );
    }
}
