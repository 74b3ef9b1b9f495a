//! Rotation schedules: validating `RotationRules` and computing the next rotation window.
//!
//! Data path: RotateSecret calls [`validate_rotation_rules`] on the decoded rules before anything is
//! stored (a violation is `InvalidParameterException`); after each rotation, and in the scheduler
//! function that finds due rotations, [`next_rotation_window`] (or a [`RotationSchedule`] built
//! once) gives the window in which the next rotation runs, and DescribeSecret reports its start as
//! `NextRotationDate`. All times are UTC; nothing here reads the clock.
//!
//! Rules, as AWS documents them for Secrets Manager:
//! - `AutomaticallyAfterDays` is 1..=1000 and cannot be combined with `ScheduleExpression`.
//! - `rate(N unit)`: unit `hour`/`hours`/`day`/`days`, singular exactly when N is 1 (EventBridge's
//!   rule); at least 4 hours; at most 999 days (AWS's "maximum rotation period").
//! - `cron(minutes hours day-of-month month day-of-week year)`: minutes must be `0` (windows open
//!   on the hour), year must be `*`; hours `0-23` with `, - * /`; day-of-month `1-31` with
//!   `, - * ? / L W`; month `1-12`/`JAN-DEC` with `, - * /`; day-of-week `1-7`/`SUN-SAT` with
//!   `, - * ? / L #`; exactly one of day-of-month and day-of-week is `?`. Increments of hours reset
//!   each day (`0 4/12` is 04:00 and 16:00). Consecutive occurrences must be at least four hours
//!   apart, including across midnight, and the expression must match some day.
//! - `Duration` is `Nh`, 1..=24 hours. The window must not reach into the next window or the next
//!   UTC day: for a schedule in hours it is at most the interval between rotations, and a cron
//!   window opening at hour `h` lasts at most `24 - h` hours.
//!
//! Windows ([`RotationWindow`]):
//! - `AutomaticallyAfterDays = N` and `rate(N days)`: the UTC day of `after + N days`, from midnight;
//!   by default until the end of that day.
//! - `rate(N hours)`: from `after + N hours` rounded down to the hour (windows open on the hour);
//!   by default one hour long.
//! - `cron(...)`: from the first match strictly after `after`; by default one hour long when the
//!   expression fires more than once a day (a schedule "in hours"), else until the end of that day.
//! - An explicit `Duration` replaces the default length.

use crate::clock::{Timestamp, MILLIS_PER_DAY, MILLIS_PER_HOUR};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use time::{Date, Month, Weekday};

/// `RotationRules` as RotateSecret accepts them and DescribeSecret reports them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RotationRules {
    pub automatically_after_days: Option<i64>,
    pub duration: Option<String>,
    pub schedule_expression: Option<String>,
}

/// The span in which a rotation should start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationWindow {
    pub start: Timestamp,
    pub end: Timestamp,
}

pub const MIN_AUTOMATICALLY_AFTER_DAYS: i64 = 1;
pub const MAX_AUTOMATICALLY_AFTER_DAYS: i64 = 1000;
/// AWS: "You can rotate a secret as often as every four hours."
pub const MIN_ROTATION_INTERVAL_HOURS: i64 = 4;
/// AWS: "The maximum rotation period is 999 days" (for `rate()` expressions).
pub const MAX_RATE_DAYS: i64 = 999;
pub const MAX_SCHEDULE_EXPRESSION_LENGTH: usize = 256;
pub const MAX_WINDOW_HOURS: i64 = 24;

/// Validates `rules` against Secrets Manager's restrictions.
pub fn validate_rotation_rules(rules: &RotationRules) -> Result<()> {
    RotationSchedule::from_rules(rules).map(|_| ())
}

/// The next window after `after`, or `None` when the rules are invalid or set no schedule.
pub fn next_rotation_window(rules: &RotationRules, after: Timestamp) -> Option<RotationWindow> {
    RotationSchedule::from_rules(rules)
        .ok()
        .flatten()?
        .next_window(after)
}

/// Validated rules, ready to compute windows repeatedly (the scheduler builds one per secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationSchedule {
    pub interval: RotationInterval,
    /// The explicit `Duration`, in hours.
    pub duration_hours: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationInterval {
    /// `AutomaticallyAfterDays` or `rate(N days)`.
    Days(i64),
    /// `rate(N hours)`.
    Hours(i64),
    Cron(CronExpression),
}

/// A parsed `ScheduleExpression`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpression {
    Rate { value: i64, unit: RateUnit },
    Cron(CronExpression),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    Hours,
    Days,
}

impl RotationSchedule {
    /// Validates `rules`; `Ok(None)` when they set no schedule at all.
    pub fn from_rules(rules: &RotationRules) -> Result<Option<Self>> {
        if let Some(days) = rules.automatically_after_days {
            if days < MIN_AUTOMATICALLY_AFTER_DAYS {
                return Err(Error::invalid_parameter(format!(
                    "1 validation error detected: Value '{days}' at \
                     'rotationRules.automaticallyAfterDays' failed to satisfy constraint: Member \
                     must have value greater than or equal to {MIN_AUTOMATICALLY_AFTER_DAYS}"
                )));
            }
            if days > MAX_AUTOMATICALLY_AFTER_DAYS {
                return Err(Error::invalid_parameter(format!(
                    "1 validation error detected: Value '{days}' at \
                     'rotationRules.automaticallyAfterDays' failed to satisfy constraint: Member \
                     must have value less than or equal to {MAX_AUTOMATICALLY_AFTER_DAYS}"
                )));
            }
        }
        let interval =
            match (
                rules.automatically_after_days,
                rules.schedule_expression.as_deref(),
            ) {
                (Some(_), Some(_)) => return Err(Error::invalid_parameter(
                    "You cannot specify both rotation frequency and schedule expression together. \
                     Set either AutomaticallyAfterDays or ScheduleExpression.",
                )),
                (Some(days), None) => RotationInterval::Days(days),
                (None, Some(expr)) => match parse_schedule_expression(expr)? {
                    ScheduleExpression::Rate {
                        value,
                        unit: RateUnit::Days,
                    } => RotationInterval::Days(value),
                    ScheduleExpression::Rate {
                        value,
                        unit: RateUnit::Hours,
                    } => RotationInterval::Hours(value),
                    ScheduleExpression::Cron(cron) => RotationInterval::Cron(cron),
                },
                (None, None) => {
                    if rules.duration.is_some() {
                        return Err(Error::invalid_parameter(
                            "RotationRules.Duration needs a schedule: set ScheduleExpression or \
                         AutomaticallyAfterDays.",
                        ));
                    }
                    return Ok(None);
                }
            };
        let duration_hours = match rules.duration.as_deref() {
            Some(d) => Some(validate_duration(d, &interval)?),
            None => None,
        };
        Ok(Some(RotationSchedule {
            interval,
            duration_hours,
        }))
    }

    /// Length of the window, explicit or AWS's default for this kind of schedule.
    fn window_millis(&self, start: Timestamp) -> i64 {
        if let Some(h) = self.duration_hours {
            return h * MILLIS_PER_HOUR;
        }
        let hourly = match &self.interval {
            RotationInterval::Days(_) => false,
            RotationInterval::Hours(_) => true,
            RotationInterval::Cron(cron) => cron.fires_more_than_once_a_day(),
        };
        if hourly {
            MILLIS_PER_HOUR
        } else {
            // Until the end of the UTC day the window opened on.
            start.start_of_day().millis() + MILLIS_PER_DAY - start.millis()
        }
    }

    /// The first window after `after` (see the module doc); `None` only when the time is out of
    /// range or a cron expression has no further match.
    pub fn next_window(&self, after: Timestamp) -> Option<RotationWindow> {
        let start = match &self.interval {
            RotationInterval::Days(days) => {
                let at = after
                    .millis()
                    .checked_add(days.checked_mul(MILLIS_PER_DAY)?)?;
                Timestamp(at.div_euclid(MILLIS_PER_DAY) * MILLIS_PER_DAY)
            }
            RotationInterval::Hours(hours) => {
                let at = after
                    .millis()
                    .checked_add(hours.checked_mul(MILLIS_PER_HOUR)?)?;
                Timestamp(at.div_euclid(MILLIS_PER_HOUR) * MILLIS_PER_HOUR)
            }
            RotationInterval::Cron(cron) => cron.next_after(after)?,
        };
        let end = Timestamp(start.millis().checked_add(self.window_millis(start))?);
        Some(RotationWindow { start, end })
    }
}

fn validate_duration(duration: &str, interval: &RotationInterval) -> Result<i64> {
    let digits = duration.strip_suffix('h').unwrap_or("");
    let well_formed = (2..=3).contains(&duration.len())
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return Err(Error::invalid_parameter(format!(
            "RotationRules.Duration \"{duration}\" must be a number of hours such as \"3h\"."
        )));
    }
    let hours: i64 = digits.parse().map_err(|_| {
        Error::invalid_parameter("RotationRules.Duration is not a number of hours.")
    })?;
    if !(1..=MAX_WINDOW_HOURS).contains(&hours) {
        return Err(Error::invalid_parameter(format!(
            "RotationRules.Duration must be between 1h and {MAX_WINDOW_HOURS}h; got {duration}."
        )));
    }
    match interval {
        // Windows open at midnight; 24h at most, checked above, keeps them inside the day.
        RotationInterval::Days(_) => {}
        RotationInterval::Hours(n) => {
            if hours > *n {
                return Err(Error::invalid_parameter(format!(
                    "The rotation window ({hours}h) must not extend into the next rotation window: \
                     it must be at most the {n} hours between rotations."
                )));
            }
        }
        RotationInterval::Cron(cron) => {
            let hours_of_day = cron.hours_of_day();
            if let Some(gap) = min_gap(&hours_of_day) {
                if hours > i64::from(gap) {
                    return Err(Error::invalid_parameter(format!(
                        "The rotation window ({hours}h) must not extend into the next rotation \
                         window: the schedule rotates every {gap} hours."
                    )));
                }
            }
            let last_start = i64::from(*hours_of_day.last().unwrap_or(&0));
            if last_start + hours > 24 {
                return Err(Error::invalid_parameter(format!(
                    "The rotation window must not extend into the next UTC day: a window opening \
                     at {last_start:02}:00 can last at most {}h.",
                    24 - last_start
                )));
            }
        }
    }
    Ok(hours)
}

/// Smallest gap between consecutive hours of one day, if the schedule fires more than once.
fn min_gap(hours: &[u8]) -> Option<u8> {
    hours.windows(2).map(|w| w[1] - w[0]).min()
}

/// Parses `rate(...)` or `cron(...)` with Secrets Manager's restrictions.
pub fn parse_schedule_expression(expr: &str) -> Result<ScheduleExpression> {
    let len = expr.chars().count();
    if len == 0 || len > MAX_SCHEDULE_EXPRESSION_LENGTH {
        return Err(Error::invalid_parameter(format!(
            "RotationRules.ScheduleExpression must be 1 to {MAX_SCHEDULE_EXPRESSION_LENGTH} \
             characters long."
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "()#?*-/, ".contains(c);
    if !expr.chars().all(allowed) {
        return Err(Error::invalid_parameter(format!(
            "RotationRules.ScheduleExpression \"{expr}\" contains characters that are not allowed."
        )));
    }
    if let Some(body) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        return parse_rate(expr, body);
    }
    if let Some(body) = expr.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
        let cron = CronExpression::parse_body(body).map_err(|m| invalid_cron(expr, &m))?;
        check_secrets_manager_cron(&cron, body).map_err(|m| invalid_cron(expr, &m))?;
        return Ok(ScheduleExpression::Cron(cron));
    }
    Err(Error::invalid_parameter(format!(
        "RotationRules.ScheduleExpression \"{expr}\" must be a rate() or cron() expression, for \
         example rate(10 days) or cron(0 16 1,15 * ? *)."
    )))
}

fn invalid_cron(expr: &str, detail: &str) -> Error {
    Error::invalid_parameter(format!("Invalid cron() expression \"{expr}\": {detail}"))
}

fn parse_rate(expr: &str, body: &str) -> Result<ScheduleExpression> {
    let invalid = |detail: &str| {
        Error::invalid_parameter(format!("Invalid rate() expression \"{expr}\": {detail}"))
    };
    let mut parts = body.split(' ');
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid(
            "use rate(value unit) with one space, for example rate(10 days).",
        ));
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("the value must be a positive whole number."));
    }
    let value: i64 = value
        .parse()
        .map_err(|_| invalid("the value is too large."))?;
    if value == 0 {
        return Err(invalid("the value must be a positive whole number."));
    }
    let (unit, singular) = match unit {
        "hour" => (RateUnit::Hours, true),
        "hours" => (RateUnit::Hours, false),
        "day" => (RateUnit::Days, true),
        "days" => (RateUnit::Days, false),
        _ => return Err(invalid("the unit must be hour, hours, day or days.")),
    };
    if singular != (value == 1) {
        return Err(invalid(
            "use the singular unit (hour, day) for a value of 1 and the plural (hours, days) \
             otherwise.",
        ));
    }
    match unit {
        RateUnit::Hours if value < MIN_ROTATION_INTERVAL_HOURS => Err(invalid(
            "Secrets Manager rotates a secret at most every four hours; use at least rate(4 hours).",
        )),
        RateUnit::Hours if value > MAX_RATE_DAYS * 24 => Err(invalid(&format!(
            "the rotation period must be at most {MAX_RATE_DAYS} days."
        ))),
        RateUnit::Days if value > MAX_RATE_DAYS => Err(invalid(&format!(
            "the rotation period must be at most {MAX_RATE_DAYS} days."
        ))),
        _ => Ok(ScheduleExpression::Rate { value, unit }),
    }
}

/// Secrets Manager's limits on top of the general cron syntax.
fn check_secrets_manager_cron(cron: &CronExpression, body: &str) -> Result<(), String> {
    let fields: Vec<&str> = body.split_whitespace().collect();
    if fields[0] != "0" {
        return Err(
            "the minutes field must be 0, because Secrets Manager rotation windows open on the \
             hour."
                .into(),
        );
    }
    if fields[5] != "*" {
        return Err(
            "the year field must be *, because Secrets Manager does not support schedules more \
             than a year apart."
                .into(),
        );
    }
    let hours = cron.hours_of_day();
    if let Some(gap) = min_gap(&hours) {
        if i64::from(gap) < MIN_ROTATION_INTERVAL_HOURS {
            return Err(format!(
                "occurrences are {gap} hours apart; Secrets Manager rotates a secret at most every \
                 four hours."
            ));
        }
    }
    // The reference span below starts on 2001-01-01 and covers every day-of-week/date combination
    // a `*` year produces, leap days included.
    let (first, last) = (hours[0], hours[hours.len() - 1]);
    let across_midnight = 24 - i64::from(last) + i64::from(first);
    if across_midnight < MIN_ROTATION_INTERVAL_HOURS && cron.matches_consecutive_days() {
        return Err(format!(
            "occurrences at {last:02}:00 and {first:02}:00 the next day are {across_midnight} \
             hours apart; Secrets Manager rotates a secret at most every four hours."
        ));
    }
    if !cron.matches_any_day() {
        return Err("the expression never matches a day.".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Cron evaluation
// ---------------------------------------------------------------------------------------------

/// A parsed six-field cron expression (`minutes hours day-of-month month day-of-week year`) in
/// the EventBridge dialect, evaluated in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpression {
    minutes: u64,
    hours: u32,
    day_of_month: Option<DayOfMonth>,
    months: u16,
    day_of_week: Option<DayOfWeek>,
    years: Years,
}

/// Day-of-month items, ORed. `None` at the field level is `?`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct DayOfMonth {
    /// Bit d for day d (1..=31).
    days: u32,
    /// `L`: the last day of the month.
    last: bool,
    /// `LW`: the last weekday (Mon–Fri) of the month.
    last_weekday: bool,
    /// `nW`: bit n for the weekday nearest day n, within the month.
    nearest_weekday: u32,
}

/// Day-of-week items, ORed. Days are numbered 1 = SUN .. 7 = SAT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct DayOfWeek {
    /// Bit d for weekday d.
    days: u8,
    /// `dL`: bit d for the last weekday d of the month.
    last_in_month: u8,
    /// `d#n`: the n-th weekday d of the month.
    nth: Vec<(u8, u8)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Years {
    Any,
    /// Sorted years.
    Some(Vec<i32>),
}

const MIN_YEAR: u32 = 1970;
const MAX_YEAR: u32 = 2199;
const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
/// Bound on the day-by-day search; with month and year skipping it is only reached by
/// expressions that (almost) never match.
const MAX_SEARCH_STEPS: u32 = 50_000;

impl CronExpression {
    /// Parses `cron(...)` or its six-field body, with the general EventBridge syntax (no
    /// Secrets Manager restrictions; [`parse_schedule_expression`] adds those).
    pub fn parse(expr: &str) -> Result<Self> {
        let body = expr
            .strip_prefix("cron(")
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(expr);
        Self::parse_body(body).map_err(|m| invalid_cron(expr, &m))
    }

    fn parse_body(body: &str) -> Result<Self, String> {
        let fields: Vec<&str> = body.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = fields[..] else {
            return Err(format!(
                "expected six fields (minutes hours day-of-month month day-of-week year), found {}.",
                fields.len()
            ));
        };
        let minutes = parse_numeric("minutes", minutes, 0, 59, &[])?;
        let hours = parse_numeric("hours", hours, 0, 23, &[])? as u32;
        // Bit 0 is unused for 1-based fields; shifts keep bit n = value n.
        let months = parse_numeric("month", month, 1, 12, &MONTH_NAMES)? as u16;
        let day_of_month = match dom {
            "?" => None,
            _ => Some(parse_day_of_month(dom)?),
        };
        let day_of_week = match dow {
            "?" => None,
            _ => Some(parse_day_of_week(dow)?),
        };
        if day_of_month.is_some() == day_of_week.is_some() {
            return Err(
                "exactly one of day-of-month and day-of-week must be ? (a value or * in one \
                 needs ? in the other)."
                    .into(),
            );
        }
        let years = if year == "*" {
            Years::Any
        } else {
            let bits = parse_year_list(year)?;
            Years::Some(bits)
        };
        Ok(CronExpression {
            minutes,
            hours,
            day_of_month,
            months,
            day_of_week,
            years,
        })
    }

    /// The hours of a matching day at which the expression fires, ascending.
    pub fn hours_of_day(&self) -> Vec<u8> {
        (0u8..24).filter(|h| self.hours & (1 << h) != 0).collect()
    }

    /// True when a matching day has more than one firing (a schedule "in hours").
    pub fn fires_more_than_once_a_day(&self) -> bool {
        self.hours.count_ones() * self.minutes.count_ones() > 1
    }

    /// The first firing strictly after `after`, at minute precision; `None` when there is none
    /// within the supported range.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        // Firings are whole minutes: start at the next minute boundary strictly after `after`.
        let from_minute = after.millis().div_euclid(60_000).checked_add(1)?;
        let start = time::OffsetDateTime::from_unix_timestamp(from_minute.checked_mul(60)?).ok()?;
        let mut date = start.date();
        let (mut hour, mut minute) = (start.hour(), start.minute());
        for _ in 0..MAX_SEARCH_STEPS {
            if !self.year_matches(date.year()) {
                let next = self.next_year_from(date.year() + 1)?;
                date = Date::from_calendar_date(next, Month::January, 1).ok()?;
                (hour, minute) = (0, 0);
                continue;
            }
            if self.months & (1 << u8::from(date.month())) == 0 {
                date = first_of_next_month(date)?;
                (hour, minute) = (0, 0);
                continue;
            }
            if self.day_matches(date) {
                if let Some((h, m)) = self.first_time_from(hour, minute) {
                    let at = date.with_hms(h, m, 0).ok()?.assume_utc();
                    return Some(Timestamp::from_offset_datetime(at));
                }
            }
            date = date.next_day()?;
            (hour, minute) = (0, 0);
        }
        None
    }

    fn first_time_from(&self, hour: u8, minute: u8) -> Option<(u8, u8)> {
        for h in hour..24 {
            if self.hours & (1 << h) == 0 {
                continue;
            }
            let from = if h == hour { minute } else { 0 };
            if let Some(m) = (from..60).find(|m| self.minutes & (1u64 << m) != 0) {
                return Some((h, m));
            }
        }
        None
    }

    fn year_matches(&self, year: i32) -> bool {
        match &self.years {
            Years::Any => true,
            Years::Some(list) => list.binary_search(&year).is_ok(),
        }
    }

    fn next_year_from(&self, year: i32) -> Option<i32> {
        match &self.years {
            Years::Any => Some(year),
            Years::Some(list) => list.iter().copied().find(|y| *y >= year),
        }
    }

    /// Day-of-month or day-of-week (whichever is not `?`) matches `date`.
    fn day_matches(&self, date: Date) -> bool {
        if let Some(dom) = &self.day_of_month {
            return dom.matches(date);
        }
        if let Some(dow) = &self.day_of_week {
            return dow.matches(date);
        }
        true
    }

    /// Does the expression fire on two consecutive calendar days? Checked over 2001-2028, a
    /// 28-year span that repeats every date/weekday combination of the Gregorian calendar
    /// (leap years included), for expressions whose year is `*`.
    fn matches_consecutive_days(&self) -> bool {
        let mut previous = false;
        self.scan_reference_days(|matched| {
            let both = previous && matched;
            previous = matched;
            both
        })
    }

    fn matches_any_day(&self) -> bool {
        self.scan_reference_days(|matched| matched)
    }

    fn scan_reference_days(&self, mut stop: impl FnMut(bool) -> bool) -> bool {
        let Ok(mut date) = Date::from_calendar_date(2001, Month::January, 1) else {
            return false;
        };
        while date.year() <= 2028 {
            let matched =
                self.months & (1 << u8::from(date.month())) != 0 && self.day_matches(date);
            if stop(matched) {
                return true;
            }
            match date.next_day() {
                Some(next) => date = next,
                None => return false,
            }
        }
        false
    }
}

fn first_of_next_month(date: Date) -> Option<Date> {
    let (year, month) = match date.month() {
        Month::December => (date.year() + 1, Month::January),
        m => (date.year(), m.next()),
    };
    Date::from_calendar_date(year, month, 1).ok()
}

fn weekday_number(date: Date) -> u8 {
    date.weekday().number_from_sunday()
}

impl DayOfMonth {
    fn matches(&self, date: Date) -> bool {
        let day = date.day();
        let last_day = date.month().length(date.year());
        if self.days & (1 << day) != 0 || (self.last && day == last_day) {
            return true;
        }
        let is_weekday = !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday);
        if !is_weekday {
            return false;
        }
        if self.last_weekday && nearest_weekday(date, last_day) == day {
            return true;
        }
        (1..=31u8).any(|n| {
            self.nearest_weekday & (1 << n) != 0 && n <= last_day && nearest_weekday(date, n) == day
        })
    }
}

/// The weekday (Mon–Fri) nearest day `n` of `date`'s month, never leaving the month.
fn nearest_weekday(date: Date, n: u8) -> u8 {
    let last_day = date.month().length(date.year());
    let Ok(target) = date.replace_day(n) else {
        return 0;
    };
    match target.weekday() {
        Weekday::Saturday if n == 1 => 3,
        Weekday::Saturday => n - 1,
        Weekday::Sunday if n == last_day => n - 2,
        Weekday::Sunday => n + 1,
        _ => n,
    }
}

impl DayOfWeek {
    fn matches(&self, date: Date) -> bool {
        let wd = weekday_number(date);
        if self.days & (1 << wd) != 0 {
            return true;
        }
        let day = date.day();
        if self.last_in_month & (1 << wd) != 0 && day + 7 > date.month().length(date.year()) {
            return true;
        }
        let nth_in_month = (day - 1) / 7 + 1;
        self.nth.iter().any(|&(d, n)| d == wd && n == nth_in_month)
    }
}

/// Parses a value or a name (case-insensitive) of a field.
fn parse_value(field: &str, text: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, String> {
    let value = if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        min + i as u32
    } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.len() <= 4 {
        text.parse::<u32>()
            .map_err(|_| format!("invalid {field} value \"{text}\"."))?
    } else {
        return Err(format!("invalid {field} value \"{text}\"."));
    };
    if !(min..=max).contains(&value) {
        return Err(format!(
            "{field} value {value} is out of range {min}-{max}."
        ));
    }
    Ok(value)
}

/// `*`, `a`, `a-b` (wrapping when a > b), each optionally `/step`, joined by commas. Returns a
/// bit set with bit v for value v.
fn parse_numeric(
    field: &str,
    text: &str,
    min: u32,
    max: u32,
    names: &[&str],
) -> Result<u64, String> {
    let mut bits = 0u64;
    for item in text.split(',') {
        bits |= parse_range_item(field, item, min, max, names)?;
    }
    Ok(bits)
}

fn parse_range_item(
    field: &str,
    item: &str,
    min: u32,
    max: u32,
    names: &[&str],
) -> Result<u64, String> {
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => {
            let step = parse_value(field, step, 1, max.max(1), &[])
                .map_err(|_| format!("invalid {field} increment \"{item}\"."))?;
            (range, step)
        }
        None => (item, 1),
    };
    let (start, end) = if range == "*" {
        (min, max)
    } else if let Some((a, b)) = range.split_once('-') {
        (
            parse_value(field, a, min, max, names)?,
            parse_value(field, b, min, max, names)?,
        )
    } else {
        let start = parse_value(field, range, min, max, names)?;
        // `a/step` runs from a to the end of the range; a bare `a` is just a.
        (start, if item.contains('/') { max } else { start })
    };
    let span = max - min + 1;
    // Wrapping ranges (FRI-MON, 22-2) continue past max back to min.
    let length = if end >= start {
        end - start
    } else {
        end + span - start
    };
    let mut bits = 0u64;
    let mut offset = 0;
    while offset <= length {
        let v = min + (start - min + offset) % span;
        bits |= 1 << v;
        offset += step;
    }
    Ok(bits)
}

fn parse_day_of_month(text: &str) -> Result<DayOfMonth, String> {
    let mut dom = DayOfMonth::default();
    for item in text.split(',') {
        if item == "L" {
            dom.last = true;
        } else if item == "LW" {
            dom.last_weekday = true;
        } else if let Some(n) = item.strip_suffix('W') {
            let n = parse_value("day-of-month", n, 1, 31, &[])?;
            dom.nearest_weekday |= 1 << n;
        } else {
            dom.days |= parse_range_item("day-of-month", item, 1, 31, &[])? as u32;
        }
    }
    Ok(dom)
}

fn parse_day_of_week(text: &str) -> Result<DayOfWeek, String> {
    let mut dow = DayOfWeek::default();
    for item in text.split(',') {
        if item == "L" {
            // Alone, L is the last day of the week: Saturday.
            dow.days |= 1 << 7;
        } else if let Some((day, n)) = item.split_once('#') {
            let day = parse_value("day-of-week", day, 1, 7, &DAY_NAMES)? as u8;
            let n = parse_value("day-of-week occurrence", n, 1, 5, &[])? as u8;
            dow.nth.push((day, n));
        } else if let Some(day) = item.strip_suffix('L') {
            let day = parse_value("day-of-week", day, 1, 7, &DAY_NAMES)?;
            dow.last_in_month |= 1 << day;
        } else {
            dow.days |= parse_range_item("day-of-week", item, 1, 7, &DAY_NAMES)? as u8;
        }
    }
    Ok(dow)
}

fn parse_year_list(text: &str) -> Result<Vec<i32>, String> {
    let mut years = Vec::new();
    for item in text.split(',') {
        // Years do not fit a 64-bit set; expand the item over offsets from MIN_YEAR in chunks.
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, parse_value("year", s, 1, MAX_YEAR - MIN_YEAR + 1, &[])?),
            None => (item, 1),
        };
        let (start, end) = if range == "*" {
            (MIN_YEAR, MAX_YEAR)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                parse_value("year", a, MIN_YEAR, MAX_YEAR, &[])?,
                parse_value("year", b, MIN_YEAR, MAX_YEAR, &[])?,
            )
        } else {
            let a = parse_value("year", range, MIN_YEAR, MAX_YEAR, &[])?;
            (a, if item.contains('/') { MAX_YEAR } else { a })
        };
        if end < start {
            return Err(format!("invalid year range \"{item}\"."));
        }
        years.extend((start..=end).step_by(step as usize).map(|y| y as i32));
    }
    years.sort_unstable();
    years.dedup();
    Ok(years)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ts(dt: time::OffsetDateTime) -> Timestamp {
        Timestamp::from_offset_datetime(dt)
    }

    fn rules(days: Option<i64>, expr: Option<&str>, duration: Option<&str>) -> RotationRules {
        RotationRules {
            automatically_after_days: days,
            duration: duration.map(str::to_string),
            schedule_expression: expr.map(str::to_string),
        }
    }

    fn expr(e: &str) -> RotationRules {
        rules(None, Some(e), None)
    }

    fn invalid(r: &RotationRules) -> String {
        match validate_rotation_rules(r) {
            Err(Error::InvalidParameter(m)) => m,
            other => panic!("expected InvalidParameter for {r:?}, got {other:?}"),
        }
    }

    fn window(
        r: &RotationRules,
        after: time::OffsetDateTime,
    ) -> (time::OffsetDateTime, time::OffsetDateTime) {
        let w = next_rotation_window(r, ts(after)).expect("a window");
        (w.start.to_offset_datetime(), w.end.to_offset_datetime())
    }

    fn next_cron(e: &str, after: time::OffsetDateTime) -> time::OffsetDateTime {
        CronExpression::parse(e)
            .unwrap()
            .next_after(ts(after))
            .expect("a match")
            .to_offset_datetime()
    }

    // --- validation -----------------------------------------------------------------------

    #[test]
    fn validate_empty_rules_ok() {
        assert!(validate_rotation_rules(&RotationRules::default()).is_ok());
        assert_eq!(
            next_rotation_window(&RotationRules::default(), Timestamp(0)),
            None
        );
    }

    #[test]
    fn validate_automatically_after_days_bounds() {
        assert!(validate_rotation_rules(&rules(Some(1), None, None)).is_ok());
        assert!(validate_rotation_rules(&rules(Some(1000), None, None)).is_ok());
        assert!(invalid(&rules(Some(0), None, None)).contains("greater than or equal to 1"));
        assert!(invalid(&rules(Some(1001), None, None)).contains("less than or equal to 1000"));
        assert!(invalid(&rules(Some(-5), None, None)).contains("automaticallyAfterDays"));
    }

    #[test]
    fn validate_days_and_expression_together_invalid() {
        let msg = invalid(&rules(Some(30), Some("rate(30 days)"), None));
        assert!(msg.contains("cannot specify both"), "{msg}");
    }

    #[test]
    fn validate_duration_without_schedule_invalid() {
        assert!(invalid(&rules(None, None, Some("2h"))).contains("needs a schedule"));
    }

    #[test]
    fn validate_rate_expressions_accepted() {
        for e in [
            "rate(4 hours)",
            "rate(12 hours)",
            "rate(23976 hours)",
            "rate(1 day)",
            "rate(10 days)",
            "rate(999 days)",
        ] {
            assert!(validate_rotation_rules(&expr(e)).is_ok(), "{e}");
        }
    }

    #[test]
    fn validate_rate_expressions_rejected() {
        for (e, needle) in [
            ("rate(3 hours)", "every four hours"),
            ("rate(1 hour)", "every four hours"),
            ("rate(23977 hours)", "at most 999 days"),
            ("rate(1000 days)", "at most 999 days"),
            ("rate(0 days)", "positive whole number"),
            ("rate(-1 days)", "positive whole number"),
            ("rate(1 days)", "singular"),
            ("rate(2 day)", "singular"),
            ("rate(5 hour)", "singular"),
            ("rate(5 weeks)", "hour, hours, day or days"),
            ("rate(5 Days)", "hour, hours, day or days"),
            ("rate(5  days)", "one space"),
            ("rate(5days)", "one space"),
            ("rate(1.5 days)", "not allowed"),
            ("rate(99999999999999999999 days)", "too large"),
        ] {
            let msg = invalid(&expr(e));
            assert!(msg.contains(needle), "{e}: {msg}");
        }
    }

    #[test]
    fn validate_schedule_expression_shape_rejected() {
        assert!(invalid(&expr("")).contains("1 to 256"));
        assert!(invalid(&expr(&format!("rate({} days)", "1".repeat(260)))).contains("1 to 256"));
        assert!(invalid(&expr("every day")).contains("rate() or cron()"));
        assert!(invalid(&expr("RATE(1 day)")).contains("rate() or cron()"));
        assert!(invalid(&expr("cron(0 0 * * ? *);")).contains("not allowed"));
    }

    #[test]
    fn validate_cron_expressions_accepted() {
        for e in [
            "cron(0 16 1,15 * ? *)",
            "cron(0 4/12 * * ? *)",
            "cron(0 8/8 * * ? *)",
            "cron(0 2/10 * * ? *)",
            "cron(0 8 1/7 * ? *)",
            "cron(0 0 ? * SUN#1 *)",
            "cron(0 16 L * ? *)",
            "cron(0 10 ? JAN,APR,JUL,OCT MON-FRI *)",
            "cron(0 0 15W * ? *)",
            "cron(0 0 LW * ? *)",
            "cron(0 23 ? * 6L *)",
            "cron(0 0,4,8,12,16,20 * * ? *)",
            "cron(0 20 ? * MON *)",
            "cron(0 0 29 2 ? *)",
        ] {
            assert!(
                validate_rotation_rules(&expr(e)).is_ok(),
                "{e}: {:?}",
                validate_rotation_rules(&expr(e))
            );
        }
    }

    #[test]
    fn validate_cron_expressions_rejected() {
        for (e, needle) in [
            ("cron(30 16 * * ? *)", "minutes field must be 0"),
            ("cron(0/15 16 * * ? *)", "minutes field must be 0"),
            ("cron(0 16 * * ? 2030)", "year field must be *"),
            ("cron(0 16 * * *)", "six fields"),
            ("cron(0 16 * * ? * *)", "six fields"),
            (
                "cron(0 16 * * * *)",
                "exactly one of day-of-month and day-of-week",
            ),
            (
                "cron(0 16 ? * ? *)",
                "exactly one of day-of-month and day-of-week",
            ),
            (
                "cron(0 16 1 * MON *)",
                "exactly one of day-of-month and day-of-week",
            ),
            ("cron(0 24 * * ? *)", "out of range 0-23"),
            ("cron(0 16 32 * ? *)", "out of range 1-31"),
            ("cron(0 16 0 * ? *)", "out of range 1-31"),
            ("cron(0 16 * 13 ? *)", "out of range 1-12"),
            ("cron(0 16 * FOO ? *)", "invalid month value"),
            ("cron(0 16 ? * 8 *)", "out of range 1-7"),
            ("cron(0 16 ? * MON#6 *)", "out of range 1-5"),
            ("cron(0 16 ? * MON#0 *)", "out of range 1-5"),
            ("cron(0 16 * * ? *", "rate() or cron()"),
            ("cron(0 0/2 * * ? *)", "2 hours apart"),
            ("cron(0 0,3 * * ? *)", "3 hours apart"),
            ("cron(0 1,22 * * ? *)", "the next day are 3 hours apart"),
            ("cron(0 0 30 2 ? *)", "never matches"),
            ("cron(0 16 1/0 * ? *)", "increment"),
        ] {
            let msg = invalid(&expr(e));
            assert!(msg.contains(needle), "{e}: {msg}");
        }
    }

    #[test]
    fn validate_cron_late_and_early_hours_on_distant_days_accepted() {
        // 22:00 and 01:00 only three hours apart across midnight, but the days are never
        // consecutive (the 1st and the 15th), so the four-hour rule holds.
        assert!(validate_rotation_rules(&expr("cron(0 1,22 1,15 * ? *)")).is_ok());
        // Last day of the month and the 1st are consecutive.
        let msg = invalid(&expr("cron(0 1,22 1,L * ? *)"));
        assert!(msg.contains("3 hours apart"), "{msg}");
    }

    #[test]
    fn validate_duration_format_and_range() {
        for d in ["1h", "9h", "24h", "01h"] {
            assert!(
                validate_rotation_rules(&rules(Some(7), None, Some(d))).is_ok(),
                "{d}"
            );
        }
        for (d, needle) in [
            ("0h", "between 1h and 24h"),
            ("25h", "between 1h and 24h"),
            ("99h", "between 1h and 24h"),
            ("100h", "number of hours"),
            ("h", "number of hours"),
            ("3", "number of hours"),
            ("3H", "number of hours"),
            ("-1h", "number of hours"),
            ("1.5h", "number of hours"),
        ] {
            let msg = invalid(&rules(Some(7), None, Some(d)));
            assert!(msg.contains(needle), "{d}: {msg}");
        }
    }

    #[test]
    fn validate_duration_longer_than_rate_hours_invalid() {
        assert!(validate_rotation_rules(&rules(None, Some("rate(6 hours)"), Some("6h"))).is_ok());
        let msg = invalid(&rules(None, Some("rate(6 hours)"), Some("7h")));
        assert!(msg.contains("next rotation window"), "{msg}");
    }

    #[test]
    fn validate_duration_longer_than_cron_gap_invalid() {
        assert!(
            validate_rotation_rules(&rules(None, Some("cron(0 4/12 * * ? *)"), Some("8h"))).is_ok()
        );
        let msg = invalid(&rules(None, Some("cron(0 0/6 * * ? *)"), Some("7h")));
        assert!(msg.contains("every 6 hours"), "{msg}");
    }

    #[test]
    fn validate_duration_past_end_of_day_invalid() {
        assert!(
            validate_rotation_rules(&rules(None, Some("cron(0 20 * * ? *)"), Some("4h"))).is_ok()
        );
        let msg = invalid(&rules(None, Some("cron(0 20 * * ? *)"), Some("5h")));
        assert!(msg.contains("next UTC day"), "{msg}");
        // 04:00 and 16:00: 12h fits between them but not after 16:00.
        let msg = invalid(&rules(None, Some("cron(0 4/12 * * ? *)"), Some("12h")));
        assert!(msg.contains("at most 8h"), "{msg}");
    }

    // --- windows --------------------------------------------------------------------------

    #[test]
    fn window_automatically_after_days_whole_utc_day() {
        let (start, end) = window(
            &rules(Some(30), None, None),
            datetime!(2024-01-10 15:42:07 UTC),
        );
        assert_eq!(start, datetime!(2024-02-09 00:00 UTC));
        assert_eq!(end, datetime!(2024-02-10 00:00 UTC));
    }

    #[test]
    fn window_automatically_after_days_with_duration() {
        let (start, end) = window(
            &rules(Some(1), None, Some("3h")),
            datetime!(2024-12-31 23:59 UTC),
        );
        assert_eq!(start, datetime!(2025-01-01 00:00 UTC));
        assert_eq!(end, datetime!(2025-01-01 03:00 UTC));
    }

    #[test]
    fn window_rate_days_starts_at_midnight() {
        let (start, end) = window(&expr("rate(10 days)"), datetime!(2024-02-25 08:00 UTC));
        assert_eq!(start, datetime!(2024-03-06 00:00 UTC));
        assert_eq!(end, datetime!(2024-03-07 00:00 UTC));
    }

    #[test]
    fn window_rate_hours_one_hour_on_the_hour() {
        let (start, end) = window(&expr("rate(4 hours)"), datetime!(2024-05-01 10:30 UTC));
        assert_eq!(start, datetime!(2024-05-01 14:00 UTC));
        assert_eq!(end, datetime!(2024-05-01 15:00 UTC));
        let (start, end) = window(
            &rules(None, Some("rate(12 hours)"), Some("2h")),
            datetime!(2024-05-01 20:00 UTC),
        );
        assert_eq!(start, datetime!(2024-05-02 08:00 UTC));
        assert_eq!(end, datetime!(2024-05-02 10:00 UTC));
    }

    #[test]
    fn window_cron_daily_until_end_of_day() {
        let (start, end) = window(
            &expr("cron(0 16 1,15 * ? *)"),
            datetime!(2024-03-02 00:00 UTC),
        );
        assert_eq!(start, datetime!(2024-03-15 16:00 UTC));
        assert_eq!(end, datetime!(2024-03-16 00:00 UTC));
    }

    #[test]
    fn window_cron_hourly_one_hour() {
        let (start, end) = window(
            &expr("cron(0 4/12 * * ? *)"),
            datetime!(2024-03-02 05:00 UTC),
        );
        assert_eq!(start, datetime!(2024-03-02 16:00 UTC));
        assert_eq!(end, datetime!(2024-03-02 17:00 UTC));
    }

    #[test]
    fn window_cron_with_duration() {
        let (start, end) = window(
            &rules(None, Some("cron(0 8 ? * MON *)"), Some("4h")),
            datetime!(2024-06-05 12:00 UTC),
        );
        assert_eq!(start, datetime!(2024-06-10 08:00 UTC));
        assert_eq!(end, datetime!(2024-06-10 12:00 UTC));
    }

    #[test]
    fn window_invalid_rules_none() {
        assert_eq!(
            next_rotation_window(&expr("rate(1 hour)"), Timestamp(0)),
            None
        );
    }

    #[test]
    fn schedule_reused_for_successive_windows() {
        let schedule = RotationSchedule::from_rules(&expr("cron(0 0 L * ? *)"))
            .unwrap()
            .unwrap();
        let mut at = ts(datetime!(2024-01-15 00:00 UTC));
        let mut starts = Vec::new();
        for _ in 0..3 {
            let w = schedule.next_window(at).unwrap();
            starts.push(w.start.to_offset_datetime());
            at = w.start;
        }
        assert_eq!(
            starts,
            [
                datetime!(2024-01-31 00:00 UTC),
                datetime!(2024-02-29 00:00 UTC),
                datetime!(2024-03-31 00:00 UTC),
            ]
        );
    }

    // --- cron evaluator -------------------------------------------------------------------

    #[test]
    fn cron_next_is_strictly_after() {
        let at = datetime!(2024-03-02 16:00 UTC);
        assert_eq!(
            next_cron("cron(0 16 * * ? *)", at),
            datetime!(2024-03-03 16:00 UTC)
        );
        assert_eq!(
            next_cron("cron(0 16 * * ? *)", datetime!(2024-03-02 15:59:59.999 UTC)),
            datetime!(2024-03-02 16:00 UTC)
        );
        assert_eq!(
            next_cron("cron(0 16 * * ? *)", datetime!(2024-03-02 16:00:00.001 UTC)),
            datetime!(2024-03-03 16:00 UTC)
        );
    }

    #[test]
    fn cron_minutes_and_steps() {
        assert_eq!(
            next_cron("cron(*/15 * * * ? *)", datetime!(2024-03-02 10:07 UTC)),
            datetime!(2024-03-02 10:15 UTC)
        );
        assert_eq!(
            next_cron("cron(5,50 10-11 * * ? *)", datetime!(2024-03-02 10:50 UTC)),
            datetime!(2024-03-02 11:05 UTC)
        );
        assert_eq!(
            next_cron("cron(0 22-2 * * ? *)", datetime!(2024-03-02 02:30 UTC)),
            datetime!(2024-03-02 22:00 UTC)
        );
    }

    #[test]
    fn cron_hour_increments_reset_each_day() {
        // 4/12 is 04:00 and 16:00; after 16:00 the next is 04:00 the following day.
        assert_eq!(
            next_cron("cron(0 4/12 * * ? *)", datetime!(2024-03-02 16:00 UTC)),
            datetime!(2024-03-03 04:00 UTC)
        );
        // 2/10 is 02:00, 12:00, 22:00.
        assert_eq!(
            CronExpression::parse("cron(0 2/10 * * ? *)")
                .unwrap()
                .hours_of_day(),
            [2, 12, 22]
        );
    }

    #[test]
    fn cron_day_of_month_step() {
        // 1/7: the 1st, 8th, 15th, 22nd and 29th.
        assert_eq!(
            next_cron("cron(0 8 1/7 * ? *)", datetime!(2024-02-22 09:00 UTC)),
            datetime!(2024-02-29 08:00 UTC)
        );
        assert_eq!(
            next_cron("cron(0 8 1/7 * ? *)", datetime!(2023-02-22 09:00 UTC)),
            datetime!(2023-03-01 08:00 UTC)
        );
    }

    #[test]
    fn cron_last_day_of_month() {
        assert_eq!(
            next_cron("cron(0 16 L * ? *)", datetime!(2023-02-01 00:00 UTC)),
            datetime!(2023-02-28 16:00 UTC)
        );
        assert_eq!(
            next_cron("cron(0 16 L * ? *)", datetime!(2024-02-01 00:00 UTC)),
            datetime!(2024-02-29 16:00 UTC)
        );
    }

    #[test]
    fn cron_nearest_weekday() {
        // 2024-06-15 is a Saturday: 15W fires on Friday the 14th.
        assert_eq!(
            next_cron("cron(0 0 15W * ? *)", datetime!(2024-06-01 00:00 UTC)),
            datetime!(2024-06-14 00:00 UTC)
        );
        // 2024-09-15 is a Sunday: Monday the 16th.
        assert_eq!(
            next_cron("cron(0 0 15W * ? *)", datetime!(2024-09-01 00:00 UTC)),
            datetime!(2024-09-16 00:00 UTC)
        );
        // 2024-06-01 is a Saturday: 1W does not leave the month, so Monday the 3rd.
        assert_eq!(
            next_cron("cron(0 0 1W * ? *)", datetime!(2024-05-31 12:00 UTC)),
            datetime!(2024-06-03 00:00 UTC)
        );
        // 2024-03-31 is a Sunday: 31W is Friday the 29th.
        assert_eq!(
            next_cron("cron(0 0 31W * ? *)", datetime!(2024-03-01 00:00 UTC)),
            datetime!(2024-03-29 00:00 UTC)
        );
        // 31W never fires in a 30-day month.
        assert_eq!(
            next_cron("cron(0 0 31W * ? *)", datetime!(2024-04-01 00:00 UTC)),
            datetime!(2024-05-31 00:00 UTC)
        );
    }

    #[test]
    fn cron_last_weekday_of_month() {
        // 2024-08-31 is a Saturday: LW is Friday the 30th.
        assert_eq!(
            next_cron("cron(0 0 LW * ? *)", datetime!(2024-08-01 00:00 UTC)),
            datetime!(2024-08-30 00:00 UTC)
        );
    }

    #[test]
    fn cron_day_of_week_names_numbers_and_ranges() {
        // 2024-06-05 is a Wednesday.
        let wed = datetime!(2024-06-05 12:00 UTC);
        assert_eq!(
            next_cron("cron(0 8 ? * MON *)", wed),
            datetime!(2024-06-10 08:00 UTC)
        );
        assert_eq!(
            next_cron("cron(0 8 ? * 2 *)", wed),
            datetime!(2024-06-10 08:00 UTC)
        );
        assert_eq!(
            next_cron("cron(0 8 ? * mon-fri *)", wed),
            datetime!(2024-06-06 08:00 UTC)
        );
        assert_eq!(
            next_cron("cron(0 8 ? * SAT,SUN *)", wed),
            datetime!(2024-06-08 08:00 UTC)
        );
        assert_eq!(
            next_cron("cron(0 8 ? * FRI-MON *)", wed),
            datetime!(2024-06-07 08:00 UTC)
        );
        assert_eq!(
            next_cron("cron(0 8 ? * L *)", wed),
            datetime!(2024-06-08 08:00 UTC)
        );
        // 2/2 is MON, WED, FRI.
        assert_eq!(
            next_cron("cron(0 8 ? * 2/2 *)", wed),
            datetime!(2024-06-07 08:00 UTC)
        );
    }

    #[test]
    fn cron_nth_and_last_weekday_in_month() {
        // First Sunday of July 2024 is the 7th.
        assert_eq!(
            next_cron("cron(0 0 ? * SUN#1 *)", datetime!(2024-06-30 12:00 UTC)),
            datetime!(2024-07-07 00:00 UTC)
        );
        // Third Tuesday of June 2024 is the 18th.
        assert_eq!(
            next_cron("cron(0 0 ? * 3#3 *)", datetime!(2024-06-01 00:00 UTC)),
            datetime!(2024-06-18 00:00 UTC)
        );
        // Last Friday of June 2024 is the 28th.
        assert_eq!(
            next_cron("cron(0 23 ? * 6L *)", datetime!(2024-06-01 00:00 UTC)),
            datetime!(2024-06-28 23:00 UTC)
        );
        // A fifth Monday only in some months: after April 29, 2024 the next is July 29.
        assert_eq!(
            next_cron("cron(0 0 ? * MON#5 *)", datetime!(2024-04-29 00:00 UTC)),
            datetime!(2024-07-29 00:00 UTC)
        );
    }

    #[test]
    fn cron_months_and_names() {
        assert_eq!(
            next_cron(
                "cron(0 10 1 JAN,APR,JUL,OCT ? *)",
                datetime!(2024-04-01 10:00 UTC)
            ),
            datetime!(2024-07-01 10:00 UTC)
        );
        assert_eq!(
            next_cron("cron(0 10 1 */6 ? *)", datetime!(2024-02-01 00:00 UTC)),
            datetime!(2024-07-01 10:00 UTC)
        );
        assert_eq!(
            next_cron("cron(0 10 1 NOV-FEB ? *)", datetime!(2024-03-01 00:00 UTC)),
            datetime!(2024-11-01 10:00 UTC)
        );
    }

    #[test]
    fn cron_leap_day_and_years() {
        assert_eq!(
            next_cron("cron(0 0 29 2 ? *)", datetime!(2024-03-01 00:00 UTC)),
            datetime!(2028-02-29 00:00 UTC)
        );
        assert_eq!(
            next_cron("cron(0 0 1 1 ? 2030,2035)", datetime!(2030-06-01 00:00 UTC)),
            datetime!(2035-01-01 00:00 UTC)
        );
        assert_eq!(
            next_cron(
                "cron(0 0 1 1 ? 2030-2040/5)",
                datetime!(2031-01-01 00:00 UTC)
            ),
            datetime!(2035-01-01 00:00 UTC)
        );
        assert_eq!(
            CronExpression::parse("cron(0 0 1 1 ? 2030)")
                .unwrap()
                .next_after(ts(datetime!(2031-01-01 00:00 UTC))),
            None
        );
    }

    #[test]
    fn cron_never_matching_expression_none() {
        let cron = CronExpression::parse("cron(0 0 31 4 ? *)").unwrap();
        assert_eq!(cron.next_after(Timestamp(0)), None);
    }

    #[test]
    fn cron_fires_more_than_once_a_day() {
        assert!(!CronExpression::parse("0 8 * * ? *")
            .unwrap()
            .fires_more_than_once_a_day());
        assert!(CronExpression::parse("0 8,20 * * ? *")
            .unwrap()
            .fires_more_than_once_a_day());
        assert!(CronExpression::parse("0,30 8 * * ? *")
            .unwrap()
            .fires_more_than_once_a_day());
    }

    #[test]
    fn parse_schedule_expression_typed() {
        assert_eq!(
            parse_schedule_expression("rate(10 days)").unwrap(),
            ScheduleExpression::Rate {
                value: 10,
                unit: RateUnit::Days
            }
        );
        assert!(matches!(
            parse_schedule_expression("cron(0 8 ? * MON *)").unwrap(),
            ScheduleExpression::Cron(_)
        ));
    }

    #[test]
    fn rotation_rules_serde_round_trip() {
        let r = rules(None, Some("rate(4 hours)"), Some("2h"));
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<RotationRules>(&json).unwrap(), r);
        let empty: RotationRules = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, RotationRules::default());
    }
}
