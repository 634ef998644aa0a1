//! Peak resident memory from `/proc` (Linux): VmHWM of this process or of a child, and its reset
//! through `clear_refs` so that each phase reports its own peak; and CPU time used so far.

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

/// User + system CPU seconds used so far by process `pid` (`"self"` or a number), from
/// `/proc/PID/stat` (clock ticks of USER_HZ = 100, fixed on Linux).
pub fn cpu_seconds_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name.
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_of_this_process_grows() {
        let before = super::cpu_seconds_of("self").expect("Linux /proc");
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed().as_millis() < 50 {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(super::cpu_seconds_of("self").unwrap() >= before);
    }
}
