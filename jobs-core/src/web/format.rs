//! How times, durations, counts and rates read on the page.

use std::fmt::Write as _;
use std::time::Duration;

/// A time (ms since the Unix epoch) as `2026-11-29 13:48:23 UTC`.
pub(crate) fn utc(ms: i64) -> String {
    format!("{} UTC", crate::timestamp::utc(ms))
}

/// A duration as a person reads it: `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub(crate) fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    let s = d.as_secs();
    if ms < 1000 {
        format!("{ms} ms")
    } else if s < 60 {
        format!("{:.1} s", d.as_secs_f64())
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, s % 3600 / 60)
    }
}

/// A count with thousands separated: `1,234,567`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// A rate per second: `9,940/s`, or `0.5/s` below one.
pub(crate) fn rate(per_second: f64) -> String {
    if per_second >= 1.0 {
        // In range: a rate is far below u64::MAX.
        format!("{}/s", count(per_second.round() as u64))
    } else {
        let mut text = String::new();
        let _ = write!(text, "{per_second:.1}/s");
        text
    }
}

/// A share as a whole percentage, `0%` of nothing.
pub(crate) fn percent(done: u64, total: u64) -> u64 {
    if total == 0 { 0 } else { (u128::from(done.min(total)) * 100 / u128::from(total)) as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_960_926_248), "2026-11-29 14:02:06 UTC");
        assert_eq!(utc(-1000), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn durations_counts_and_rates_read_naturally() {
        assert_eq!(duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(duration(Duration::from_millis(12_340)), "12.3 s");
        assert_eq!(duration(Duration::from_secs(245)), "4 min 05 s");
        assert_eq!(duration(Duration::from_secs(7380)), "2 h 03 min");
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(rate(9940.4), "9,940/s");
        assert_eq!(rate(0.46), "0.5/s");
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(5, 0), 0);
    }
}
