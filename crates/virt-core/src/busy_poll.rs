//! Busy polling on local sockets: after a connection writes, it polls its socket for the peer's
//! answer for a short, bounded time before it lets the runtime sleep.
//!
//! # Why
//!
//! A call on a UNIX socket is two wake-ups: the daemon's thread wakes for the request, the
//! client's for the answer. When the CPU the woken thread runs on is idle, each wake-up costs
//! what the machine charges to bring an idle CPU back, and on a virtual machine that is most of
//! a local call: on the 2-vCPU KVM guest this project is built on, a plain C ping-pong of 100
//! bytes over a socketpair takes 63-69 µs (median) between two idle CPUs and 3.3 µs when each
//! side polls for 20 µs before sleeping. libvirt's daemon adds thread hand-offs of its own to the
//! same two wake-ups.
//!
//! # The rule
//!
//! One rule serves both ends: **after flushing what it wrote, a connection polls for the
//! answer.** A client that has just sent a request expects the answer; a daemon that has just
//! answered expects the client's next call (a client making calls in a row sends it within
//! microseconds). HTTP/2 ends a turn with a flush (it reads until it would wait, then writes
//! and flushes); the flush asks for the connection's task to run again once the runtime has
//! nothing else to run, and that next read, instead of waiting, reads the socket directly (a
//! non-blocking `read(2)`) until data arrives or the budget is spent. So a poll never holds up
//! work already there (the call just read, another connection's), and the CPU does not go idle
//! between the answer and the next call.
//!
//! Only a turn polls: something read, then something written. Writes nobody answers (a daemon
//! pushing events to a subscriber, one frame after another) never poll. And only a peer that
//! takes its turns promptly is polled for: each reply is timed from the end of the turn it
//! answers, and a reply that took longer than the budget (a client that sleeps between calls,
//! or one that does not poll and so pays its own wake-up) stops the polling until a reply
//! comes within the budget again.
//!
//! The cost is bounded: at most one budget of CPU per write, spent on the thread that wrote.
//! A daemon serving a call a second spends 50 µs a second on it; one serving none spends
//! nothing. `VIRT_BUSY_POLL_US` sets the budget (microseconds; 0 turns polling off) for clients
//! and daemons alike; daemons also take `--busy-poll-us`.
//!
//! Reading the socket behind the runtime's back is safe with tokio's readiness tracking: the
//! runtime only caches "readable", and a read that finds nothing clears it; data read here is
//! simply not there for the next read, which then waits for the next edge.

use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The budget when `VIRT_BUSY_POLL_US` is not set.
pub const DEFAULT_BUDGET: Duration = Duration::from_micros(50);

/// The environment variable that sets the budget in microseconds (0: off).
pub const ENV: &str = "VIRT_BUSY_POLL_US";

/// The budget from [`ENV`], else [`DEFAULT_BUDGET`]; a value that is not a number is ignored.
pub fn budget_from_env() -> Duration {
    parse_budget(std::env::var(ENV).ok().as_deref())
}

/// A budget in microseconds as [`ENV`] gives it.
fn parse_budget(value: Option<&str>) -> Duration {
    value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_BUDGET, Duration::from_micros)
}

/// A socket that, once it has answered, polls for the peer's reply for a while before it
/// lets the runtime sleep (see the module docs).
#[derive(Debug)]
pub struct BusyPoll<IO> {
    io: IO,
    budget: Duration,
    /// Something was written since the last turn ended.
    wrote: bool,
    /// Something was read since the last turn ended: the writes answer the peer.
    read: bool,
    /// A turn ended: set when the runtime, having nothing else to run, runs the connection's
    /// task again; the read of that run polls.
    idle: Arc<AtomicBool>,
    /// When the last turn ended, until the peer's reply is read.
    turn_end: Option<Instant>,
    /// The peer's last reply came within the budget: polling for the next one pays.
    prompt: bool,
    /// The deferred wake-up of the last turn and the task waker it wraps, reused while the
    /// task stays the same (no allocation per call).
    idle_wake: Option<(Waker, Waker)>,
}

/// The deferred wake-up of a turn's end: marks the runtime idle, then wakes the task.
struct IdleWake {
    idle: Arc<AtomicBool>,
    task: Waker,
}

impl Wake for IdleWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.idle.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}

impl<IO> BusyPoll<IO> {
    /// Wraps `io`, polling for at most `budget` (zero: never).
    pub fn new(io: IO, budget: Duration) -> Self {
        BusyPoll {
            io,
            budget,
            wrote: false,
            read: false,
            idle: Arc::new(AtomicBool::new(false)),
            turn_end: None,
            prompt: true,
            idle_wake: None,
        }
    }

    /// The wrapped socket.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// Data came in: the peer's turn, timed against the budget if it answers ours.
    fn replied(&mut self) {
        self.read = true;
        if let Some(end) = self.turn_end.take() {
            self.prompt = end.elapsed() <= self.budget;
        }
    }
}

impl<IO: AsyncRead + AsFd + Unpin> AsyncRead for BusyPoll<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.io).poll_read(cx, buf);
        if res.is_ready() {
            if buf.filled().len() > before {
                this.replied();
            }
            return res;
        }
        if !this.idle.swap(false, Ordering::AcqRel) || buf.remaining() == 0 {
            return Poll::Pending;
        }
        // The runtime has the waker; poll the socket meanwhile, up to the budget.
        let deadline = Instant::now() + this.budget;
        loop {
            match nix::unistd::read(this.io.as_fd(), buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    this.replied();
                    return Poll::Ready(Ok(()));
                }
                Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Poll::Ready(Err(e.into())),
            }
            if Instant::now() >= deadline {
                return Poll::Pending;
            }
            std::hint::spin_loop();
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for BusyPoll<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.io).poll_write(cx, data);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.wrote = true;
        }
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.wrote = true;
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    /// Flushes; a flush after reading and writing ends a turn: the task is asked to run again
    /// once the runtime has nothing else to run (`tokio::task::yield_now`'s deferred wake), and
    /// the read of that run polls. So a poll never holds up work already there: the call just
    /// read, the rest of an answer (HTTP/2 trailers), another connection's.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.io).poll_flush(cx);
        if matches!(res, Poll::Ready(Ok(()))) && this.wrote && this.read && !this.budget.is_zero() {
            this.wrote = false;
            this.read = false;
            this.turn_end = Some(Instant::now());
            if !this.prompt {
                return res;
            }
            let task = cx.waker();
            let waker = match &this.idle_wake {
                Some((t, w)) if t.will_wake(task) => w,
                _ => {
                    let w = Waker::from(Arc::new(IdleWake {
                        idle: this.idle.clone(),
                        task: task.clone(),
                    }));
                    &this.idle_wake.insert((task.clone(), w)).1
                }
            };
            let mut later = std::pin::pin!(tokio::task::yield_now());
            let _ = later.as_mut().poll(&mut Context::from_waker(waker));
        }
        res
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream as StdUnix;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixStream;

    fn pair(budget: Duration) -> (BusyPoll<UnixStream>, StdUnix) {
        let (a, b) = StdUnix::pair().expect("socketpair");
        a.set_nonblocking(true).expect("nonblocking");
        let a = UnixStream::from_std(a).expect("tokio stream");
        (BusyPoll::new(a, budget), b)
    }

    // After a flush the tests yield, as a runtime with nothing else to do would: only then
    // does the turn's read poll.

    /// The peer speaks first and we read it: the next flush ends a turn.
    async fn take_turn(ours: &mut BusyPoll<UnixStream>, peer: &mut StdUnix) {
        peer.write_all(b"h").expect("peer speaks");
        // A read shorter than the buffer: the runtime takes the socket for drained.
        let mut b = [0u8; 16];
        assert_eq!(ours.read(&mut b).await.expect("we read"), 1);
    }

    /// One poll with a waker nobody wakes: only polling can make a waiting read ready.
    fn poll_once(io: &mut BusyPoll<UnixStream>, into: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut rb = ReadBuf::new(into);
        Pin::new(io)
            .poll_read(&mut cx, &mut rb)
            .map_ok(|()| rb.filled().len())
    }

    #[tokio::test]
    async fn after_a_turn_the_read_polls_for_the_answer() {
        let (mut ours, mut peer) = pair(Duration::from_secs(5));
        take_turn(&mut ours, &mut peer).await;
        let echo = std::thread::spawn(move || {
            let mut b = [0u8; 4];
            peer.read_exact(&mut b).expect("peer reads");
            std::thread::sleep(Duration::from_millis(20));
            peer.write_all(b"pong").expect("peer answers");
            peer
        });
        ours.write_all(b"ping").await.expect("write");
        ours.flush().await.expect("flush ends the turn");
        tokio::task::yield_now().await;
        let mut got = [0u8; 4];
        match poll_once(&mut ours, &mut got) {
            Poll::Ready(Ok(4)) => assert_eq!(&got, b"pong"),
            other => panic!("the read should have polled the answer in: {other:?}"),
        }
        // The next read does not poll: nothing was written since.
        let t = Instant::now();
        assert!(poll_once(&mut ours, &mut got).is_pending());
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        drop(echo.join().expect("peer"));
    }

    #[tokio::test]
    async fn a_turn_polls_only_once_the_runtime_has_nothing_else_to_run() {
        let (mut ours, mut peer) = pair(Duration::from_secs(5));
        take_turn(&mut ours, &mut peer).await;
        ours.write_all(b"answer").await.expect("write");
        ours.flush().await.expect("flush");
        // Other work is still to run (this task has not yielded): the read must not poll, or
        // it would hold that work up for the whole budget.
        let t = Instant::now();
        assert!(poll_once(&mut ours, &mut [0u8; 8]).is_pending());
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        // Once the runtime runs out of work, the deferred wake marks the turn for polling.
        tokio::task::yield_now().await;
        peer.write_all(b"next").expect("next call");
        let mut got = [0u8; 8];
        match poll_once(&mut ours, &mut got) {
            Poll::Ready(Ok(n)) => assert_eq!(&got[..n], &b"next"[..n]),
            other => panic!("the idle read should have polled: {other:?}"),
        }
    }

    #[tokio::test]
    async fn writes_nobody_asked_for_do_not_poll() {
        let (mut ours, mut peer) = pair(Duration::from_millis(30));
        // Nothing read yet: a push, not an answer.
        ours.write_all(b"event").await.expect("write");
        ours.flush().await.expect("flush");
        tokio::task::yield_now().await;
        let t = Instant::now();
        assert!(poll_once(&mut ours, &mut [0u8; 8]).is_pending());
        assert!(t.elapsed() < Duration::from_millis(30), "{:?}", t.elapsed());
        // An answer: the read polls the whole budget when nothing comes.
        take_turn(&mut ours, &mut peer).await;
        ours.write_all(b"answer").await.expect("write");
        ours.flush().await.expect("flush");
        tokio::task::yield_now().await;
        let t = Instant::now();
        assert!(poll_once(&mut ours, &mut [0u8; 8]).is_pending());
        assert!(
            t.elapsed() >= Duration::from_millis(30),
            "{:?}",
            t.elapsed()
        );
        // Pushes after that: no poll.
        ours.write_all(b"event").await.expect("write");
        ours.flush().await.expect("flush");
        tokio::task::yield_now().await;
        let t = Instant::now();
        assert!(poll_once(&mut ours, &mut [0u8; 8]).is_pending());
        assert!(t.elapsed() < Duration::from_millis(30), "{:?}", t.elapsed());
    }

    #[tokio::test]
    async fn a_slow_peer_is_not_polled_for_until_it_answers_promptly_again() {
        let (mut ours, mut peer) = pair(Duration::from_millis(20));
        take_turn(&mut ours, &mut peer).await;
        // Turn 1: the peer answers after the budget; the poll misses, the reply is late.
        ours.write_all(b"1").await.expect("write");
        ours.flush().await.expect("flush");
        tokio::task::yield_now().await;
        let t = Instant::now();
        assert!(poll_once(&mut ours, &mut [0u8; 8]).is_pending());
        assert!(
            t.elapsed() >= Duration::from_millis(20),
            "polled: {:?}",
            t.elapsed()
        );
        std::thread::sleep(Duration::from_millis(10));
        peer.write_all(b"late").expect("late reply");
        let mut b = [0u8; 4];
        ours.read_exact(&mut b).await.expect("late reply read");
        // Turn 2: no poll for this peer now.
        ours.write_all(b"2").await.expect("write");
        ours.flush().await.expect("flush");
        tokio::task::yield_now().await;
        let t = Instant::now();
        assert!(poll_once(&mut ours, &mut [0u8; 8]).is_pending());
        assert!(t.elapsed() < Duration::from_millis(20), "{:?}", t.elapsed());
        // It replies promptly this time, so turn 3 polls again.
        peer.write_all(b"soon").expect("prompt reply");
        ours.read_exact(&mut b).await.expect("prompt reply read");
        ours.write_all(b"3").await.expect("write");
        ours.flush().await.expect("flush");
        tokio::task::yield_now().await;
        let t = Instant::now();
        assert!(poll_once(&mut ours, &mut [0u8; 8]).is_pending());
        assert!(
            t.elapsed() >= Duration::from_millis(20),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn past_the_budget_the_read_waits_and_still_gets_the_answer_and_eof() {
        let (mut ours, mut peer) = pair(Duration::from_millis(2));
        take_turn(&mut ours, &mut peer).await;
        ours.write_all(b"x").await.expect("write");
        ours.flush().await.expect("flush");
        tokio::task::yield_now().await;
        let mut b = [0u8; 1];
        peer.read_exact(&mut b).expect("peer reads");
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            peer.write_all(b"late").expect("late answer");
            peer
        });
        let mut got = [0u8; 4];
        ours.read_exact(&mut got).await.expect("late read");
        assert_eq!(&got, b"late");
        drop(late.join().expect("peer"));
        let mut rest = Vec::new();
        ours.read_to_end(&mut rest).await.expect("eof");
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn a_polled_end_of_stream_is_an_end_of_stream() {
        let (mut ours, mut peer) = pair(Duration::from_secs(5));
        take_turn(&mut ours, &mut peer).await;
        ours.write_all(b"x").await.expect("write");
        ours.flush().await.expect("flush");
        tokio::task::yield_now().await;
        let closer = std::thread::spawn(move || {
            let mut b = [0u8; 1];
            peer.read_exact(&mut b).expect("peer reads");
            peer.write_all(b"bye").expect("last words");
            drop(peer);
        });
        closer.join().expect("peer");
        let mut got = [0u8; 8];
        match poll_once(&mut ours, &mut got) {
            Poll::Ready(Ok(n)) => assert_eq!(&got[..n], &b"bye"[..n]),
            other => panic!("polled: {other:?}"),
        }
        let mut rest = Vec::new();
        ours.read_to_end(&mut rest).await.expect("read to the end");
        assert!(b"bye".ends_with(&rest));
    }

    #[test]
    fn a_zero_budget_never_polls() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (mut ours, mut peer) = pair(Duration::ZERO);
            take_turn(&mut ours, &mut peer).await;
            ours.write_all(b"x").await.expect("write");
            ours.flush().await.expect("flush");
            tokio::task::yield_now().await;
            peer.write_all(b"y").expect("answer already there");
            // The answer is in the socket, but the runtime has not seen it: without polling
            // the first read waits for the runtime.
            assert!(poll_once(&mut ours, &mut [0u8; 1]).is_pending());
        });
    }

    #[test]
    fn the_budget_is_microseconds_zero_is_off_and_nonsense_the_default() {
        assert_eq!(parse_budget(Some("0")), Duration::ZERO);
        assert_eq!(parse_budget(Some(" 120 ")), Duration::from_micros(120));
        assert_eq!(parse_budget(Some("nonsense")), DEFAULT_BUDGET);
        assert_eq!(parse_budget(None), DEFAULT_BUDGET);
    }
}
