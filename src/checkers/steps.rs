//! Time bounds of a check made of several socket steps (connect, write, each read), as
//! keepalived times HTTP_GET, SSL_GET and SMTP_CHECK: each step gets connect_timeout from
//! the moment it starts, and a step whose socket is ready when it is polled completes even
//! if its bound has passed meanwhile (the daemon was off the CPU), as keepalived handles a
//! ready socket before its expired timer. So a starved daemon falls behind instead of
//! failing healthy servers.
//!
//! keepalived has no bound on the whole exchange: a server drip-feeding its reply, each
//! piece just within connect_timeout of the last, holds the check (and the server's state)
//! for as long as it goes on. Here the whole exchange is also capped, loosely, at
//! [`CAP_STEPS`] × connect_timeout: past the cap no further step starts.
//!
//! One timer per exchange, and the clock read only when a step has to wait: a step that is
//! ready at once (a request written to an empty socket buffer, the rest of a reply already
//! received) costs neither; the bound moves at each step that waits (a later deadline
//! costs the timer wheel nothing until the earlier one would have fired).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The cap on a whole exchange, in connect_timeouts. A plain exchange waits three times
/// (connect, the request written, the reply's first bytes), a TLS one four: five leaves a
/// slow but progressing server room for a reply in a few pieces, and a drip-feeding one
/// fails within 5 × connect_timeout instead of never.
pub const CAP_STEPS: u32 = 5;

/// Which bound ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overrun {
    /// The step took longer than connect_timeout.
    Step,
    /// The whole exchange reached its cap.
    Cap,
}

/// Where a step starting at `now` must end: connect_timeout later, or at the cap if
/// that comes first; and which bound it is.
pub fn step_deadline(now: Instant, step: Duration, cap: Instant) -> (Instant, Overrun) {
    let own = now + step;
    if cap < own {
        (cap, Overrun::Cap)
    } else {
        (own, Overrun::Step)
    }
}

/// The bounds of one exchange: a step of `step`, the whole capped at
/// [`CAP_STEPS`] × `step` from its first step that had to wait.
pub struct Steps<'a> {
    step: Duration,
    /// Set when the first step waits (an exchange's first step, its connection, always
    /// does): the clock is read only when a step has to wait.
    cap: Option<Instant>,
    timer: Pin<&'a mut Option<Sleep>>,
}

impl<'a> Steps<'a> {
    /// `timer`: [`timer`]'s, pinned by the caller so that it lives in the check's future
    /// rather than on the heap; it may serve several exchanges in turn.
    pub fn new(timer: Pin<&'a mut Option<Sleep>>, step: Duration) -> Steps<'a> {
        Steps {
            step,
            cap: None,
            timer,
        }
    }

    /// The cap on the whole exchange.
    pub fn cap(&self) -> Duration {
        self.step * CAP_STEPS
    }

    /// Runs one step: its result, or which bound ran out first. A step that is ready when
    /// first polled completes without reading the clock; one that has to wait once the cap
    /// has passed fails at once. (A reply that is always ready still comes to wait: tokio
    /// makes a task's socket operations wait after a budget of 128.)
    pub async fn run<F: Future>(&mut self, step: F) -> Result<F::Output, Overrun> {
        let mut step = std::pin::pin!(step);
        let mut bound = None;
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = step.as_mut().poll(cx) {
                return Poll::Ready(Ok(out));
            }
            let bound = match bound {
                Some(b) => b,
                None => {
                    let now = Instant::now();
                    let cap = *self.cap.get_or_insert(now + self.step * CAP_STEPS);
                    if now >= cap {
                        return Poll::Ready(Err(Overrun::Cap));
                    }
                    let (deadline, b) = step_deadline(now, self.step, cap);
                    match self.timer.as_mut().as_pin_mut() {
                        Some(timer) => timer.reset(deadline),
                        None => self.timer.set(Some(tokio::time::sleep_until(deadline))),
                    }
                    *bound.insert(b)
                }
            };
            match self.timer.as_mut().as_pin_mut().map(|t| t.poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(Err(bound)),
                _ => Poll::Pending,
            }
        })
        .await
    }
}

/// The timer to pin and hand to [`Steps::new`]: none until a step has to wait.
pub fn timer() -> Option<Sleep> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_ends_at_its_own_bound_or_the_cap_whichever_is_first() {
        let t0 = Instant::now();
        let cap = t0 + Duration::from_secs(15);
        let step = Duration::from_secs(3);
        assert_eq!(step_deadline(t0, step, cap), (t0 + step, Overrun::Step));
        let late = t0 + Duration::from_secs(13);
        assert_eq!(step_deadline(late, step, cap), (cap, Overrun::Cap));
        let exact = t0 + Duration::from_secs(12);
        assert_eq!(step_deadline(exact, step, cap), (cap, Overrun::Step));
    }

    #[tokio::test(start_paused = true)]
    async fn each_step_has_its_own_bound_and_the_whole_a_cap() {
        let timer = std::pin::pin!(timer());
        let mut steps = Steps::new(timer, Duration::from_secs(3));
        assert_eq!(steps.cap(), Duration::from_secs(15));
        let t0 = Instant::now();
        // Four steps of 2.9 s: each within its bound, 11.6 s in all.
        for _ in 0..4 {
            let out = steps
                .run(tokio::time::sleep(Duration::from_millis(2900)))
                .await;
            assert_eq!(out, Ok(()));
        }
        // A step that would take 3.1 s fails at its own bound.
        let out = steps
            .run(tokio::time::sleep(Duration::from_millis(3100)))
            .await;
        assert_eq!(out, Err(Overrun::Step));
        assert_eq!(t0.elapsed(), Duration::from_millis(14600));
        // The next step is cut at the cap, 0.4 s later.
        let out = steps
            .run(tokio::time::sleep(Duration::from_millis(2900)))
            .await;
        assert_eq!(out, Err(Overrun::Cap));
        assert_eq!(t0.elapsed(), Duration::from_secs(15));
        // After it, a step that has to wait fails at once; one that is ready completes.
        let out = steps
            .run(tokio::time::sleep(Duration::from_millis(1)))
            .await;
        assert_eq!(out, Err(Overrun::Cap));
        assert_eq!(t0.elapsed(), Duration::from_secs(15));
        assert_eq!(steps.run(std::future::ready(1)).await, Ok(1));
    }

    /// A step whose socket became ready while the daemon was off the CPU past the
    /// step's bound completes: the ready socket and the expired timer are seen in the same
    /// turn, and the step is polled first.
    #[tokio::test]
    async fn a_step_ready_when_the_daemon_gets_the_cpu_back_completes() {
        use std::io::Write;
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let server = listener.accept().await.unwrap().0.into_std().unwrap();
        // Runs once the step is waiting (its read pending, its 50 ms timer set): the
        // reply arrives, then the (only) runtime thread is held for 150 ms.
        let off_cpu = tokio::spawn(async move {
            (&server).write_all(b"x").unwrap();
            std::thread::sleep(Duration::from_millis(150));
            server
        });
        let timer = std::pin::pin!(timer());
        let mut steps = Steps::new(timer, Duration::from_millis(50));
        let mut byte = [0u8; 1];
        let began = Instant::now();
        let read = steps.run(client.read(&mut byte)).await;
        assert!(began.elapsed() >= Duration::from_millis(150));
        assert_eq!(read.map(|r| r.ok()), Ok(Some(1)));
        drop(off_cpu.await);
    }
}
