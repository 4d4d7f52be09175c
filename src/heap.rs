//! The allocator lvsd runs on, and handing its free memory back to the kernel.
//!
//! glibc's malloc (2 arenas, trimmed 2 s after each start and reload, and at most once a
//! minute while checker verdicts reach the kernel: `lvs::runtime`). The `mimalloc` feature puts
//! lvsd on mimalloc instead, to compare the two with the memory and reload-soak benches
//! (figures: BENCHMARKS.md, Reloads → Soak, and Memory → Allocators). On the host both
//! stay within 1.08× of the first reload's RSS over 1,000 reloads at 1,000 × 20, and glibc
//! drifted to 1.25–1.31× under churn and load where mimalloc did not; but in the IPVS
//! guest (transparent huge pages `always`, as Debian's kernel has them) the static build
//! on mimalloc held 37 MiB after the start against about 23 MiB on glibc until huge pages
//! were turned off for it; then 23 MiB, and 24 MiB after reloads against glibc's 26–29.
//! glibc stays the default until such a build has been through the whole test suite.
//! mimalloc's options: arenas committed on demand and no huge pages are compiled in
//! (`.cargo/config.toml`: mimalloc reads them when the process starts, before `main`);
//! the purge delay is set at the top of `main` ([`tune`]), unless the environment sets it.

/// The process's global allocator (`#[global_allocator]` in the lvsd binary).
#[cfg(not(feature = "mimalloc"))]
pub type Allocator = std::alloc::System;
#[cfg(not(feature = "mimalloc"))]
pub const ALLOCATOR: Allocator = std::alloc::System;
/// Its name, for the benches' output.
#[cfg(not(feature = "mimalloc"))]
pub const NAME: &str = "glibc malloc";

#[cfg(feature = "mimalloc")]
pub type Allocator = mimalloc::MiMalloc;
#[cfg(feature = "mimalloc")]
pub const ALLOCATOR: Allocator = mimalloc::MiMalloc;
#[cfg(feature = "mimalloc")]
pub const NAME: &str = "mimalloc";

/// Hands free memory back to the kernel: glibc's free pages (`malloc_trim`, which also
/// releases free pages inside its arenas, not only at their top; a reload frees about as
/// much as it allocates, in between live checkers) and, on mimalloc, its free pages.
pub fn release_free() {
    #[cfg(feature = "mimalloc")]
    // SAFETY: mi_collect only walks mimalloc's own heaps; it is safe from any thread.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks glibc's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// mimalloc purges freed pages at once (its default waits a second), unless
/// `MIMALLOC_PURGE_DELAY` says otherwise: the option is read at each purge, so setting it
/// at the top of `main` covers every purge.
#[cfg(feature = "mimalloc")]
fn tune_mimalloc() {
    // mimalloc v3's option number (mimalloc.h, `mi_option_e`).
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // getenv, not std::env: reading the variable must not allocate.
    // SAFETY: getenv reads the environment; no thread has started to change it.
    if unsafe { libc::getenv(c"MIMALLOC_PURGE_DELAY".as_ptr()) }.is_null() {
        // SAFETY: mi_option_set only stores an option's value.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
    }
}

/// Sets the allocator up for a long-running daemon; call first in `main`, before any
/// thread starts: on glibc, [`bound_malloc_arenas`]; on mimalloc, its purge options.
pub fn tune() {
    #[cfg(feature = "mimalloc")]
    tune_mimalloc();
    bound_malloc_arenas();
}

/// At most two glibc malloc arenas (unless `MALLOC_ARENA_MAX` says otherwise): glibc
/// gives each thread that meets contention an arena of its own, up to 8 per core, and
/// the tokio workers, the blocking pool (configurations are parsed there) and the VRRP
/// thread each keep free memory in theirs. Call before any thread starts.
fn bound_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a glibc malloc parameter.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(feature = "testing")]
pub use counting::{heap_allocated, heap_in_use, heap_peak, reset_heap_peak, Counting};

#[cfg(feature = "testing")]
mod counting {
    use std::alloc::{GlobalAlloc, Layout};
    use std::sync::atomic::{AtomicIsize, Ordering};

    /// Bytes allocated and not yet freed through [`Counting`].
    static IN_USE: AtomicIsize = AtomicIsize::new(0);
    /// The most [`IN_USE`] has been since [`reset_heap_peak`].
    static PEAK: AtomicIsize = AtomicIsize::new(0);
    /// Bytes allocated in all (reallocations count their new size).
    static ALLOCATED: AtomicIsize = AtomicIsize::new(0);

    /// `delta` more bytes in use, of which `allocated` newly allocated.
    fn note(delta: isize, allocated: usize) {
        let now = IN_USE.fetch_add(delta, Ordering::Relaxed) + delta;
        // A load first: the read-modify-write only when a new peak is reached.
        if now > PEAK.load(Ordering::Relaxed) {
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ALLOCATED.fetch_add(allocated as isize, Ordering::Relaxed);
    }

    /// For the benches: lvsd's allocator ([`super::Allocator`]), counting the bytes in
    /// use.
    pub struct Counting;

    /// Bytes in use on the heap (what the program holds, not what the allocator keeps).
    pub fn heap_in_use() -> usize {
        IN_USE.load(Ordering::Relaxed).max(0) as usize
    }

    /// The most bytes in use since the last [`reset_heap_peak`] (or the start).
    pub fn heap_peak() -> usize {
        PEAK.load(Ordering::Relaxed).max(0) as usize
    }

    /// The peak starts again from the bytes in use now.
    pub fn reset_heap_peak() {
        PEAK.store(IN_USE.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Bytes allocated so far in all, freed or not.
    pub fn heap_allocated() -> usize {
        ALLOCATED.load(Ordering::Relaxed).max(0) as usize
    }

    // SAFETY: forwards every call to lvsd's allocator, only counting bytes.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            note(l.size() as isize, l.size());
            super::ALLOCATOR.alloc(l)
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            IN_USE.fetch_sub(l.size() as isize, Ordering::Relaxed);
            super::ALLOCATOR.dealloc(p, l)
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            note(l.size() as isize, l.size());
            super::ALLOCATOR.alloc_zeroed(l)
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
            note(n as isize - l.size() as isize, n);
            super::ALLOCATOR.realloc(p, l, n)
        }
    }
}

#[cfg(all(test, feature = "mimalloc"))]
mod tests {
    /// The defaults that keep lvsd's RSS small and flat are compiled in (they cannot be
    /// set from `main`): this fails if `.cargo/config.toml`'s flags did not reach
    /// mimalloc's build.
    #[test]
    fn mimalloc_commits_arenas_on_demand_without_huge_pages() {
        // mimalloc v3's option numbers (mimalloc.h, `mi_option_e`).
        for (option, var) in [
            (4, "MIMALLOC_ARENA_EAGER_COMMIT"),
            (43, "MIMALLOC_ALLOW_THP"),
        ] {
            if std::env::var_os(var).is_none() {
                // SAFETY: mi_option_get only reads an option's value.
                assert_eq!(
                    unsafe { libmimalloc_sys::mi_option_get(option) },
                    0,
                    "{var}"
                );
            }
        }
    }
}
