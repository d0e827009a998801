//! The process's memory allocator: jemalloc, purging freed pages in the background.
//!
//! With glibc's malloc, memory freed after a connection flood stayed resident: each
//! runtime thread allocates from its own arena, the arena returns pages to the system
//! only from its top and only when a free there coalesces 64 KiB, and a few chunks still
//! in use pinned the rest (after 15,000 slow request heads beside 3,000 streams, 34 MiB
//! held with 0.5 MiB in use; `malloc_trim` gave it back). jemalloc returns a page once
//! it has been unused for its decay time (10 s), and its background threads do so while
//! the server is idle. BENCHMARKS.md (`taskhub-bench flood`) has the numbers.
//! SQLite's C code still uses the system's malloc.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
