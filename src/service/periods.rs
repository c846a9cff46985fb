//! Time buckets of the trend reports: months, quarters and years in UTC, and
//! the checks a requested range must pass. The rollup counts hires per month;
//! a bucket is a run of whole months, so every bucket is a sum of months.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};

use crate::{error::AppError, rules::YEARS};

/// The most buckets one series may hold: 10 years of months.
pub const MAX_POINTS: i32 = 120;

/// The size of a time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum Granularity {
    /// Calendar months.
    Month,
    /// Calendar quarters, starting in January, April, July and October.
    Quarter,
    /// Calendar years.
    Year,
}

impl Granularity {
    /// Months per bucket.
    pub fn months(self) -> i32 {
        match self {
            Granularity::Month => 1,
            Granularity::Quarter => 3,
            Granularity::Year => 12,
        }
    }

    /// The bucket's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Granularity::Month => "month",
            Granularity::Quarter => "quarter",
            Granularity::Year => "year",
        }
    }
}

/// A month counted from year 0: `year * 12 + month - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

impl Month {
    /// The month of a rollup row's year and month (1 to 12).
    pub fn of(year: i32, month: u32) -> Self {
        Month(year * 12 + month as i32 - 1)
    }

    /// The calendar year.
    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }

    /// The calendar month, 1 to 12.
    pub fn month(self) -> u32 {
        self.0.rem_euclid(12) as u32 + 1
    }

    /// The first instant of this month, in UTC.
    pub fn start(self) -> DateTime<Utc> {
        let date = NaiveDate::from_ymd_opt(self.year(), self.month(), 1)
            .expect("a month of a checked range has a first day");
        date.and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
    }

    /// This month moved by `months`.
    pub fn plus(self, months: i32) -> Self {
        Month(self.0 + months)
    }
}

/// A checked range of whole buckets: from the bucket starting at `from` up
/// to, not including, the one starting at `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The first month.
    pub from: Month,
    /// The month after the last.
    pub to: Month,
    /// The bucket size.
    pub granularity: Granularity,
}

impl Span {
    /// Checks `[from, to)` for `granularity`: both on bucket boundaries
    /// (otherwise the error names the nearest valid values), `from` before
    /// `to`, within years 1 to 9999, and at most [`MAX_POINTS`] buckets.
    pub fn new(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        granularity: Granularity,
    ) -> Result<Self, AppError> {
        let span = Span::any_length(from, to, granularity)?;
        if span.points() > MAX_POINTS {
            return Err(bad_input(format!(
                "the range holds {} {}s; at most {MAX_POINTS} buckets are allowed per request \
                 (10 years of months)",
                span.points(),
                granularity.name()
            )));
        }
        Ok(span)
    }

    /// Checks `[from, to)` like [`Span::new`], but for any number of buckets:
    /// for totals over a range, which hold one number whatever its length.
    pub fn any_length(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        granularity: Granularity,
    ) -> Result<Self, AppError> {
        let span = Span {
            from: boundary("from", from, granularity)?,
            to: boundary("to", to, granularity)?,
            granularity,
        };
        if span.to <= span.from {
            return Err(bad_input(format!(
                "`to` ({}) must be after `from` ({})",
                text(to),
                text(from)
            )));
        }
        Ok(span)
    }

    /// The single bucket starting at `at`.
    pub fn one(at: DateTime<Utc>, granularity: Granularity) -> Result<Self, AppError> {
        let from = boundary("at", at, granularity)?;
        Ok(Span {
            from,
            to: from.plus(granularity.months()),
            granularity,
        })
    }

    /// This span moved by `months`.
    pub fn shifted(self, months: i32) -> Self {
        Span {
            from: self.from.plus(months),
            to: self.to.plus(months),
            ..self
        }
    }

    /// How many buckets the span holds.
    pub fn points(self) -> i32 {
        (self.to.0 - self.from.0) / self.granularity.months()
    }

    /// The first month of each bucket, in time order.
    pub fn bucket_starts(self) -> impl Iterator<Item = Month> {
        (self.from.0..self.to.0)
            .step_by(self.granularity.months() as usize)
            .map(Month)
    }

    /// The index of the bucket holding `month`, if the span holds it.
    pub fn bucket_of(self, month: Month) -> Option<usize> {
        (self.from <= month && month < self.to)
            .then(|| ((month.0 - self.from.0) / self.granularity.months()) as usize)
    }

    /// The first and last calendar year the span touches.
    pub fn years(self) -> (i32, i32) {
        (self.from.year(), self.to.plus(-1).year())
    }
}

/// The month starting the bucket at `at`, or an error naming the nearest
/// boundaries when `at` is not the first instant of a bucket.
fn boundary(
    argument: &str,
    at: DateTime<Utc>,
    granularity: Granularity,
) -> Result<Month, AppError> {
    if !YEARS.contains(&at.year()) {
        return Err(bad_input(format!(
            "`{argument}` ({}) must be in the years 1 to 9999",
            text(at)
        )));
    }
    let month = Month::of(at.year(), at.month());
    let floor = Month(month.0 - month.0.rem_euclid(12) % granularity.months());
    if floor.start() == at {
        return Ok(floor);
    }
    let next = floor.plus(granularity.months());
    Err(bad_input(format!(
        "`{argument}` ({}) is not the start of a {} in UTC; the nearest valid values are {} and {}",
        text(at),
        granularity.name(),
        text(floor.start()),
        text(next.start()),
    )))
}

/// An instant as RFC 3339 in UTC, as the API writes it.
fn text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn bad_input(message: String) -> AppError {
    AppError::bad_input("BAD_USER_INPUT", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn a_quarter_range_holds_its_buckets_in_order() {
        let span = Span::new(
            at("2020-04-01T00:00:00Z"),
            at("2021-01-01T00:00:00Z"),
            Granularity::Quarter,
        )
        .unwrap();
        let starts: Vec<_> = span.bucket_starts().map(|m| m.start()).collect();
        assert_eq!(
            starts,
            ["2020-04-01", "2020-07-01", "2020-10-01"].map(|d| at(&format!("{d}T00:00:00Z")))
        );
        assert_eq!(span.bucket_of(Month::of(2020, 12)), Some(2));
        assert_eq!(span.bucket_of(Month::of(2021, 1)), None);
        assert_eq!(span.years(), (2020, 2020));
    }

    #[test]
    fn an_instant_off_a_boundary_names_the_nearest_valid_values() {
        let error = Span::new(
            at("2021-02-15T00:00:00Z"),
            at("2022-01-01T00:00:00Z"),
            Granularity::Quarter,
        )
        .unwrap_err();
        assert!(
            format!("{error:?}").contains(
                "the nearest valid values are 2021-01-01T00:00:00Z and 2021-04-01T00:00:00Z"
            ),
            "{error:?}"
        );
        let error = Span::one(at("2021-01-01T00:00:01Z"), Granularity::Month).unwrap_err();
        assert!(
            format!("{error:?}").contains("2021-01-01T00:00:00Z and 2021-02-01T00:00:00Z"),
            "{error:?}"
        );
    }

    #[test]
    fn ranges_longer_than_ten_years_of_buckets_or_backwards_are_refused() {
        let ok = Span::new(
            at("2012-01-01T00:00:00Z"),
            at("2022-01-01T00:00:00Z"),
            Granularity::Month,
        );
        assert_eq!(ok.unwrap().points(), 120);
        let long = Span::new(
            at("2012-01-01T00:00:00Z"),
            at("2022-02-01T00:00:00Z"),
            Granularity::Month,
        );
        assert!(format!("{:?}", long.unwrap_err()).contains("121 months"));
        let backwards = Span::new(
            at("2022-01-01T00:00:00Z"),
            at("2021-01-01T00:00:00Z"),
            Granularity::Year,
        );
        assert!(format!("{:?}", backwards.unwrap_err()).contains("must be after"));
    }
}
