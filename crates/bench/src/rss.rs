//! Peak resident memory from `/proc` (Linux): VmHWM of this process or of a child, and its reset
//! through `clear_refs` so that each phase reports its own peak.

/// Resets the peak to the current resident size (`echo 5 > /proc/self/clear_refs`); `false`
/// when not permitted or not on Linux, and then peaks are of the whole process so far.
pub fn reset_peak() -> bool {
    reset_peak_of("self")
}

/// VmHWM in KiB, if the platform reports it.
pub fn peak_kb() -> Option<u64> {
    peak_kb_of("self")
}

/// [`reset_peak`] for process `pid` (`"self"` or a number; a child of ours is permitted).
pub fn reset_peak_of(pid: &str) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// [`peak_kb`] for process `pid`.
pub fn peak_kb_of(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
