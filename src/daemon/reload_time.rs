//! `reload_time_file FILE` / `reload_repeat`: a reload at the time the first line of FILE
//! names, as keepalived's reload monitor (which follows the file with inotify; lvsd reads
//! it every second). Formats, exactly: `HH:MM:SS`, `YY-MM-DD HH:MM:SS`,
//! `YYYY-MM-DD HH:MM:SS`, each with an optional `Z` (UTC; else local time). A time
//! without a date that has passed today means tomorrow; a date in the past is ignored.
//! When the time comes the file is removed (kept with `reload_repeat` when it holds a time
//! only: the reload then repeats daily) and the daemon sends itself SIGHUP.

use std::path::PathBuf;
use std::time::Duration;

/// A time read from the file, before it is placed on the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    /// (year, month 1-12, day 1-31), if given.
    pub date: Option<(i32, u32, u32)>,
    pub hms: (u32, u32, u32),
    pub utc: bool,
}

fn num(s: &str) -> Option<u32> {
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
}

/// Reads one line in keepalived's formats (None: not one of them).
pub fn parse(line: &str) -> Option<Wanted> {
    let (body, utc) = match line.strip_suffix('Z') {
        Some(b) => (b, true),
        None => (line, false),
    };
    let time = |t: &str| -> Option<(u32, u32, u32)> {
        let b = t.as_bytes();
        if b.len() != 8 || b[2] != b':' || b[5] != b':' {
            return None;
        }
        let (h, m, s) = (num(&t[0..2])?, num(&t[3..5])?, num(&t[6..8])?);
        (h < 24 && m < 60 && s < 61).then_some((h, m, s))
    };
    let date = match body.len() {
        8 => None,
        17 | 19 => {
            let (d, t) = body.split_once(' ')?;
            let parts: Vec<&str> = d.split('-').collect();
            let [y, mo, da] = parts.as_slice() else {
                return None;
            };
            if mo.len() != 2 || da.len() != 2 || (y.len() != 2 && y.len() != 4) {
                return None;
            }
            let mut year = num(y)? as i32;
            if y.len() == 2 {
                // strptime's %y: 69-99 are 1969-1999, 00-68 2000-2068.
                year += if year >= 69 { 1900 } else { 2000 };
            }
            return Some(Wanted {
                date: Some((year, num(mo)?, num(da)?)),
                hms: time(t)?,
                utc,
            });
        }
        _ => return None,
    };
    Some(Wanted {
        date,
        hms: time(body)?,
        utc,
    })
}

/// Converts a calendar time to Unix seconds (`utc` or local), None if it does not exist
/// (e.g. 31 April, or a time skipped by a daylight-saving change).
pub type ToUnix = dyn Fn((i32, u32, u32), (u32, u32, u32), bool) -> Option<i64>;

/// The dates of today and tomorrow, in the zone of the time asked for.
pub type Days = ((i32, u32, u32), (i32, u32, u32));

/// When a reload is due for `w` at `now` (Unix seconds): None if the time is invalid or
/// (with a date) past. `days`: the dates of today and tomorrow in the same zone.
pub fn resolve(w: Wanted, now: i64, days: Days, to_unix: &ToUnix) -> Option<i64> {
    let (today, tomorrow) = days;
    match w.date {
        Some(d) => to_unix(d, w.hms, w.utc).filter(|t| *t > now),
        None => {
            let t = to_unix(today, w.hms, w.utc)?;
            if t > now {
                Some(t)
            } else {
                to_unix(tomorrow, w.hms, w.utc)
            }
        }
    }
}

/// The system's conversion: timegm / mktime, refusing a time they normalise.
pub fn system_to_unix(date: (i32, u32, u32), hms: (u32, u32, u32), utc: bool) -> Option<i64> {
    // SAFETY: tm is plain old data; all zeroes is valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = date.0 - 1900;
    tm.tm_mon = date.1 as i32 - 1;
    tm.tm_mday = date.2 as i32;
    tm.tm_hour = hms.0 as i32;
    tm.tm_min = hms.1 as i32;
    tm.tm_sec = hms.2 as i32;
    tm.tm_isdst = -1;
    let want = (
        tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
    );
    // SAFETY: timegm/mktime read and normalise the tm we own.
    let t = unsafe {
        if utc {
            libc::timegm(&mut tm)
        } else {
            libc::mktime(&mut tm)
        }
    };
    // A time they had to normalise (30 February, a skipped hour) does not exist.
    let got = (
        tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
    );
    (t != -1 && got == want).then_some(t)
}

/// Today's and tomorrow's dates at `now` in UTC or local time.
fn days(now: i64, utc: bool) -> Days {
    (date_at(now, utc), date_at(now + 86_400, utc))
}

/// The date at `now` in UTC or local time.
fn date_at(now: i64, utc: bool) -> (i32, u32, u32) {
    // SAFETY: tm is plain old data; gmtime_r/localtime_r fill it from `now`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t: libc::time_t = now;
    unsafe {
        if utc {
            libc::gmtime_r(&t, &mut tm);
        } else {
            libc::localtime_r(&t, &mut tm);
        }
    }
    (tm.tm_year + 1900, (tm.tm_mon + 1) as u32, tm.tm_mday as u32)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Follows `file` (read every second) and sends SIGHUP to this process when its time
/// comes; ends when aborted (a reload that changes the setting starts a new one).
pub fn spawn(file: PathBuf, repeat: bool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen: Option<String> = None;
        let mut due: Option<(i64, bool)> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let line = std::fs::read_to_string(&file)
                .ok()
                .map(|t| t.lines().next().unwrap_or("").to_string());
            if line != seen {
                seen = line.clone();
                if due.take().is_some() {
                    tracing::info!("Cancelling the reload scheduled by {}", file.display());
                }
                if let Some(l) = line {
                    let now = unix_now();
                    match parse(&l) {
                        None => tracing::info!("Invalid reload time '{l}' specified - ignoring"),
                        Some(w) => match resolve(w, now, days(now, w.utc), &system_to_unix) {
                            Some(t) => {
                                tracing::info!("Reload scheduled in {} s ('{l}')", t - now);
                                due = Some((t, w.date.is_some()));
                            }
                            None => tracing::info!(
                                "Reload date/time '{l}' is in the past or invalid - ignoring"
                            ),
                        },
                    }
                }
            }
            if let Some((t, dated)) = due {
                if unix_now() >= t {
                    due = None;
                    // Read again next time (a repeated time-only reload: tomorrow).
                    seen = None;
                    if !repeat || dated {
                        let _ = std::fs::remove_file(&file);
                    }
                    tracing::info!("Reloading: the time in {} has come", file.display());
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::this(),
                        nix::sys::signal::Signal::SIGHUP,
                    );
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_formats_exactly() {
        let w = parse("12:30:05").expect("time");
        assert_eq!((w.date, w.hms, w.utc), (None, (12, 30, 5), false));
        let w = parse("26-12-06 01:02:03Z").expect("short date");
        assert_eq!((w.date, w.utc), (Some((2026, 12, 6)), true));
        assert_eq!(
            parse("99-01-01 00:00:00").and_then(|w| w.date),
            Some((1999, 1, 1))
        );
        let w = parse("2026-12-06 23:59:59").expect("date");
        assert_eq!(w.date, Some((2026, 12, 6)));
        for bad in [
            " 12:30:05",
            "12:30:05 ",
            "12:30",
            "2026-12-06  23:59:59",
            "25:00:00",
            "12:3a:05",
            "2026/12/06 23:59:59",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_passed_time_means_tomorrow_a_passed_date_nothing() {
        // 2026-12-06 10:00:00 UTC.
        let now = system_to_unix((2026, 12, 6), (10, 0, 0), true).expect("time");
        let days = ((2026, 12, 6), (2026, 12, 7));
        let at = |s: &str| resolve(parse(s).expect("parses"), now, days, &system_to_unix);
        assert_eq!(at("10:00:05Z"), Some(now + 5));
        assert_eq!(at("09:59:59Z"), Some(now - 1 + 86_400));
        assert_eq!(at("2026-12-06 09:00:00Z"), None);
        assert_eq!(at("2026-12-07 10:00:00Z"), Some(now + 86_400));
        assert_eq!(at("2026-02-30 10:00:00Z"), None, "no 30 February");
    }
}
