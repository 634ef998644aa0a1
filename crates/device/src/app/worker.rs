//! The background sync: its own thread, its own connection to the store and its own async
//! runtime, so that a sync never holds the device — the worker opens persons, searches and
//! saves on the app's connection while a sync pulls and pushes. Rounds run on a schedule with
//! backoff, at once on "sync now", soon after a save; a running round can be cancelled.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tsunagi_crypto::random_array;
use tsunagi_store::keys::Keystore;

use crate::api::SyncProgress;
use crate::sync::ProgressBoard;
use crate::{Backoff, Device, DeviceError};

/// Wait between rounds while all is well.
const INTERVAL: Duration = Duration::from_secs(120);
/// First wait after a failed round (doubling up to `MAX_WAIT`, with jitter).
const BASE_WAIT: Duration = Duration::from_secs(5);
/// Longest wait after failures.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// A save asks for a round this long after it (saves in a row make one round).
const AFTER_SAVE: Duration = Duration::from_secs(5);
/// The longest one store transaction of the sync holds the write lock: a save on the app's
/// connection waits at most about this (plus the transaction's commit).
pub(crate) const WRITE_SLICE: Duration = Duration::from_millis(30);

enum Command {
    /// A round now.
    Now,
    /// A round soon (after a save).
    Soon,
    /// Stop the thread (the app locks or closes).
    Stop,
}

/// A running sync worker; stopped and joined when dropped.
#[derive(Debug)]
pub(crate) struct SyncWorker {
    commands: Sender<Command>,
    cancel: Arc<tokio::sync::Notify>,
    running: Arc<AtomicBool>,
    board: Arc<ProgressBoard>,
    thread: Option<JoinHandle<()>>,
}

fn jitter() -> f64 {
    random_array::<8>()
        .map(|b| (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64)
        .unwrap_or(0.5)
}

impl SyncWorker {
    /// Starts the worker on `device` (a sibling connection of the app's device).
    pub(crate) fn start<K: Keystore + Send + Sync + 'static>(
        mut device: Device,
        keystore: Arc<K>,
        write_slice: Option<Duration>,
    ) -> Result<SyncWorker, DeviceError> {
        let (commands, rx) = channel();
        let cancel = Arc::new(tokio::sync::Notify::new());
        let running = Arc::new(AtomicBool::new(false));
        let board = Arc::new(ProgressBoard::default());
        device.run_in_background(Arc::clone(&board), write_slice);
        let (cancel2, running2) = (Arc::clone(&cancel), Arc::clone(&running));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DeviceError::Io {
                path: device.dir().to_owned(),
                source: e,
            })?;
        let thread = std::thread::Builder::new()
            .name("tsunagi-sync".into())
            .spawn(move || run(&mut device, &*keystore, &rx, &cancel2, &running2, &runtime))
            .map_err(|e| DeviceError::Io {
                path: std::path::PathBuf::from("tsunagi-sync thread"),
                source: e,
            })?;
        Ok(SyncWorker {
            commands,
            cancel,
            running,
            board,
            thread: Some(thread),
        })
    }

    /// A round now (or right after the running one).
    pub(crate) fn sync_now(&self) {
        let _ = self.commands.send(Command::Now);
    }

    /// A round soon: something was saved.
    pub(crate) fn saved(&self) {
        let _ = self.commands.send(Command::Soon);
    }

    /// Stops the running round, if any (its committed pages stay; the next round resumes).
    pub(crate) fn cancel(&self) {
        self.cancel.notify_waiters();
    }

    /// Whether a round runs, and how far it is.
    pub(crate) fn state(&self) -> (bool, Option<SyncProgress>) {
        if self.running.load(Ordering::Acquire) {
            (true, self.board.view())
        } else {
            (false, None)
        }
    }
}

impl Drop for SyncWorker {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        self.cancel.notify_waiters();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run<K: Keystore>(
    device: &mut Device,
    keystore: &K,
    rx: &Receiver<Command>,
    cancel: &tokio::sync::Notify,
    running: &AtomicBool,
    runtime: &tokio::runtime::Runtime,
) {
    let mut backoff = Backoff::new(INTERVAL, BASE_WAIT, MAX_WAIT);
    // The first round comes at once: a device just unlocked catches up first.
    let mut next = Instant::now();
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Command::Now) => {}
            Ok(Command::Soon) => {
                next = next.min(Instant::now() + AFTER_SAVE);
                continue;
            }
            Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
        running.store(true, Ordering::Release);
        let outcome = runtime.block_on(async {
            tokio::select! {
                r = device.sync(keystore) => Some(r),
                () = cancel.notified() => None,
            }
        });
        running.store(false, Ordering::Release);
        let wait = match outcome {
            // Cancelled: the worker asked for it; the next round comes on schedule.
            None => INTERVAL,
            Some(Ok(_)) => backoff.next(true, jitter()),
            // Not enrolled or not approved yet: nothing to retry quickly.
            Some(Err(DeviceError::NotEnrolled)) => INTERVAL,
            Some(Err(_)) => backoff.next(false, jitter()),
        };
        next = Instant::now() + wait;
    }
}
