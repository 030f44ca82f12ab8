//! Running a test scenario against a freshly started service: its cleanup runs even when
//! the scenario panics, and one test per backend is generated for each scenario.

/// Runs `scenario` on its own task, so a failing assertion in it cannot skip `cleanup`
/// (stopping the service, dropping databases, deleting keys), then re-raises its panic.
///
/// # Panics
/// With the scenario's panic, after `cleanup`.
pub async fn run_then_clean_up<S, C>(scenario: S, cleanup: C)
where
    S: Future<Output = ()> + Send + 'static,
    C: Future<Output = ()>,
{
    let outcome = tokio::spawn(scenario).await;
    cleanup.await;
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// Generates, for each scenario function named, a module of that name holding one
/// `#[tokio::test]` per backend, each calling `run(backend, args…, super::scenario)`.
/// `run` and `args` are written as seen from inside that module: refer to the test
/// file's items with `super::…` or `crate::…`.
///
/// ```ignore
/// im_testkit::on_every_backend!(
///     run = crate::harness::run;
///     args = (crate::harness::Options::default());
///     backends = [sqlite => SqlBackend::Sqlite, mysql => SqlBackend::MySql];
///     registers, logs_in,
/// );
/// ```
#[macro_export]
macro_rules! on_every_backend {
    (run = $run:path; args = $args:tt; backends = $backends:tt; $($scenario:ident),+ $(,)?) => {$(
        $crate::on_every_backend!(@module $run; $args; $backends; $scenario);
    )+};
    // One arm per level: one arm cannot nest repetitions over independent lists.
    (@module $run:path; $args:tt; [$($test:ident => $backend:expr),+ $(,)?]; $scenario:ident) => {
        mod $scenario {$(
            $crate::on_every_backend!(@test $run; $args; $test; $backend; $scenario);
        )+}
    };
    (@test $run:path; ($($arg:expr),* $(,)?); $test:ident; $backend:expr; $scenario:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            $run($backend, $($arg,)* super::$scenario).await;
        }
    };
}

#[cfg(test)]
mod tests {
    use super::run_then_clean_up;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn cleanup_runs_even_when_the_scenario_panics() {
        let cleaned = Arc::new(AtomicBool::new(false));
        let flag = cleaned.clone();
        let outcome = tokio::spawn(run_then_clean_up(
            async { panic!("scenario failed") },
            async move { flag.store(true, Ordering::SeqCst) },
        ))
        .await;
        assert!(
            outcome.is_err_and(|e| e.is_panic()),
            "the panic is re-raised"
        );
        assert!(cleaned.load(Ordering::SeqCst));
    }

    /// A stand-in `run`: calls the scenario with what the macro passed.
    async fn record(backend: &'static str, extra: &'static str, scenario: fn(&str, &str)) {
        scenario(backend, extra);
    }

    fn noted(backend: &str, extra: &str) {
        assert!(matches!(backend, "first" | "second"), "{backend}");
        assert_eq!(extra, "extra");
    }

    // Expands to `mod noted { async fn first() …; async fn second() … }`.
    crate::on_every_backend!(
        run = super::record;
        args = ("extra");
        backends = [first => "first", second => "second"];
        noted,
    );
}
