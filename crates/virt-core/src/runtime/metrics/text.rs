//! The exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0 text.
//!
//! Both are written by one [`Writer`]: a family header (`# HELP`, `# TYPE`) then its samples.
//! The differences handled here: OpenMetrics names a counter family without its `_total`
//! suffix (the samples keep it), escapes `"` in HELP text as well, and ends with `# EOF`.
//! Label values are escaped the same way in both (`\\`, `\"`, `\n`).

use std::fmt::Write as _;

/// Which text format a scrape asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text exposition format 0.0.4 (the default).
    Prometheus,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text`, else Prometheus text.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a)
                if a.to_ascii_lowercase()
                    .contains("application/openmetrics-text") =>
            {
                Format::OpenMetrics
            }
            _ => Format::Prometheus,
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// A metric family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A monotonic counter; its name ends in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A histogram: `_bucket{le=...}`, `_sum`, `_count` samples.
    Histogram,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A sample value: integers are printed exactly (a byte counter above 2^53 keeps its digits).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    /// Unsigned integer.
    U(u64),
    /// Signed integer.
    I(i64),
    /// Floating point.
    F(f64),
}

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Num::U(v) => write!(f, "{v}"),
            Num::I(v) => write!(f, "{v}"),
            Num::F(v) if v.is_nan() => f.write_str("NaN"),
            Num::F(v) if v == f64::INFINITY => f.write_str("+Inf"),
            Num::F(v) if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            Num::F(v) => write!(f, "{v}"),
        }
    }
}

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape_label_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes families in one format into a string.
#[derive(Debug)]
pub struct Writer {
    format: Format,
    out: String,
}

impl Writer {
    /// An empty exposition in `format`.
    pub fn new(format: Format) -> Writer {
        Writer {
            format,
            out: String::with_capacity(16 * 1024),
        }
    }

    /// Starts the family `name` (for a counter, with its `_total`).
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let family = match (self.format, kind) {
            (Format::OpenMetrics, Kind::Counter) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        self.out.push_str("# HELP ");
        self.out.push_str(family);
        self.out.push(' ');
        for c in help.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '"' if self.format == Format::OpenMetrics => self.out.push_str("\\\""),
                c => self.out.push(c),
            }
        }
        self.out.push('\n');
        let _ = writeln!(self.out, "# TYPE {family} {}", kind.word());
    }

    /// One sample line: `name{labels} value`.
    pub fn sample<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        name: &str,
        labels: &[(K, V)],
        value: Num,
    ) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k.as_ref());
                self.out.push_str("=\"");
                escape_label_value(v.as_ref(), &mut self.out);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// The text, with OpenMetrics' `# EOF` terminator when that is the format.
    pub fn finish(mut self) -> String {
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
        self.out
    }
}
