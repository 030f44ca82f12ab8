//! Send checks that run at the same time share their read of the membership version.
//! A check waits for the next read that starts after it arrived, never for one already
//! under way (that one may predate a change the check must see), so each answer is as
//! fresh as a read of its own, at one read per wave of checks instead of one per check.
//! The busier the service, the more checks each read serves.

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

#[derive(Default)]
pub struct SharedReads {
    state: Mutex<State>,
    /// Woken when a read ends, however it ends.
    ended: Notify,
}

#[derive(Default)]
struct State {
    /// Reads started so far; while `reading`, the last of them is under way.
    started: u64,
    reading: bool,
    /// The newest read that succeeded: its number and the version it read.
    read: Option<(u64, u64)>,
    /// The newest read that failed.
    failed: u64,
}

impl SharedReads {
    /// The version from a read (`read`) that started after this call: this call's own,
    /// or one it shares with the calls waiting beside it. When the read meant for it
    /// fails, it reads alone and answers with that.
    pub async fn read<F, Fut>(&self, read: F) -> anyhow::Result<u64>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<u64>>,
    {
        let wanted = self.state().started + 1;
        loop {
            let ended = self.ended.notified();
            match self.next_step(wanted) {
                Step::Answer(version) => return Ok(version),
                Step::ReadAlone => return read().await,
                Step::Read(running) => return running.run(read()).await,
                // `ended` was made before the state was looked at: a read that ends
                // after the look wakes it.
                Step::Wait => ended.await,
            }
        }
    }

    fn next_step(&self, wanted: u64) -> Step<'_> {
        let mut state = self.state();
        match state.read {
            Some((number, version)) if number >= wanted => Step::Answer(version),
            _ if state.failed >= wanted => Step::ReadAlone,
            _ if state.reading => Step::Wait,
            _ => {
                state.reading = true;
                state.started += 1;
                Step::Read(Running {
                    reads: self,
                    number: state.started,
                    outcome: None,
                })
            }
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a waiting call does next.
enum Step<'a> {
    /// A read that started after it arrived has read this version.
    Answer(u64),
    /// The read meant for it failed.
    ReadAlone,
    /// No read is under way: it starts the one it waits for.
    Read(Running<'a>),
    /// A read that may predate it is under way: it waits for that one to end.
    Wait,
}

/// The read under way; when dropped (done, failed or cancelled with its caller) it lets
/// the next read start and wakes the waiting calls.
struct Running<'a> {
    reads: &'a SharedReads,
    number: u64,
    outcome: Option<Option<u64>>,
}

impl Running<'_> {
    async fn run(mut self, read: impl Future<Output = anyhow::Result<u64>>) -> anyhow::Result<u64> {
        let result = read.await;
        self.outcome = Some(result.as_ref().ok().copied());
        result
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut state = self.reads.state();
        state.reading = false;
        match self.outcome {
            // one read at a time: this one is the newest
            Some(Some(version)) => state.read = Some((self.number, version)),
            Some(None) => state.failed = state.failed.max(self.number),
            // cancelled: the waiting calls start another read
            None => {}
        }
        drop(state);
        self.reads.ended.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;
    use tokio::sync::Semaphore;

    /// A version row whose reads wait for a permit each and count themselves; each read
    /// returns its own number, so an answer tells which read it came from.
    struct Row {
        reads: AtomicU64,
        fail: std::sync::atomic::AtomicBool,
        permits: Semaphore,
    }

    impl Default for Row {
        fn default() -> Self {
            Self {
                reads: AtomicU64::new(0),
                fail: false.into(),
                permits: Semaphore::new(0),
            }
        }
    }

    impl Row {
        async fn read(&self) -> anyhow::Result<u64> {
            let number = self.reads.fetch_add(1, Ordering::SeqCst) + 1;
            self.permits.acquire().await?.forget();
            if self.fail.load(Ordering::SeqCst) {
                anyhow::bail!("read {number} failed");
            }
            Ok(number)
        }

        async fn started(&self, reads: u64) {
            for _ in 0..500 {
                if self.reads.load(Ordering::SeqCst) >= reads {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            panic!("read {reads} never started");
        }
    }

    fn check(
        shared: &Arc<SharedReads>,
        row: &Arc<Row>,
    ) -> tokio::task::JoinHandle<anyhow::Result<u64>> {
        let (shared, row) = (shared.clone(), row.clone());
        tokio::spawn(async move { shared.read(|| row.read()).await })
    }

    #[tokio::test]
    async fn checks_arriving_during_a_read_share_the_next_one() {
        let (shared, row) = (Arc::new(SharedReads::default()), Arc::new(Row::default()));
        let first = check(&shared, &row);
        row.started(1).await;
        let waiting: Vec<_> = (0..10).map(|_| check(&shared, &row)).collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            row.reads.load(Ordering::SeqCst),
            1,
            "they wait for it to end"
        );
        row.permits.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap(), 1);
        row.started(2).await;
        row.permits.add_permits(1);
        for check in waiting {
            assert_eq!(
                check.await.unwrap().unwrap(),
                2,
                "never the read that was under way when they came"
            );
        }
        assert_eq!(row.reads.load(Ordering::SeqCst), 2, "ten checks, one read");
    }

    #[tokio::test]
    async fn a_check_alone_reads_at_once() {
        let (shared, row) = (Arc::new(SharedReads::default()), Arc::new(Row::default()));
        row.permits.add_permits(3);
        for expected in 1..=3 {
            assert_eq!(shared.read(|| row.read()).await.unwrap(), expected);
        }
    }

    #[tokio::test]
    async fn a_cancelled_read_lets_the_waiting_checks_read() {
        let (shared, row) = (Arc::new(SharedReads::default()), Arc::new(Row::default()));
        let first = check(&shared, &row);
        row.started(1).await;
        let second = check(&shared, &row);
        tokio::time::sleep(Duration::from_millis(20)).await;
        first.abort();
        row.started(2).await;
        row.permits.add_permits(1);
        // the permit goes to read 1 or 2, whichever is still waiting: read 1 was dropped
        assert_eq!(second.await.unwrap().unwrap(), 2);
    }

    #[tokio::test]
    async fn when_the_shared_read_fails_the_others_read_alone() {
        let (shared, row) = (Arc::new(SharedReads::default()), Arc::new(Row::default()));
        let first = check(&shared, &row);
        row.started(1).await;
        let waiting: Vec<_> = (0..3).map(|_| check(&shared, &row)).collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        row.permits.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap(), 1);
        row.started(2).await;
        row.fail.store(true, Ordering::SeqCst);
        row.permits.add_permits(1);
        // read 2 failed; the two checks that waited for it start reads 3 and 4
        row.started(4).await;
        row.fail.store(false, Ordering::SeqCst);
        row.permits.add_permits(2);
        let mut answers = Vec::new();
        let mut failed = 0;
        for check in waiting {
            match check.await.unwrap() {
                Ok(version) => answers.push(version),
                Err(_) => failed += 1,
            }
        }
        answers.sort_unstable();
        assert_eq!(failed, 1, "the check that ran read 2 has its error");
        assert_eq!(answers, [3, 4], "read 2 answered none of the others");
        assert_eq!(row.reads.load(Ordering::SeqCst), 4);
    }
}
