//! Peak memory of a sync with a large file: files are hashed a buffer at a time and uploaded
//! streaming from disk, so memory does not grow with the file. Its own test binary, with one
//! test, so that the peak of the children it waits for is presign-stack's alone. It fails only
//! on a gross regression (a whole file held in memory), not on noise.

mod support;

use support::*;

const REGION: &str = "eu-central-1";

/// The largest resident set of any child this process has waited for, in bytes.
fn children_peak_rss() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc_rusage>::zeroed();
    // SAFETY: getrusage writes a struct rusage into the pointer it is given.
    let rc = unsafe { getrusage(RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: initialised by the successful call above.
    let usage = unsafe { usage.assume_init() };
    usage.ru_maxrss as u64 * 1024
}

#[repr(C)]
struct libc_rusage {
    ru_utime: [i64; 2],
    ru_stime: [i64; 2],
    ru_maxrss: i64,
    _rest: [i64; 13],
}

const RUSAGE_CHILDREN: i32 = -1;

extern "C" {
    fn getrusage(who: i32, usage: *mut libc_rusage) -> i32;
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_sync_with_a_large_file_holds_no_whole_file_in_memory() {
    let moto = Moto::start();
    let p = Project::new();
    let size: usize = 256 * 1024 * 1024;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(p.path().join("site/big.bin")).unwrap();
        let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        for _ in 0..size / block.len() {
            f.write_all(&block).unwrap();
        }
    }
    p.write_spec(&support::spec("minimal", "mem-docs", REGION));
    run(p.cmd(&moto, REGION, &["up"])).ok();
    let peak = children_peak_rss();
    eprintln!(
        "peak RSS of presign-stack up with a {} MiB file: {} MiB",
        size >> 20,
        peak >> 20
    );
    assert!(
        peak < 160 * 1024 * 1024,
        "peak RSS {} MiB for a {} MiB file: is a whole file held in memory?",
        peak >> 20,
        size >> 20
    );
}
