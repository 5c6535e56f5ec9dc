//! UTC calendar arithmetic for key paths and RFC 3339 timestamps, without a date crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC instant broken down into calendar fields (whole seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Whole seconds since the Unix epoch (negative before it), rounding towards minus infinity.
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => {
            let d = e.duration();
            let s = d.as_secs() as i64;
            if d.subsec_nanos() > 0 {
                -s - 1
            } else {
                -s
            }
        }
    }
}

/// `t` truncated to whole seconds (as SigV4 does for `X-Amz-Date`).
pub fn truncate_to_second(t: SystemTime) -> SystemTime {
    from_unix_seconds(unix_seconds(t))
}

pub fn from_unix_seconds(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

impl UtcDateTime {
    pub fn from_system_time(t: SystemTime) -> Self {
        Self::from_unix_seconds(unix_seconds(t))
    }

    pub fn from_unix_seconds(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        UtcDateTime {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
        }
    }

    /// `2026-11-28T16:05:00Z`
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `2026/11/28`, the date part of an upload key.
    pub fn key_date_path(&self) -> String {
        format!("{:04}/{:02}/{:02}", self.year, self.month, self.day)
    }

    /// `20261128T160500Z`, SigV4's `X-Amz-Date`.
    pub fn amz_date(&self) -> String {
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// Parses S3's `YYYY-MM-DDTHH:MM:SS[.fff]Z` (a listing's `LastModified`) into Unix seconds;
    /// fractions are dropped.
    pub fn parse_iso8601(s: &str) -> Option<i64> {
        let b = s.as_bytes();
        if !s.is_ascii()
            || b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
        {
            return None;
        }
        if b[16] != b':' || !s.ends_with('Z') {
            return None;
        }
        let fraction = &s[19..s.len() - 1];
        let fraction_ok = fraction.is_empty()
            || (fraction.len() > 1
                && fraction.starts_with('.')
                && fraction[1..].bytes().all(|c| c.is_ascii_digit()));
        if !fraction_ok {
            return None;
        }
        let compact = format!(
            "{}{}{}T{}{}{}Z",
            &s[0..4],
            &s[5..7],
            &s[8..10],
            &s[11..13],
            &s[14..16],
            &s[17..19]
        );
        Self::parse_amz_date(&compact)
    }

    /// Parses SigV4's `YYYYMMDDTHHMMSSZ` back into Unix seconds.
    pub fn parse_amz_date(s: &str) -> Option<i64> {
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = s.get(r)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
        if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y as i64, mo) {
            return None;
        }
        if h > 23 || mi > 59 || se > 59 {
            return None;
        }
        let days = days_from_civil(y as i64, mo, d);
        Some(days * 86_400 + (h * 3600 + mi * 60 + se) as i64)
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        let cases: &[(i64, &str)] = &[
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_369_353_600, "2013-05-24T00:00:00Z"),
            (1_709_251_199, "2024-02-29T23:59:59Z"),
            (1_798_474_500, "2026-12-28T16:15:00Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
        ];
        for (secs, want) in cases {
            let dt = UtcDateTime::from_unix_seconds(*secs);
            assert_eq!(dt.rfc3339(), *want, "{secs}");
            let amz = dt.amz_date();
            assert_eq!(UtcDateTime::parse_amz_date(&amz), Some(*secs), "{amz}");
        }
        assert_eq!(
            UtcDateTime::from_unix_seconds(1_369_353_600).key_date_path(),
            "2013/05/24"
        );
    }

    #[test]
    fn round_trip_every_day_for_four_centuries() {
        for days in (-146_097..146_097 * 2).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert!(d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn sub_second_times_truncate() {
        let t = UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(unix_seconds(t), 1);
        assert_eq!(truncate_to_second(t), UNIX_EPOCH + Duration::from_secs(1));
        let before = UNIX_EPOCH - Duration::from_millis(500);
        assert_eq!(unix_seconds(before), -1);
    }

    #[test]
    fn rejects_bad_amz_dates() {
        for s in [
            "",
            "20130524T000000",
            "20130524 000000Z",
            "20131324T000000Z",
            "20130230T000000Z",
            "20130524T240000Z",
            "2013052AT000000Z",
            "+0130524T000000Z",
        ] {
            assert_eq!(UtcDateTime::parse_amz_date(s), None, "{s}");
        }
    }
}
