//! How the process asks for memory: big buffers go straight back to the system.
//!
//! A comic at the saved size is made of many short-lived buffers of one to a few megabytes
//! (a 720x720 frame is 2 MB, the look's planes as much, a burst has eight of each). glibc's
//! malloc serves a block over its mmap threshold with its own mapping, returned to the system
//! on free; but the threshold starts at 128 KiB and rises to the size of every such block
//! freed (up to 32 MiB), after which those blocks come from the heaps of the threads that
//! asked, and stay there, scattered, once freed. Measured on x86_64 with `comicbooth run` and
//! the default config, three burst comics: peak resident 143 MB as glibc sets it, 76 MB with
//! the threshold held at 1 MiB (89 MB at 2.2 MiB, 66 MB at 512 KiB); a board's 512 MB to 1 GB
//! is shared with the display and the system. Holding it costs page faults on each new big
//! buffer, a few percent of a comic (docs/speed.md).

/// Big blocks (this size or more) are mapped on their own and unmapped when freed.
pub const MMAP_THRESHOLD: usize = 1 << 20;

/// Holds glibc's mmap threshold at [`MMAP_THRESHOLD`], which also stops it from rising. Call
/// once, first thing in `main`; a `MALLOC_MMAP_THRESHOLD_` in the environment wins (glibc's
/// own tunable, for measuring). Does nothing with another C library.
pub fn keep_big_blocks_mapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called before any other thread.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) };
    }
}
