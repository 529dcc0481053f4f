//! Two resolutions of the same rollups: minutes for the recent past (the
//! minute retention), hours before that (the hourly retention). The purge
//! folds minute rows older than the minute retention into hourly rows; the
//! end of the newest folded hour is the *watermark*: hourly rows hold what
//! is before it, minute rows what is after. Reads split their window at the
//! watermark, read each table for its part and merge here, so nothing is
//! counted twice even while old minute rows are still being deleted
//! (ClickHouse deletes asynchronously). Pure.

use super::model::{EdgeTotal, SeriesPoint};

pub const HOUR: i64 = 3_600;

/// The start of the hour holding `time`.
pub fn hour_floor(time: i64) -> i64 {
    time.div_euclid(HOUR) * HOUR
}

/// The watermark from the newest hourly row (none: 0).
pub fn watermark(newest_hour: Option<i64>) -> i64 {
    newest_hour.map_or(0, |hour| hour + HOUR)
}

/// Which part of `[from, to)` each table answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// Minute rows: `[from, to)` with `from` at or after the watermark.
    pub minutes: Option<(i64, i64)>,
    /// Hourly rows whose hour overlaps the window before the watermark.
    pub hours: Option<(i64, i64)>,
}

pub fn split(from: i64, to: i64, watermark: i64) -> Split {
    let minutes_from = from.max(watermark);
    let hours_to = to.min(watermark);
    Split {
        minutes: (minutes_from < to).then_some((minutes_from, to)),
        // An hour that began before `from` but ends after it overlaps.
        hours: (from < hours_to).then_some((hour_floor(from), hours_to)),
    }
}

/// A rollup table: the resolution and its time column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Minutes,
    Hours,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Self::Minutes => "edge_minutes",
            Self::Hours => "edge_hours",
        }
    }

    pub fn time_column(self) -> &'static str {
        match self {
            Self::Minutes => "minute",
            Self::Hours => "hour",
        }
    }
}

/// Reads each table's part of `[from, to)` with `read(table, from, to)`
/// and merges the parts with `merge(minutes, hours)`.
pub fn read_split<T, E>(
    from: i64,
    to: i64,
    watermark: i64,
    mut read: impl FnMut(Table, i64, i64) -> Result<Vec<T>, E>,
    merge: impl FnOnce(Vec<T>, Vec<T>) -> Vec<T>,
) -> Result<Vec<T>, E> {
    let split = split(from, to, watermark);
    let mut part = |table, window: Option<(i64, i64)>| match window {
        Some((from, to)) => read(table, from, to),
        None => Ok(Vec::new()),
    };
    let minutes = part(Table::Minutes, split.minutes)?;
    let hours = part(Table::Hours, split.hours)?;
    Ok(merge(minutes, hours))
}

/// Per-edge totals from both tables, summed, ordered by edge. Sorting and
/// folding neighbours keeps a 20,000-edge answer cheap: no key is cloned,
/// and an already sorted part (DuckDB orders it) sorts in linear time.
pub fn merge_totals(minutes: Vec<EdgeTotal>, hours: Vec<EdgeTotal>) -> Vec<EdgeTotal> {
    let mut all = minutes;
    all.extend(hours);
    all.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    let mut merged: Vec<EdgeTotal> = Vec::with_capacity(all.len());
    for total in all {
        match merged.last_mut() {
            Some(last) if last.key == total.key => {
                last.stats.add(&total.stats);
                last.last_minute = last.last_minute.max(total.last_minute);
            }
            _ => merged.push(total),
        }
    }
    merged
}

/// Hourly points, then minute points: the times never overlap.
pub fn merge_series(minutes: Vec<SeriesPoint>, hours: Vec<SeriesPoint>) -> Vec<SeriesPoint> {
    let mut points = hours;
    points.extend(minutes);
    points.sort_by_key(|point| point.minute);
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::{EdgeKey, EdgeStats, WorkloadRef};

    fn total(name: &str, connections: u64, last: i64) -> EdgeTotal {
        let workload = |name: &str| WorkloadRef {
            namespace: "shop".into(),
            name: name.into(),
            kind: "Deployment".into(),
        };
        EdgeTotal {
            key: std::sync::Arc::new(EdgeKey {
                source: workload("web"),
                destination: workload(name),
                port: 80,
            }),
            stats: EdgeStats {
                connections,
                ..EdgeStats::default()
            },
            last_minute: last,
        }
    }

    #[test]
    fn windows_split_at_the_watermark() {
        let w = 10 * HOUR;
        // All recent: minutes only.
        assert_eq!(
            split(11 * HOUR, 12 * HOUR, w),
            Split {
                minutes: Some((11 * HOUR, 12 * HOUR)),
                hours: None
            }
        );
        // Across: hours from the hour holding `from` up to the watermark.
        assert_eq!(
            split(8 * HOUR + 600, 12 * HOUR, w),
            Split {
                minutes: Some((w, 12 * HOUR)),
                hours: Some((8 * HOUR, w))
            }
        );
        // All old: hours only.
        assert_eq!(split(HOUR, 2 * HOUR, w).minutes, None);
        // Nothing folded yet.
        assert_eq!(split(0, 5, watermark(None)).hours, None);
        assert_eq!(hour_floor(-1), -HOUR);
    }

    #[test]
    fn totals_add_up_per_edge() {
        let merged = merge_totals(
            vec![total("api", 3, 700), total("db", 1, 650)],
            vec![total("api", 5, 0)],
        );
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].key.destination.name, "api");
        assert_eq!(merged[0].stats.connections, 8);
        assert_eq!(merged[0].last_minute, 700);
    }
}
