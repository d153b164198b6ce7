//! What the criterion benches of this directory share. Each bench includes it as `mod common;`;
//! it sits in a directory of its own so that cargo does not take it for a bench target.

use std::time::Duration;

use criterion::Criterion;

/// Criterion's settings for a bench: a full run (0.5 s warm-up, 2 s measurement, 30 samples),
/// or a quick smoke run (0.1 s warm-up, 0.3 s measurement, 10 samples, 10,000 bootstrap
/// resamples) when the environment variable `quick_env` is set to anything but `0`.
/// `cargo xtask bench …` quotes these figures in `benches/RESULTS.md`.
pub(crate) fn config(quick_env: &str) -> Criterion {
    let quick = std::env::var(quick_env).is_ok_and(|v| !v.is_empty() && v != "0");
    if quick {
        Criterion::default()
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
            .sample_size(10)
            .nresamples(10_000)
    } else {
        Criterion::default()
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .sample_size(30)
    }
}
