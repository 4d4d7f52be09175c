//! The allocator lvsd runs on, and handing its free memory back to the kernel.
//!
//! glibc's malloc. The `mimalloc` feature (off by default, not in the release or .deb
//! builds) puts lvsd on mimalloc instead, to measure it against glibc with the memory and
//! reload-soak benches. With its default options it held 55% more at 1,000×20; with
//! `MIMALLOC_PURGE_DELAY=0 MIMALLOC_ARENA_EAGER_COMMIT=0` about as much as glibc at start
//! and flatter over 1,000 reloads (1.06× the first reload's RSS against glibc's 1.25×).
//! Not the default yet: those options are read when mimalloc starts, before `main`, and
//! would have to be set in-process (figures: BENCHMARKS.md, Memory and Reloads → Soak).

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

/// At most two glibc malloc arenas (unless `MALLOC_ARENA_MAX` says otherwise): glibc
/// gives each thread that meets contention an arena of its own, up to 8 per core, and
/// the tokio workers, the blocking pool (configurations are parsed there) and the VRRP
/// thread each keep free memory in theirs. Call before any thread starts.
pub fn bound_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a glibc malloc parameter.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(feature = "testing")]
pub use counting::{heap_in_use, Counting};

#[cfg(feature = "testing")]
mod counting {
    use std::alloc::{GlobalAlloc, Layout};
    use std::sync::atomic::{AtomicIsize, Ordering};

    /// Bytes allocated and not yet freed through [`Counting`].
    static IN_USE: AtomicIsize = AtomicIsize::new(0);

    /// For the benches: lvsd's allocator ([`super::Allocator`]), counting the bytes in
    /// use.
    pub struct Counting;

    /// Bytes in use on the heap (what the program holds, not what the allocator keeps).
    pub fn heap_in_use() -> usize {
        IN_USE.load(Ordering::Relaxed).max(0) as usize
    }

    // SAFETY: forwards every call to lvsd's allocator, only counting bytes.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            IN_USE.fetch_add(l.size() as isize, Ordering::Relaxed);
            super::ALLOCATOR.alloc(l)
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            IN_USE.fetch_sub(l.size() as isize, Ordering::Relaxed);
            super::ALLOCATOR.dealloc(p, l)
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            IN_USE.fetch_add(l.size() as isize, Ordering::Relaxed);
            super::ALLOCATOR.alloc_zeroed(l)
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
            IN_USE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
            super::ALLOCATOR.realloc(p, l, n)
        }
    }
}
