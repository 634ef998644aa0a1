//! Peak resident memory of this process from `/proc` (Linux): VmHWM, and its reset through
//! `clear_refs` so that each phase reports its own peak.

/// Resets the peak to the current resident size (`echo 5 > /proc/self/clear_refs`); `false`
/// when not permitted or not on Linux, and then peaks are of the whole process so far.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// VmHWM in KiB, if the platform reports it.
pub fn peak_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
