//! The CSV file meter readings are imported from (issue 12, item 3), read by the meter import's
//! rules (`meter_csv`): UTF-8 (a byte-order mark is skipped), the header
//! [`READING_CSV_TEMPLATE`] first, one reading per line, quoted fields, blank and `#` lines
//! skipped, line numbers the file's own. Documented for clerks in docs/reading-import.md.
//!
//! A bad line is reported once, with its number and every reason found on it; a line with any
//! problem is not imported. A meter may have several readings in a file (a month each); two of
//! them on the same date disagree, and neither is trusted.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::billing::ReadingError;
use super::meter_csv::{
    LineProblem, MeterNo, MeterNoError, commented, holds_a_meter, is_header, split_fields,
    volume_field,
};
use super::money::Volume;
use super::validation::{self, FieldError};

/// The header line of a reading import file: the column names, in order.
pub const READING_CSV_TEMPLATE: &str =
    "meter_no,read_on,electronic_reading,mechanical_reading,rollover\n";

/// The template's example: a demo meter read on 1 March 2025, no mechanical reading, no
/// rollover.
pub const EXAMPLE_ROW: &str = "PM-0001,2025-03-01,130.5,,";

const COLUMNS: usize = 5;

/// What `meterdesk readings template` prints: the header, then `notes` and the example row as
/// comment lines, which the importer skips.
pub fn template(notes: &[&str]) -> String {
    commented(READING_CSV_TEMPLATE, notes, EXAMPLE_ROW)
}

/// What is wrong with a line; a line may have several.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadingProblem {
    #[error("the first line must be the header {:?}", READING_CSV_TEMPLATE.trim_end())]
    Header,
    /// The line is not UTF-8 text (the file's other lines are read), as the meter import says.
    #[error("the line is not UTF-8 text")]
    NotUtf8,
    #[error("{found} columns, the template has 5")]
    ColumnCount { found: usize },
    /// A quote out of place (the meter import's wording).
    #[error("{0}")]
    Quote(LineProblem),
    #[error("meter number: {0}")]
    MeterNo(MeterNoError),
    /// The date as the file gives it (trimmed): one in a date's shape that does not exist
    /// (2026-02-30) is told so, not told its shape.
    #[error("the date is not YYYY-MM-DD: {0:?}")]
    Date(String),
    #[error("electronic reading: {0}")]
    Electronic(FieldError),
    #[error("mechanical reading: {0}")]
    Mechanical(FieldError),
    #[error("rollover is yes, no or blank")]
    Rollover,
    #[error("meter {meter_no} has another reading on this date on line(s) {other_lines:?}")]
    SameDay {
        meter_no: String,
        other_lines: Vec<usize>,
    },
    // Found against the database (db::readings), not in the file.
    #[error("no installed meter {0} with an active customer")]
    UnknownMeter(String),
    #[error(transparent)]
    Reading(#[from] ReadingError),
    #[error("the customer type has no price on the reading's date")]
    NoPrice,
    #[error("a card meter's water is paid on its card")]
    CardMeter,
    #[error("more water than a bill can hold")]
    TooMuchWater,
    /// The meter's latest reading is this one, the same date and figure (sql/V113): not
    /// recorded again.
    #[error("already recorded: {electronic} m³ on {on}")]
    AlreadyRecorded {
        electronic: Volume,
        on: NaiveDate,
        by: Option<String>,
    },
}

/// A bad line: its number and every problem on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub problems: Vec<ReadingProblem>,
}

/// A good line: a reading to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingRow {
    pub line: usize,
    pub meter_no: MeterNo,
    pub read_on: NaiveDate,
    pub electronic: Volume,
    pub mechanical: Option<Volume>,
    pub rollover: bool,
}

/// The file read: the good rows and the bad lines, each in line order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadingCsv {
    pub rows: Vec<ReadingRow>,
    pub bad: Vec<BadLine>,
}

/// Reads a reading import file's bytes: a line that is not UTF-8 is a problem of that line,
/// the others are read as [`parse_reading_csv`] reads them — as the meter import reads its
/// file (`meter_csv::parse_meter_file`). A reading's fields are ASCII, so the lines of a file
/// saved in GBK are read, and only a line with other text (a GBK header) is named.
pub fn parse_reading_file(bytes: &[u8]) -> ReadingCsv {
    let (text, not_utf8) = super::csv::utf8_lines(bytes);
    let mut csv = parse_reading_csv(&text);
    for line in not_utf8 {
        match csv.bad.iter_mut().find(|bad| bad.line == line) {
            Some(bad) => bad.problems.insert(0, ReadingProblem::NotUtf8),
            None => csv.bad.push(BadLine {
                line,
                problems: vec![ReadingProblem::NotUtf8],
            }),
        }
    }
    csv.bad.sort_by_key(|bad| bad.line);
    csv
}

/// Reads a reading import file.
pub fn parse_reading_csv(text: &str) -> ReadingCsv {
    let mut lines = super::csv::numbered_lines(text);
    let mut csv = ReadingCsv::default();
    if !lines
        .next()
        .is_some_and(|(_, header)| is_header(header, READING_CSV_TEMPLATE))
    {
        csv.bad.push(BadLine {
            line: 1,
            problems: vec![ReadingProblem::Header],
        });
        return csv;
    }
    let mut rows = Vec::new();
    let mut days: HashMap<(MeterNo, NaiveDate), Vec<usize>> = HashMap::new();
    for (line, text) in lines.filter(|(_, text)| holds_a_meter(text)) {
        match parse_row(line, text) {
            Ok(row) => {
                days.entry((row.meter_no.clone(), row.read_on))
                    .or_default()
                    .push(line);
                rows.push(row);
            }
            Err(problems) => csv.bad.push(BadLine { line, problems }),
        }
    }
    for row in rows {
        let lines = &days[&(row.meter_no.clone(), row.read_on)];
        if lines.len() == 1 {
            csv.rows.push(row);
        } else {
            csv.bad.push(BadLine {
                line: row.line,
                problems: vec![ReadingProblem::SameDay {
                    meter_no: row.meter_no.as_str().to_owned(),
                    other_lines: lines.iter().copied().filter(|&l| l != row.line).collect(),
                }],
            });
        }
    }
    csv.bad.sort_by_key(|bad| bad.line);
    csv
}

fn parse_row(line: usize, text: &str) -> Result<ReadingRow, Vec<ReadingProblem>> {
    let fields = split_fields(text).map_err(|problem| vec![ReadingProblem::Quote(problem)])?;
    let [meter_no, read_on, electronic, mechanical, rollover] =
        super::csv::exactly::<COLUMNS>(fields)
            .map_err(|found| vec![ReadingProblem::ColumnCount { found }])?;
    let mut problems = Vec::new();
    let meter_no = MeterNo::parse(&meter_no)
        .map_err(|error| problems.push(ReadingProblem::MeterNo(error)))
        .ok();
    // A reading's fields are ASCII: typed full-width, their ASCII twins.
    let [read_on, rollover] = [read_on, rollover].map(|field| validation::halfwidth_text(&field));
    let read_on = NaiveDate::parse_from_str(read_on.trim(), "%Y-%m-%d")
        .map_err(|_| problems.push(ReadingProblem::Date(read_on.trim().to_owned())))
        .ok();
    let electronic = volume_field(&electronic)
        .map_err(|error| problems.push(ReadingProblem::Electronic(error)))
        .ok();
    let mechanical = validation::optional(&mechanical, volume_field)
        .map_err(|error| problems.push(ReadingProblem::Mechanical(error)))
        .ok();
    let rollover = match rollover.trim().to_ascii_lowercase().as_str() {
        "" | "no" | "n" | "0" => Some(false),
        "yes" | "y" | "1" => Some(true),
        _ => {
            problems.push(ReadingProblem::Rollover);
            None
        }
    };
    match (meter_no, read_on, electronic, mechanical, rollover) {
        (Some(meter_no), Some(read_on), Some(electronic), Some(mechanical), Some(rollover)) => {
            Ok(ReadingRow {
                line,
                meter_no,
                read_on,
                electronic,
                mechanical,
                rollover,
            })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> ReadingCsv {
        parse_reading_csv(&format!("{READING_CSV_TEMPLATE}{body}"))
    }

    /// A file saved in GBK was refused whole ("不是 UTF-8 文本") while the meter import names
    /// each line that is not UTF-8 (s35-f, found): read as the meter import reads, its comment
    /// (GBK "# 水表") skipped, its ASCII lines read, the line with GBK text named.
    #[test]
    fn a_line_that_is_not_utf8_is_named_and_the_others_are_read() {
        let mut file = READING_CSV_TEMPLATE.as_bytes().to_vec();
        file.extend_from_slice(b"# \xcb\xae\xb1\xed\r\n");
        file.extend_from_slice(b"pm-1,2025-03-01,130.5,,\r\n");
        file.extend_from_slice(b"pm-2,2025-03-01,\xcb\xae\xb1\xed,,\r\n");
        file.extend_from_slice(b"pm-3,2025-03-01,12,,\r\n");
        let csv = parse_reading_file(&file);
        assert_eq!(
            csv.rows.iter().map(|row| row.line).collect::<Vec<_>>(),
            vec![3, 5]
        );
        assert_eq!(
            csv.bad,
            vec![BadLine {
                line: 4,
                problems: vec![ReadingProblem::NotUtf8],
            }]
        );
        // A header that is not UTF-8: the header's problem too, on the same line.
        let csv = parse_reading_file(b"\xb1\xed\xba\xc5\npm-1,2025-03-01,130.5,,\n");
        assert_eq!(
            csv.bad,
            vec![BadLine {
                line: 1,
                problems: vec![ReadingProblem::NotUtf8, ReadingProblem::Header],
            }]
        );
    }

    #[test]
    fn good_lines_are_read_with_their_numbers() {
        let csv = parse_reading_csv(
            "\u{feff}Meter_No,read_on,electronic_reading,mechanical_reading,rollover\r\n\
             pm-1,2025-03-01,130.5,,\r\n\
             # a note\r\n\
             PM-1 , 2025-04-01 , \"1,130\" , 12 , yes\r\n",
        );
        assert_eq!(csv.bad, []);
        assert_eq!(csv.rows.len(), 2);
        assert_eq!(csv.rows[1].line, 4);
        assert_eq!(csv.rows[1].electronic.to_string(), "1130.000");
        assert_eq!(
            csv.rows[1].mechanical.map(|m| m.to_string()),
            Some("12.000".into())
        );
        assert!(csv.rows[1].rollover && !csv.rows[0].rollover);
    }

    /// A line a Chinese input method typed full-width ("２０１６…") is read as its ASCII twin,
    /// as the forms and the search read it (s43-e's walk: "不能有 '２'"): the same row, the
    /// same number — and the same day as its ASCII twin, so the two are one meter's one day.
    #[test]
    fn a_line_typed_full_width_is_its_ascii_twin() {
        let csv = parse(
            "２０１６－ａ７,２０２５－０３－０１,１３０．５,１２,ｙｅｓ\n\
             2016-A7,2025-03-01,130.5,12,yes\n",
        );
        assert_eq!(csv.rows, []);
        let problems: Vec<_> = csv.bad.iter().map(|bad| bad.problems.clone()).collect();
        assert_eq!(
            problems,
            [2, 1].map(|other| vec![ReadingProblem::SameDay {
                meter_no: "2016-A7".into(),
                other_lines: vec![other + 1],
            }])
        );
        let csv =
            parse("\u{3000}２０１６－ａ７\u{3000},２０２５－０３－０１,１３０．５,１２,ｙｅｓ\n");
        assert_eq!(csv.bad, []);
        let row = &csv.rows[0];
        assert_eq!(row.meter_no.as_str(), "2016-A7");
        assert_eq!(row.read_on, NaiveDate::from_ymd_opt(2025, 3, 1).unwrap());
        assert_eq!(row.electronic.to_string(), "130.500");
        assert!(row.rollover);
    }

    #[test]
    fn a_bad_line_is_listed_once_with_every_reason() {
        let csv = parse("M 1,2025-13-01,-1,x,maybe\nA-1,2025-03-01,1\nA-2,2025-03-01,\"1,2\n");
        let lines: Vec<_> = csv
            .bad
            .iter()
            .map(|bad| (bad.line, bad.problems.len()))
            .collect();
        assert_eq!(lines, [(2, 5), (3, 1), (4, 1)]);
        assert_eq!(
            csv.bad[1].problems,
            [ReadingProblem::ColumnCount { found: 3 }]
        );
        assert!(csv.rows.is_empty());
    }

    #[test]
    fn two_readings_of_a_meter_on_one_day_are_both_refused() {
        let csv = parse("A-1,2025-03-01,1,,\nA-1,2025-04-01,2,,\nA-1,2025-03-01,3,,\n");
        assert_eq!(csv.rows.len(), 1);
        assert_eq!(
            csv.bad,
            [
                BadLine {
                    line: 2,
                    problems: vec![ReadingProblem::SameDay {
                        meter_no: "A-1".into(),
                        other_lines: vec![4]
                    }]
                },
                BadLine {
                    line: 4,
                    problems: vec![ReadingProblem::SameDay {
                        meter_no: "A-1".into(),
                        other_lines: vec![2]
                    }]
                },
            ]
        );
    }

    #[test]
    fn a_file_without_the_header_is_refused_whole() {
        let csv = parse_reading_csv("A-1,2025-03-01,1,,\n");
        assert_eq!(
            csv.bad,
            [BadLine {
                line: 1,
                problems: vec![ReadingProblem::Header]
            }]
        );
    }

    #[test]
    fn the_template_imports_its_example_once_uncommented() {
        let printed = template(&["a note, with \"quotes\""]);
        assert_eq!(parse_reading_csv(&printed), ReadingCsv::default());
        let kept = printed.replace(&format!("# {EXAMPLE_ROW}"), EXAMPLE_ROW);
        assert_eq!(parse_reading_csv(&kept).rows.len(), 1);
    }
}
