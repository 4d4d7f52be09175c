//! A sub-millisecond timer for the VRRP loop.
//!
//! tokio's timer wheel has millisecond ticks and rounds deadlines up, so an advert or a
//! takeover due at 609.375 ms fires at 610–611 ms. VRRP's bounds are exact (Skew is
//! (256 − prio)/256 s), so the loop sleeps on a CLOCK_MONOTONIC timerfd instead, the same
//! clock as `std::time::Instant`, with nanosecond resolution.

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;

struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// One re-armable one-shot timer. Needs a tokio runtime with I/O enabled.
pub struct PreciseTimer {
    fd: AsyncFd<Fd>,
}

impl PreciseTimer {
    pub fn new() -> io::Result<PreciseTimer> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        // SAFETY: `Fd` owns the timerfd, so the descriptor stays open for as long as the
        // AsyncFd that holds it, and nothing else closes it.
        let fd = unsafe { AsyncFd::register(Fd(fd))? };
        Ok(PreciseTimer { fd })
    }

    /// Returns at `deadline` (at once when it has passed). Re-arms the timer each call, so
    /// a call dropped before it fires (the loop chose another event) leaves nothing behind
    /// that matters: the next call sets a new expiry.
    pub async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        // A zero expiry would disarm the timer: the smallest wait is 1 ns.
        let left = left.max(Duration::from_nanos(1));
        self.fd
            .get_ref()
            .0
            .set(
                Expiration::OneShot(TimeSpec::from_duration(left)),
                TimerSetTimeFlags::empty(),
            )
            .map_err(io::Error::from)?;
        loop {
            let mut guard = self.fd.readable().await?;
            let mut buf = [0u8; 8];
            match guard.try_io(|fd| {
                nix::unistd::read(fd.get_ref().0.as_fd(), &mut buf).map_err(io::Error::from)
            }) {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
                // Spurious readiness: wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn never_fires_before_a_sub_millisecond_deadline() {
        let timer = PreciseTimer::new().unwrap();
        for _ in 0..20 {
            // A deadline between two millisecond ticks. How late it fires is a matter of
            // scheduling (measured by the takeover benchmark), but it is never early.
            let deadline = Instant::now() + Duration::from_micros(2_375);
            timer.sleep_until(deadline).await.unwrap();
            assert!(Instant::now() >= deadline, "fired early");
        }
    }

    #[tokio::test]
    async fn past_deadline_returns_at_once_and_rearming_works() {
        let timer = PreciseTimer::new().unwrap();
        timer
            .sleep_until(Instant::now() - Duration::from_millis(5))
            .await
            .unwrap();
        // A sleep abandoned before it fires leaves the timer usable.
        let abandoned = tokio::time::timeout(
            Duration::from_millis(1),
            timer.sleep_until(Instant::now() + Duration::from_secs(10)),
        )
        .await;
        assert!(abandoned.is_err());
        let start = Instant::now();
        timer
            .sleep_until(start + Duration::from_millis(3))
            .await
            .unwrap();
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(3) && took < Duration::from_secs(1),
            "{took:?}"
        );
    }
}
