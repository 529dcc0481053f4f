//! Durations, rates and sizes short enough for a table cell and read at a
//! glance ("3h 24m", "45 req/min").

/// "45s", "12m", "3h 24m", "2d 8h"; "-" for zero or negative.
pub fn duration(seconds: i64) -> String {
    if seconds <= 0 {
        return "-".into();
    }
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
        seconds % 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

/// A per-minute rate: whole numbers from 10 up, one decimal below.
pub fn rate(per_minute: f64) -> String {
    if per_minute >= 10.0 {
        format!("{per_minute:.0}")
    } else {
        let text = format!("{per_minute:.1}");
        text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
    }
}

/// Bytes in B, KiB, MiB, GiB with one decimal.
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = value;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A window in seconds as "5m", "1h", "90s".
pub fn window(seconds: i64) -> String {
    if seconds % 3_600 == 0 && seconds >= 3_600 {
        format!("{}h", seconds / 3_600)
    } else if seconds % 60 == 0 && seconds >= 60 {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// Parse "300", "90s", "5m", "1h", "2d" into seconds.
pub fn parse_window(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 300, 90s, 5m, 1h or 2d"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: unit must be s, m, h or d")),
    };
    if number <= 0 {
        return Err(format!("{text:?}: the window must be positive"));
    }
    Ok(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_human_shapes() {
        assert_eq!(duration(3 * 3600 + 24 * 60 + 5), "3h 24m");
        assert_eq!(duration(2 * 86_400 + 8 * 3600), "2d 8h");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(0), "-");
        assert_eq!(rate(45.2), "45");
        assert_eq!(rate(4.0), "4");
        assert_eq!(rate(0.25), "0.2");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(12.0), "12 B");
        assert_eq!(window(300), "5m");
        assert_eq!(parse_window("5m"), Ok(300));
        assert_eq!(parse_window("300"), Ok(300));
        assert!(parse_window("5x").is_err());
        assert!(parse_window("0").is_err());
    }
}
