//! Small helpers shared by every module: clocks, ids, slugs.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now as RFC 3339 UTC with milliseconds and a `Z`, e.g. `2026-07-25T10:15:03.412Z`.
pub fn now_rfc3339() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(since.as_secs() as i64, since.subsec_millis())
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Formats a Unix time (seconds + milliseconds) as RFC 3339 UTC.
pub fn format_rfc3339(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A new opaque id: `prefix` + a lower-case ULID.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Whether `s` is a canonical slug: `^[a-z0-9]+(-[a-z0-9]+)*$`, 1–63 chars.
pub fn is_canonical_slug(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && is_kebab(s)
}

/// `^[a-z0-9]+(-[a-z0-9]+)*$` with no length limit (backend slugs).
pub fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Derives a slug from a display name: ASCII letters and digits kept and lower-cased, every
/// other run becomes one `-`, ends trimmed, at most 63 chars.
pub fn slug_from_name(name: &str) -> String {
    let mut out = String::new();
    let mut pending_dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    if out.len() > 63 {
        out.truncate(63);
        while out.ends_with('-') {
            out.pop();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(
            format_rfc3339(1_785_060_903, 412),
            "2026-07-26T10:15:03.412Z"
        );
    }

    #[test]
    fn slugs() {
        assert!(is_canonical_slug("support-bot"));
        assert!(is_canonical_slug("a1"));
        assert!(!is_canonical_slug("Support"));
        assert!(!is_canonical_slug("a--b"));
        assert!(!is_canonical_slug("-a"));
        assert!(!is_canonical_slug(""));
        assert!(!is_canonical_slug(&"a".repeat(64)));
        assert_eq!(
            slug_from_name("  Billing Embeddings! v2 "),
            "billing-embeddings-v2"
        );
        assert_eq!(slug_from_name("Ünïcode"), "n-code");
        assert_eq!(slug_from_name("!!!"), "");
    }

    #[test]
    fn ids_are_lower_case_ulids() {
        let id = new_id("wl_");
        assert_eq!(id.len(), 3 + 26);
        assert_eq!(id, id.to_lowercase());
    }
}
