//! Meter numbers, and the CSV file meters are imported from (4.5.1).
//!
//! The file: UTF-8 (a byte-order mark is skipped), one meter per line, the first line the
//! header [`METER_CSV_TEMPLATE`] (column names in that order, any case). Fields are separated
//! by commas; a field may be quoted with `"` (then it may hold commas, and `""` is a quote),
//! but a quoted field does not span lines. Surrounding spaces are ignored; blank lines and
//! comment lines (after the header, starting with `#`, which no meter number can) are skipped.
//! A blank reading is 0, a new meter's usual reading. The columns are documented for clerks in
//! docs/meter-import.md and in the comment lines of [`template`].
//!
//! Every problem is reported with the line it is on (the header is line 1); a line with any
//! problem is not imported at all, so there is never half a row.

use std::collections::HashMap;

use super::money::{MAX_VOLUME, Volume};
use super::validation::{self, FieldError};

/// The header line of a meter import file: the column names, in order.
pub const METER_CSV_TEMPLATE: &str =
    "meter_no,meter_type,initial_electronic_reading,initial_mechanical_reading\n";

/// The template's example meter: a meter of the demo data's card meter type, its mechanical
/// reading left blank (0).
pub const EXAMPLE_ROW: &str = "A-000123,IC卡水表 DN15 宁波,12.5,";

/// Starts a comment line.
const COMMENT: char = '#';

/// What `meterdesk meters template` prints: the header, then `notes` and the example row as
/// comment lines, which the importer skips; removing the `# ` keeps the example.
pub fn template(notes: &[&str]) -> String {
    commented(METER_CSV_TEMPLATE, notes, EXAMPLE_ROW)
}

/// A template: the `header`, then `notes` and the `example` row as comment lines.
pub fn commented(header: &str, notes: &[&str], example: &str) -> String {
    let mut text = String::from(header);
    for line in notes.iter().chain([&example]) {
        text.push_str(&format!("{COMMENT} {line}\n"));
    }
    text
}

const COLUMNS: usize = 4;
/// Longest meter number: it travels in 12 ASCII bytes on the card.
pub const METER_NO_MAX: usize = 12;

/// A meter number as the schema holds it: 1–12 of `0-9`, `A-Z` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MeterNo(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeterNoError {
    #[error("a meter number is 1 to 12 characters")]
    Length,
    #[error("a meter number has digits, capital letters and '-' only, not {0:?}")]
    Character(char),
}

impl MeterNo {
    /// Trimmed; lowercase letters are read as capitals (meter plates print capitals), and
    /// full-width characters as their ASCII twins (`validation::halfwidth_text`), as the
    /// forms and the search read a meter number.
    pub fn parse(text: &str) -> Result<Self, MeterNoError> {
        let text = validation::halfwidth_text(text).trim().to_ascii_uppercase();
        if let Some(bad) = text
            .chars()
            .find(|&c| !(c.is_ascii_digit() || c.is_ascii_uppercase() || c == '-'))
        {
            return Err(MeterNoError::Character(bad));
        }
        if text.is_empty() || text.len() > METER_NO_MAX {
            return Err(MeterNoError::Length);
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A meter type's caliber as the schema holds it: `DN` and the nominal diameter in mm, typed
/// in any case (`dn15` is `DN15`).
/// None when it is not one.
pub fn caliber(text: &str) -> Option<String> {
    let caliber = text.trim().to_ascii_uppercase();
    let digits = caliber.strip_prefix("DN")?;
    (!digits.is_empty() && digits.len() <= 4 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(caliber)
}

/// Which reading column a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Electronic,
    Mechanical,
}

/// What is wrong with a line of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    #[error("the first line must be the header {:?}", METER_CSV_TEMPLATE.trim_end())]
    Header,
    #[error("{found} columns, the template has 4")]
    ColumnCount { found: usize },
    #[error("a quoted field is not closed on its line")]
    UnclosedQuote,
    #[error("a quote inside an unquoted field, or text after a closing quote")]
    StrayQuote,
    #[error("meter number: {0}")]
    MeterNo(MeterNoError),
    #[error("no meter type is called {0:?}")]
    UnknownMeterType(String),
    #[error("{column:?} reading: {error}")]
    Reading { column: Reading, error: FieldError },
    #[error("meter number {meter_no} is also on line(s) {other_lines:?}")]
    DuplicateInFile {
        meter_no: String,
        other_lines: Vec<usize>,
    },
    #[error("meter number {0} is already in the database")]
    AlreadyInDatabase(String),
    #[error("the line is not UTF-8 text")]
    NotUtf8,
}

/// A problem and the line (1-based) it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub problem: LineProblem,
}

/// A good line: a meter to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterRow {
    pub line: usize,
    pub meter_no: MeterNo,
    pub meter_type_id: i64,
    pub initial_electronic_reading: Volume,
    pub initial_mechanical_reading: Volume,
}

/// The file read: the good rows, and every problem of the others, in line order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeterCsv {
    pub rows: Vec<MeterRow>,
    pub errors: Vec<LineError>,
}

/// Meter type names as the file may spell them: exactly, or in another case when that is
/// unambiguous.
pub struct MeterTypeNames {
    exact: HashMap<String, i64>,
    /// None: two types differ only in case.
    folded: HashMap<String, Option<i64>>,
}

impl MeterTypeNames {
    pub fn new<'a>(types: impl IntoIterator<Item = (&'a str, i64)>) -> Self {
        let mut exact = HashMap::new();
        let mut folded = HashMap::new();
        for (name, id) in types {
            exact.insert(name.to_owned(), id);
            folded
                .entry(name.to_lowercase())
                .and_modify(|seen| *seen = None)
                .or_insert(Some(id));
        }
        Self { exact, folded }
    }

    fn find(&self, name: &str) -> Option<i64> {
        self.exact
            .get(name)
            .copied()
            .or_else(|| self.folded.get(&name.to_lowercase()).copied().flatten())
    }
}

/// How many lines have problems: a line with two problems is one bad line.
pub fn bad_lines(errors: &[LineError]) -> usize {
    errors
        .iter()
        .map(|error| error.line)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// Reads a meter import file's bytes against the known meter types: a line that is not UTF-8
/// is a problem of that line, the others are read as [`parse_meter_csv`] reads them.
pub fn parse_meter_file(bytes: &[u8], types: &MeterTypeNames) -> MeterCsv {
    let (text, not_utf8) = super::csv::utf8_lines(bytes);
    let mut csv = parse_meter_csv(&text, types);
    csv.errors
        .extend(not_utf8.into_iter().map(|line| LineError {
            line,
            problem: LineProblem::NotUtf8,
        }));
    csv.errors.sort_by_key(|error| error.line);
    csv
}

/// Reads a meter import file against the known meter types.
pub fn parse_meter_csv(text: &str, types: &MeterTypeNames) -> MeterCsv {
    let mut lines = super::csv::numbered_lines(text);
    let mut csv = MeterCsv::default();
    let header_ok = lines
        .next()
        .is_some_and(|(_, header)| is_header(header, METER_CSV_TEMPLATE));
    if !header_ok {
        // Without the header the columns cannot be trusted to be in the template's order.
        csv.errors.push(LineError {
            line: 1,
            problem: LineProblem::Header,
        });
        return csv;
    }
    let mut rows = Vec::new();
    let mut claims: HashMap<MeterNo, Vec<usize>> = HashMap::new();
    for (line, text) in lines.filter(|(_, text)| holds_a_meter(text)) {
        let fields = split_fields(text);
        // A number that appears twice means the file disagrees with itself, and neither line
        // is trusted, whatever else is wrong on them.
        if let Some(number) = claimed_number(&fields) {
            claims.entry(number).or_default().push(line);
        }
        match fields
            .map_err(|problem| vec![problem])
            .and_then(|fields| parse_row(line, fields, types))
        {
            Ok(row) => rows.push(row),
            Err(problems) => csv.errors.extend(
                problems
                    .into_iter()
                    .map(|problem| LineError { line, problem }),
            ),
        }
    }
    for row in rows {
        let lines = &claims[&row.meter_no];
        if lines.len() == 1 {
            csv.rows.push(row);
        } else {
            csv.errors.push(duplicate(&row.meter_no, row.line, lines));
        }
    }
    // Bad lines that also share a number: say so too, so fixing one problem does not reveal
    // another.
    for (meter_no, lines) in claims.iter().filter(|(_, lines)| lines.len() > 1) {
        for &line in lines {
            let reported = csv.errors.iter().any(|error| {
                error.line == line && matches!(error.problem, LineProblem::DuplicateInFile { .. })
            });
            if !reported {
                csv.errors.push(duplicate(meter_no, line, lines));
            }
        }
    }
    csv.errors.sort_by_key(|error| error.line);
    csv
}

/// Whether `line` is the header `template` (its column names in order, in any case).
pub fn is_header(line: &str, template: &str) -> bool {
    split_fields(line).is_ok_and(|fields| {
        fields
            .iter()
            .map(|field| field.to_ascii_lowercase())
            .eq(template.trim_end().split(','))
    })
}

/// A volume column: m³, not negative, at most 3 decimals.
pub fn volume_field(text: &str) -> Result<Volume, FieldError> {
    validation::volume(text, MAX_VOLUME).and_then(|volume| {
        Volume::exact(volume).map_err(|error| FieldError::TooManyDecimals {
            max: error.decimals,
        })
    })
}

/// Whether a line after the header is one the importer reads: neither blank nor a comment.
pub fn holds_a_meter(line: &str) -> bool {
    let line = line.trim_start();
    !line.is_empty() && !line.starts_with(COMMENT)
}

fn duplicate(meter_no: &MeterNo, line: usize, lines: &[usize]) -> LineError {
    LineError {
        line,
        problem: LineProblem::DuplicateInFile {
            meter_no: meter_no.as_str().to_owned(),
            other_lines: lines.iter().copied().filter(|&l| l != line).collect(),
        },
    }
}

/// The meter number a line claims, if it has the template's columns and a readable number.
fn claimed_number(fields: &Result<Vec<String>, LineProblem>) -> Option<MeterNo> {
    match fields {
        Ok(fields) if fields.len() == COLUMNS => MeterNo::parse(&fields[0]).ok(),
        _ => None,
    }
}

/// One data line, or all of its problems.
fn parse_row(
    line: usize,
    fields: Vec<String>,
    types: &MeterTypeNames,
) -> Result<MeterRow, Vec<LineProblem>> {
    let [meter_no, meter_type, electronic, mechanical] = super::csv::exactly::<COLUMNS>(fields)
        .map_err(|found| vec![LineProblem::ColumnCount { found }])?;
    let mut problems = Vec::new();
    let meter_no = MeterNo::parse(&meter_no)
        .map_err(|error| problems.push(LineProblem::MeterNo(error)))
        .ok();
    let meter_type_id = types
        .find(meter_type.trim())
        .ok_or_else(|| problems.push(LineProblem::UnknownMeterType(meter_type.trim().to_owned())))
        .ok();
    let mut reading = |column, text: &str| {
        validation::optional(text, volume_field)
            .map(Option::unwrap_or_default)
            .map_err(|error| problems.push(LineProblem::Reading { column, error }))
            .ok()
    };
    let electronic = reading(Reading::Electronic, &electronic);
    let mechanical = reading(Reading::Mechanical, &mechanical);
    match (meter_no, meter_type_id, electronic, mechanical) {
        (Some(meter_no), Some(meter_type_id), Some(electronic), Some(mechanical)) => Ok(MeterRow {
            line,
            meter_no,
            meter_type_id,
            initial_electronic_reading: electronic,
            initial_mechanical_reading: mechanical,
        }),
        _ => Err(problems),
    }
}

/// Splits a line at commas outside quotes; quoted fields lose their quotes, `""` is a quote.
pub fn split_fields(line: &str) -> Result<Vec<String>, LineProblem> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
        let mut field = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    None => return Err(LineProblem::UnclosedQuote),
                    Some('"') if chars.next_if_eq(&'"').is_some() => field.push('"'),
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
            if chars.peek().is_some_and(|&c| c != ',') {
                return Err(LineProblem::StrayQuote);
            }
        } else {
            while let Some(c) = chars.next_if(|&c| c != ',') {
                if c == '"' {
                    return Err(LineProblem::StrayQuote);
                }
                field.push(c);
            }
            field.truncate(field.trim_end().len());
        }
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn types() -> MeterTypeNames {
        MeterTypeNames::new([("Card DN15", 1), ("plain, DN20", 2), ("X", 3), ("x", 4)])
    }

    fn parse(body: &str) -> MeterCsv {
        parse_meter_csv(&format!("{METER_CSV_TEMPLATE}{body}"), &types())
    }

    fn m3(text: &str) -> Volume {
        text.parse().unwrap()
    }

    fn problems(csv: &MeterCsv) -> Vec<(usize, LineProblem)> {
        csv.errors
            .iter()
            .map(|error| (error.line, error.problem.clone()))
            .collect()
    }

    #[test]
    fn meter_numbers() {
        assert_eq!(MeterNo::parse(" ab-12 ").unwrap().as_str(), "AB-12");
        // Typed full-width by an input method: its ASCII twin, the ideographic space trimmed.
        assert_eq!(
            MeterNo::parse("\u{3000}ａｂ－１２").unwrap().as_str(),
            "AB-12"
        );
        assert_eq!(MeterNo::parse(""), Err(MeterNoError::Length));
        assert_eq!(MeterNo::parse("1234567890123"), Err(MeterNoError::Length));
        assert_eq!(MeterNo::parse("A B"), Err(MeterNoError::Character(' ')));
        assert_eq!(MeterNo::parse("Ä1"), Err(MeterNoError::Character('Ä')));
        assert_eq!(MeterNo::parse("12_3"), Err(MeterNoError::Character('_')));
        // s43-e and s44-e, by hand: a file typed with a Chinese input method on ("Ｗ-0001",
        // "２０１６…") was refused "not 'Ｗ'", where the search and the forms read it as ASCII.
        assert_eq!(MeterNo::parse("ｗ－０００１").unwrap().as_str(), "W-0001");
        assert_eq!(
            MeterNo::parse("２０１６０００００１０").unwrap().as_str(),
            "20160000010"
        );
    }

    #[test]
    fn bad_lines_are_counted_once_however_many_problems_they_have() {
        let bad_line = "M-1,Card DN15,-1,x\n";
        let csv = parse(&bad_line.repeat(3));
        assert_eq!(
            csv.errors.len(),
            3 * 2 + 3,
            "two readings and the duplicate each"
        );
        assert_eq!(bad_lines(&csv.errors), 3);
    }

    #[test]
    fn a_line_that_is_not_utf8_is_named_and_the_others_are_read() {
        let mut file = METER_CSV_TEMPLATE.as_bytes().to_vec();
        file.extend_from_slice(b"M-1,Card DN15,0,0\nM-2,Card \xff,0,0\r\nM-3,Card DN15,1,\n");
        let csv = parse_meter_file(&file, &types());
        assert_eq!(
            csv.errors,
            [LineError {
                line: 3,
                problem: LineProblem::NotUtf8
            }]
        );
        let lines: Vec<usize> = csv.rows.iter().map(|row| row.line).collect();
        assert_eq!(lines, [2, 4]);
    }

    #[test]
    fn good_rows_are_read() {
        let csv = parse_meter_csv(
            "\u{feff}Meter_No, meter_type ,initial_electronic_reading,initial_mechanical_reading\r\n\
             M-1,Card DN15,0,0\r\n\
             \r\n\
             m-2 , \"plain, DN20\" , 12.5,\r\n",
            &types(),
        );
        assert_eq!(csv.errors, []);
        assert_eq!(
            csv.rows,
            [
                MeterRow {
                    line: 2,
                    meter_no: MeterNo::parse("M-1").unwrap(),
                    meter_type_id: 1,
                    initial_electronic_reading: m3("0.000"),
                    initial_mechanical_reading: m3("0.000"),
                },
                MeterRow {
                    line: 4,
                    meter_no: MeterNo::parse("M-2").unwrap(),
                    meter_type_id: 2,
                    initial_electronic_reading: m3("12.500"),
                    initial_mechanical_reading: Volume::ZERO,
                },
            ]
        );
    }

    #[test]
    fn comment_lines_are_skipped_and_lines_keep_their_numbers() {
        let csv = parse("# a note, with \"quotes\n  #M-1,Card DN15,0,0\nM-2,Card DN15,0,0\n#\n");
        assert_eq!(csv.errors, []);
        let lines: Vec<_> = csv
            .rows
            .iter()
            .map(|row| (row.line, row.meter_no.as_str()))
            .collect();
        assert_eq!(lines, [(4, "M-2")]);
    }

    /// The template imports nothing as printed, and its example is a good row once the `# `
    /// is removed (with the demo data's meter types).
    #[test]
    fn the_template_round_trips_through_the_importer() {
        let notes = [
            "Columns, in order: \"meter_no\"…",
            "# not a row",
            "blank is 0",
        ];
        let printed = template(&notes);
        assert!(printed.starts_with(METER_CSV_TEMPLATE), "{printed}");
        let demo_types =
            MeterTypeNames::new([("IC卡水表 DN15 宁波", 7), ("机械水表 DN15 宁波", 8)]);
        assert_eq!(parse_meter_csv(&printed, &demo_types), MeterCsv::default());

        let kept = printed.replace(&format!("# {EXAMPLE_ROW}"), EXAMPLE_ROW);
        assert_ne!(kept, printed, "the example is one of the comment lines");
        let csv = parse_meter_csv(&kept, &demo_types);
        assert_eq!(csv.errors, []);
        assert_eq!(
            csv.rows,
            [MeterRow {
                line: notes.len() + 2,
                meter_no: MeterNo::parse("A-000123").unwrap(),
                meter_type_id: 7,
                initial_electronic_reading: m3("12.5"),
                initial_mechanical_reading: Volume::ZERO,
            }]
        );
    }

    #[test]
    fn meter_type_names_match_in_any_case_unless_ambiguous() {
        let csv = parse("A,card dn15,0,0\nB,X,0,0\nC,x,0,0\nD,Y,0,0\n");
        let ids: Vec<i64> = csv.rows.iter().map(|row| row.meter_type_id).collect();
        assert_eq!(ids, [1, 3, 4]);
        assert_eq!(
            problems(&parse("A,Card  DN15,0,0\n")),
            [(2, LineProblem::UnknownMeterType("Card  DN15".to_owned()))]
        );
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line_and_reasons() {
        let csv = parse(
            "GOOD-1,X,1,2\n\
             TOO-LONG-NUMBER,Nope,-1,abc\n\
             A,X,0\n\
             B,X,0,0,0\n\
             \"C,D\",X,0,0\n\
             \"E,X,0,0\n\
             F\"G,X,0,0\n\
             \"H\"x,X,0,0\n\
             I,X,1.0001,1000000000\n\
             J,X,\"1,000.5\",0\n",
        );
        assert_eq!(
            csv.rows
                .iter()
                .map(|row| row.meter_no.as_str())
                .collect::<Vec<_>>(),
            ["GOOD-1", "J"]
        );
        assert_eq!(csv.rows[1].initial_electronic_reading, m3("1000.500"));
        assert_eq!(
            problems(&csv),
            [
                (3, LineProblem::MeterNo(MeterNoError::Length)),
                (3, LineProblem::UnknownMeterType("Nope".to_owned())),
                (
                    3,
                    LineProblem::Reading {
                        column: Reading::Electronic,
                        error: FieldError::Negative
                    }
                ),
                (
                    3,
                    LineProblem::Reading {
                        column: Reading::Mechanical,
                        error: FieldError::NotANumber {
                            example: rust_decimal::Decimal::new(1_234_567, 3)
                        }
                    }
                ),
                (4, LineProblem::ColumnCount { found: 3 }),
                (5, LineProblem::ColumnCount { found: 5 }),
                (6, LineProblem::MeterNo(MeterNoError::Character(','))),
                (7, LineProblem::UnclosedQuote),
                (8, LineProblem::StrayQuote),
                (9, LineProblem::StrayQuote),
                (
                    10,
                    LineProblem::Reading {
                        column: Reading::Electronic,
                        error: FieldError::TooManyDecimals { max: 3 }
                    }
                ),
                (
                    10,
                    LineProblem::Reading {
                        column: Reading::Mechanical,
                        error: FieldError::AboveMaximum { max: MAX_VOLUME }
                    }
                ),
            ]
        );
    }

    #[test]
    fn every_line_of_a_duplicated_number_is_bad() {
        let csv = parse("A,X,0,0\nB,X,0,0\na,X,5,5\nA,Nope,0,0\n");
        assert_eq!(csv.rows.len(), 1);
        assert_eq!(csv.rows[0].meter_no.as_str(), "B");
        let dup = |other_lines: Vec<usize>| LineProblem::DuplicateInFile {
            meter_no: "A".to_owned(),
            other_lines,
        };
        assert_eq!(
            problems(&csv),
            [
                (2, dup(vec![4, 5])),
                (4, dup(vec![2, 5])),
                (5, LineProblem::UnknownMeterType("Nope".to_owned())),
                (5, dup(vec![2, 4])),
            ]
        );
    }

    #[test]
    fn a_file_without_the_header_is_refused_whole() {
        for text in ["", "A,X,0,0\n", "meter_type,meter_no,a,b\n", "\"meter_no\n"] {
            let csv = parse_meter_csv(text, &types());
            assert_eq!(csv.rows, []);
            assert_eq!(problems(&csv), [(1, LineProblem::Header)], "{text:?}");
        }
        assert_eq!(parse(""), MeterCsv::default());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Whatever the file holds, the parser answers, and accounts for every data line:
        /// each line neither blank nor a comment is either a row or has a problem, never both.
        #[test]
        fn the_parser_never_panics_and_never_keeps_half_a_row(
            body in prop::collection::vec(
                prop_oneof![
                    any::<String>(),
                    "[A-Za-z0-9 \",.-]{0,30}",
                    "\"?[A-Z0-9-]{0,14}\"?,(Card DN15|X|\"plain, DN20\"|\"),-?[0-9]{0,4}(\\.[0-9]{0,4})?,[0-9., ]{0,6}",
                ],
                0..20,
            )
        ) {
            let text = format!("{METER_CSV_TEMPLATE}{}", body.join("\n"));
            let csv = parse_meter_csv(&text, &types());
            for row in &csv.rows {
                prop_assert!(csv.errors.iter().all(|error| error.line != row.line));
            }
            let accounted = |line: usize| {
                csv.rows.iter().any(|row| row.line == line)
                    || csv.errors.iter().any(|error| error.line == line)
            };
            for (index, line) in text.lines().enumerate().skip(1) {
                prop_assert!(!holds_a_meter(line) || accounted(index + 1), "line {}: {:?}", index + 1, line);
            }
        }
    }

    #[test]
    fn calibers_are_dn_and_digits() {
        assert_eq!(caliber(" dn15 "), Some("DN15".to_owned()));
        assert_eq!(caliber("DN200"), Some("DN200".to_owned()));
        for bad in ["", "DN", "15", "DN1 5", "DN12345", "xDN15"] {
            assert_eq!(caliber(bad), None, "{bad:?}");
        }
    }
}
