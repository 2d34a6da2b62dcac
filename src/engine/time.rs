//! Times in input: RFC 3339, or local Europe/Oslo time.

use super::model::Time;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// A timestamp in input: RFC 3339 with offset, or a local Europe/Oslo time without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Ts(pub Time);

/// A time in input that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("{0:?} does not exist in Europe/Oslo (DST gap)")]
    DstGap(String),
    #[error("invalid time {0:?}: write RFC 3339, e.g. \"2026-11-20T14:30:00+01:00\"")]
    Unparseable(String),
}

/// An input time: RFC 3339, or a local `YYYY-MM-DDTHH:MM` in Europe/Oslo.
pub fn parse_time(s: &str) -> Result<Time, TimeError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return chrono_tz::Europe::Oslo
                .from_local_datetime(&n)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| TimeError::DstGap(s.to_string()));
        }
    }
    Err(TimeError::Unparseable(s.to_string()))
}

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_time(&s).map(Ts).map_err(serde::de::Error::custom)
    }
}
