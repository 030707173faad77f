//! A memory budget for user-controlled work. Fuel bounds the instructions a template runs,
//! not the memory it takes: `{% set s.v = s.v ~ s.v %}` in a loop of 40 doubles a string to
//! terabytes in 40 instructions. So the binary's global allocator ([`Counting`]) keeps a
//! per-thread count of live bytes, and [`Guard::enter`] opens a scope (one template render
//! and its YAML parse) that may grow that count by at most [`BUDGET`] bytes.
//!
//! An allocation that would pass the budget is not made, and nothing is allocated to report
//! it: the allocator records which scope tripped in an atomic, wakes the watcher thread
//! ([`watch`], started by `main`) and parks its own. The watcher prints a diagnostic
//! naming the scope and exits with code 2. Rendering happens before anything is written, so
//! out/ is left as it was. Without a watcher (library use, unit tests) nothing is enforced.
//!
//! Underneath is mimalloc ([`Backing`]), with one option of stackc's own ([`tune`]): how soon
//! freed memory goes back to the OS.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How much one guarded scope may grow its thread's live memory.
pub const BUDGET: usize = 512 << 20;
/// [`BUDGET`] as the signed type the live counts use.
const BUDGET_BYTES: isize = 512 << 20;

/// The allocator underneath: mimalloc, not glibc's malloc. A build allocates and frees
/// millions of small strings and maps (a third of an edit build's instructions were glibc's
/// malloc and free); mimalloc's per-thread free lists make each of them a few instructions.
///
/// The `mimalloc` crate asks for every block through mimalloc's aligned entry points, which
/// first check whether the next free block happens to be aligned and, for blocks over 1 KiB,
/// take a generic path: an eighth of a cold build's instructions were the allocator. A
/// layout that plain `mi_malloc` already satisfies goes there instead (the rule std's
/// `System` follows for malloc): mimalloc's blocks are word-aligned, and those of 16 bytes
/// or more are 16-byte aligned.
struct Backing;
static BACKING: Backing = Backing;
/// Alignments over this, or over the size, go through the aligned entry points.
const MALLOC_ALIGN: usize = 16;
static ALIGNED: mimalloc::MiMalloc = mimalloc::MiMalloc;

impl Backing {
    #[inline]
    fn plain(align: usize, size: usize) -> bool {
        align <= MALLOC_ALIGN && align <= size
    }
}

// SAFETY: each method either calls the matching `mi_*` function, whose blocks meet the
// layout (see [`Backing`]), or forwards unchanged to the `mimalloc` crate's allocator; both
// allocate from and free to the same mimalloc heap, so `mi_free` frees either's blocks.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Backing {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::plain(layout.align(), layout.size()) {
            // SAFETY: `mi_malloc` takes any size; the alignment holds (see above).
            unsafe { libmimalloc_sys::mi_malloc(layout.size()).cast() }
        } else {
            // SAFETY: forwarded unchanged.
            unsafe { ALIGNED.alloc(layout) }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if Self::plain(layout.align(), layout.size()) {
            // SAFETY: as for `alloc`.
            unsafe { libmimalloc_sys::mi_zalloc(layout.size()).cast() }
        } else {
            // SAFETY: forwarded unchanged.
            unsafe { ALIGNED.alloc_zeroed(layout) }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` is a mimalloc block (from either path above).
        unsafe { ALIGNED.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if Self::plain(layout.align(), new_size) {
            // SAFETY: `ptr` is a mimalloc block; the new block's alignment holds as for
            // `alloc`, and mimalloc copies the contents.
            unsafe { libmimalloc_sys::mi_realloc(ptr.cast(), new_size).cast() }
        } else {
            // SAFETY: forwarded unchanged.
            unsafe { ALIGNED.realloc(ptr, layout, new_size) }
        }
    }
}

/// How long mimalloc keeps memory that was freed before it gives it back to the OS. Its own
/// default is a second, longer than most builds: at N = 10,000 an edit's resident memory
/// was its high-water mark of everything ever allocated (242 MiB), though the parse's
/// syntax trees and the plan's scratch were long freed. After 50 ms they go back (edit at
/// N = 10,000: 208-217 MiB; cold: 244-249 MiB instead of 260-279), while a build that
/// takes less (an edit at N = 1,000 is 45 ms) never pays for purging and faulting pages in
/// again; 10 ms gave back more (191-198 MiB) but cost that edit 3 ms. `MIMALLOC_PURGE_DELAY`
/// still overrides it.
const PURGE_DELAY_MS: std::ffi::c_long = 50;

/// `mi_option_purge_delay`'s place in mimalloc 3's `mi_option_t` (checked by a test against
/// the option's default, 1000 ms).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

#[allow(unsafe_code)]
unsafe extern "C" {
    fn mi_option_set_default(option: std::ffi::c_int, value: std::ffi::c_long);
    #[cfg(test)]
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
}

/// Sets stackc's defaults for the allocator's options (see [`PURGE_DELAY_MS`]); `main`
/// calls it first.
pub fn tune() {
    // SAFETY: mimalloc's option setter takes any option id (it ignores ids out of range)
    // and any value; it only writes the option's slot in mimalloc's static table.
    #[allow(unsafe_code)]
    unsafe {
        mi_option_set_default(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
    }
}

/// The counting allocator: [`Backing`], plus a per-thread live-byte count and the budget check.
pub struct Counting;

/// One thread's count, in one thread-local so that an allocation touches it once.
struct Counter {
    /// Bytes allocated minus bytes freed on this thread (memory freed by another thread than
    /// the one that allocated it makes this drift, which only loosens the budget).
    live: Cell<isize>,
    /// The live count past which the open scope is over budget (`isize::MAX`: no scope).
    limit: Cell<isize>,
    /// The open scope's id (0: none).
    scope: Cell<usize>,
}

thread_local! {
    static COUNTER: Counter = const {
        Counter {
            live: Cell::new(0),
            limit: Cell::new(isize::MAX),
            scope: Cell::new(0),
        }
    };
}

/// Whether a watcher runs (budgets are enforced only then: a parked thread needs one).
static WATCHING: AtomicBool = AtomicBool::new(false);
/// The id of the scope that passed its budget (0: none).
static TRIPPED: AtomicUsize = AtomicUsize::new(0);
/// Ids for scopes.
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);
/// The watcher thread, woken by a scope that trips: it sleeps until then (polling woke it
/// every few milliseconds, on every core a build keeps busy).
static WATCHER: std::sync::OnceLock<std::thread::Thread> = std::sync::OnceLock::new();
/// The label of every open scope, by id (written only outside the allocator).
static LABELS: Mutex<BTreeMap<usize, String>> = Mutex::new(BTreeMap::new());

impl Counting {
    /// Counts `size` more bytes on this thread; `false` when that passes the open scope's
    /// budget (the scope is then recorded as tripped). Never allocates. Sizes fit in `isize`
    /// (`Layout` guarantees it), so the sums cannot overflow in practice.
    #[inline]
    fn grow(size: usize) -> bool {
        COUNTER.with(|c| {
            let live = c.live.get().wrapping_add_unsigned(size);
            if live > c.limit.get() && WATCHING.load(Ordering::Relaxed) {
                let _ =
                    TRIPPED.compare_exchange(0, c.scope.get(), Ordering::SeqCst, Ordering::SeqCst);
                return false;
            }
            c.live.set(live);
            true
        })
    }

    #[inline]
    fn shrink(size: usize) {
        COUNTER.with(|c| c.live.set(c.live.get().wrapping_sub_unsigned(size)));
    }

    /// Wakes the watcher, then parks the thread whose scope tripped until the watcher ends
    /// the process. (Waking allocates nothing: a futex wake on the watcher's parker.)
    #[cold]
    fn park() -> ! {
        if let Some(watcher) = WATCHER.get() {
            watcher.unpark();
        }
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

// SAFETY: every method forwards to `BACKING` with the caller's arguments unchanged; the only
// additions are updates of two const-initialized, destructor-free thread-locals (which never
// allocate) and, over budget, parking the thread instead of allocating. Sizes passed to
// `shrink` are those of blocks `BACKING` allocated for us.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::grow(layout.size()) {
            Self::park();
        }
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { BACKING.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Self::grow(layout.size()) {
            Self::park();
        }
        // SAFETY: as for `alloc`.
        unsafe { BACKING.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::shrink(layout.size());
        // SAFETY: `ptr` was allocated by `BACKING` with `layout` (all our blocks are).
        unsafe { BACKING.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            if !Self::grow(new_size - layout.size()) {
                Self::park();
            }
        } else {
            Self::shrink(layout.size() - new_size);
        }
        // SAFETY: forwarded unchanged; `ptr` and `layout` come from our `alloc`.
        unsafe { BACKING.realloc(ptr, layout, new_size) }
    }
}

/// A budgeted scope on the current thread, closed when dropped.
pub struct Guard {
    id: usize,
    /// The enclosing scope's id and limit, restored when this one closes.
    outer: (usize, isize),
}

impl Guard {
    /// Opens a scope; `label` says what runs in it (`templates/x.yaml.j2 (service web in
    /// environment dev)`), for the diagnostic if it passes the budget.
    pub fn enter(label: impl Into<String>) -> Guard {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let label = label.into();
        if let Ok(mut labels) = LABELS.lock() {
            labels.insert(id, label);
        }
        let outer = COUNTER.with(|c| {
            let outer = (c.scope.get(), c.limit.get());
            c.scope.set(id);
            // An inner scope never widens the enclosing one's budget.
            c.limit
                .set(c.live.get().saturating_add(BUDGET_BYTES).min(outer.1));
            outer
        });
        Guard { id, outer }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Closed before the label is removed: removing may free memory inside the scope.
        COUNTER.with(|c| {
            c.scope.set(self.outer.0);
            c.limit.set(self.outer.1);
        });
        if let Ok(mut labels) = LABELS.lock() {
            labels.remove(&self.id);
        }
    }
}

/// A scope used more memory than its budget allows.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{label} used more than {} MiB of memory", BUDGET >> 20)]
#[diagnostic(
    code(stackc::render::out_of_memory),
    help("a template or document may grow memory by at most {} MiB; is a string or a list growing in a loop (`s ~ s`), or a YAML alias repeated?", BUDGET >> 20)
)]
pub struct OverBudget {
    pub label: String,
}

/// Starts the watcher thread that reports a tripped scope and exits with code 2; from then
/// on budgets are enforced. `report` prints the diagnostic.
pub fn watch(report: fn(&OverBudget)) {
    let started = std::thread::Builder::new()
        .name("stackc-memory".into())
        .spawn(move || loop {
            let id = TRIPPED.load(Ordering::SeqCst);
            if id != 0 {
                // try_lock: the parked thread may have tripped while holding the lock.
                let label = (0..20)
                    .find_map(|_| match LABELS.try_lock() {
                        Ok(labels) => Some(labels.get(&id).cloned()),
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(5));
                            None
                        }
                    })
                    .flatten()
                    .unwrap_or_else(|| "a template".to_string());
                report(&OverBudget { label });
                std::process::exit(2);
            }
            // Until a tripped scope unparks it (a wake-up before this park is kept, and a
            // spurious one only loops).
            std::thread::park();
        });
    if let Ok(handle) = started {
        let _ = WATCHER.set(handle.thread().clone());
        WATCHING.store(true, Ordering::SeqCst);
    }
}

/// Ends the process at once with `status`. mimalloc, linked in statically, frees and purges
/// every page it holds when the process exits (it cannot tell a program from a library being
/// unloaded): for a command that leaves its heap to the OS on purpose (`cli::build`'s
/// `exiting`), hundreds of `madvise` calls and thousands of page-table updates for nothing.
/// The caller has finished: every file is closed, the build lock released and the standard
/// streams flushed.
#[allow(unsafe_code)]
pub fn exit(status: u8) -> ! {
    // SAFETY: `_exit` ends the process without returning; no Rust code runs after it.
    unsafe { libc::_exit(i32::from(status)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A byte that differs from its neighbours, to tell moved contents from garbage.
    fn pattern(i: usize) -> u8 {
        u8::try_from(i % 251).unwrap_or_default()
    }

    /// Every layout the fast path takes, and those it leaves to the aligned entry points, get
    /// a block of their alignment; growing and shrinking keeps the contents and the alignment.
    #[test]
    #[allow(unsafe_code)]
    fn every_block_meets_its_layout_through_either_path() {
        let sizes = [
            1, 2, 3, 7, 8, 9, 12, 15, 16, 17, 24, 31, 40, 100, 1024, 1025, 4097, 70_000,
        ];
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in sizes {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; every block is freed with its own layout.
                unsafe {
                    let zeroed = BACKING.alloc_zeroed(layout);
                    assert!(!zeroed.is_null());
                    assert_eq!(zeroed.addr() % align, 0, "zeroed {size} align {align}");
                    assert!(std::slice::from_raw_parts(zeroed, size)
                        .iter()
                        .all(|b| *b == 0));
                    BACKING.dealloc(zeroed, layout);

                    for new_size in [size * 3, size.div_ceil(2)] {
                        let ptr = BACKING.alloc(layout);
                        assert!(!ptr.is_null());
                        assert_eq!(ptr.addr() % align, 0, "alloc {size} align {align}");
                        for i in 0..size {
                            ptr.add(i).write(pattern(i));
                        }
                        let moved = BACKING.realloc(ptr, layout, new_size);
                        assert!(!moved.is_null());
                        assert_eq!(moved.addr() % align, 0, "realloc {size} -> {new_size}");
                        for i in 0..size.min(new_size) {
                            assert_eq!(moved.add(i).read(), pattern(i), "byte {i}");
                        }
                        BACKING.dealloc(moved, Layout::from_size_align(new_size, align).unwrap());
                    }
                }
            }
        }
    }

    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_id_is_mimallocs() {
        // The id is mimalloc's own only if it reads that option's default, 1000 ms (which
        // the environment would replace: run without it); after `tune` it reads stackc's.
        assert!(
            std::env::var_os("MIMALLOC_PURGE_DELAY").is_none(),
            "unset MIMALLOC_PURGE_DELAY to run this test"
        );
        // SAFETY: reading and setting an option only touch mimalloc's option table.
        unsafe {
            let before = super::mi_option_get(super::MI_OPTION_PURGE_DELAY);
            assert_eq!(
                before,
                1000,
                "option {} is not mi_option_purge_delay",
                super::MI_OPTION_PURGE_DELAY
            );
            super::tune();
            assert_eq!(
                super::mi_option_get(super::MI_OPTION_PURGE_DELAY),
                super::PURGE_DELAY_MS
            );
        }
    }
}
