//! Plain-text formatting shared by the report renderings: numbers, byte counts and
//! aligned tables.

use std::io::Write;

/// A number in at most 6 significant digits, without trailing zeros.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (5 - magnitude).clamp(0, 9) as usize;
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    // A tiny negative rounding error is not "-0".
    if s == "-0" { "0".to_string() } else { s }
}

/// [`fmt_num`] of an optional value, `-` when absent.
pub fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), fmt_num)
}

/// Bytes in B, KiB, MiB or GiB with three significant digits.
pub fn fmt_bytes(x: Option<f64>) -> String {
    let Some(x) = x else { return "-".into() };
    let (v, unit) = byte_unit(x);
    if v == 1.0 {
        return format!("{} B", x.round());
    }
    format!("{} {unit}", fmt_num((x / v * 1000.0).round() / 1000.0))
}

/// The binary unit that suits a byte count: (bytes per unit, name).
pub fn byte_unit(max: f64) -> (f64, &'static str) {
    const UNITS: [(f64, &str); 4] = [
        (1073741824.0, "GiB"),
        (1048576.0, "MiB"),
        (1024.0, "KiB"),
        (1.0, "B"),
    ];
    UNITS
        .into_iter()
        .find(|(v, _)| max >= *v)
        .unwrap_or((1.0, "B"))
}

/// Writes an aligned text table; `align` has one letter per column, `l` (left) or
/// `r` (right).
pub fn write_table(
    out: &mut dyn Write,
    header: &[&str],
    align: &str,
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let align: Vec<char> = align.chars().collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let parts: Vec<String> = cells
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if align.get(i) == Some(&'r') {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        format!("  {}", parts.join("  ").trim_end())
    };
    writeln!(out, "{}", line(&mut header.iter().copied()))?;
    for row in rows {
        writeln!(out, "{}", line(&mut row.iter().map(String::as_str)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formatting() {
        assert_eq!(fmt_num(470.533_333), "470.533");
        assert_eq!(fmt_num(0.000_625), "0.000625");
        assert_eq!(fmt_num(600_000.0), "600000");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(-1e-17), "0");
    }

    #[test]
    fn byte_units() {
        assert_eq!(fmt_bytes(Some(512.4)), "512 B");
        assert_eq!(fmt_bytes(Some(20096.0)), "19.625 KiB");
        assert_eq!(fmt_bytes(Some(150.0 * 1048576.0)), "150 MiB");
        assert_eq!(fmt_bytes(None), "-");
    }
}
