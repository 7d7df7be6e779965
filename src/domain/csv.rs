//! Reading a file's lines (a line that is not UTF-8 is that line's problem), and writing CSV
//! as RFC 4180 has it: fields separated by commas, records ended by CRLF, and a
//! field that holds a comma, a quote or a line break enclosed in quotes, its quotes doubled.

/// One record: the fields quoted where needed, separated by commas, ended by CRLF.
pub fn record<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line = fields
        .iter()
        .map(|field| quoted(field.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// `field` as it is written: as it is, or in quotes with its quotes doubled.
fn quoted(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// A file's bytes as text, line by line: a line that is not UTF-8 is left blank, and its
/// number (1-based) is returned, so a reader can name the line instead of refusing the file.
/// Line numbers are kept: a blank line stands where each bad one was. A comment line (its
/// first byte other than a space or a tab `#`, ASCII in GBK too) is a comment whatever its
/// text: it is kept as `#`, not named.
pub fn utf8_lines(bytes: &[u8]) -> (String, Vec<usize>) {
    let mut bad = Vec::new();
    let lines: Vec<&str> = bytes
        .split(|&byte| byte == b'\n')
        .enumerate()
        .map(|(index, line)| {
            std::str::from_utf8(line).unwrap_or_else(|_| {
                let comment = line
                    .iter()
                    .find(|&&byte| byte != b' ' && byte != b'\t')
                    .is_some_and(|&byte| byte == b'#');
                if comment {
                    return "#";
                }
                bad.push(index + 1);
                ""
            })
        })
        .collect();
    (lines.join("\n"), bad)
}

/// A line's fields, when it has exactly `N` of them; `Err`: how many it has.
pub fn exactly<const N: usize>(fields: Vec<String>) -> Result<[String; N], usize> {
    <[String; N]>::try_from(fields).map_err(|fields| fields.len())
}

/// An import file's lines numbered from 1, without the byte-order mark a spreadsheet may put
/// before the first.
pub fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_is_not_utf8_is_blanked_and_named() {
        let (text, bad) = utf8_lines(b"head\r\nok \xe6\xb0\xb4\n\xff bad\r\nlast");
        assert_eq!(text, "head\r\nok 水\n\nlast");
        assert_eq!(bad, [3]);
        assert_eq!(utf8_lines(b"fine\n"), ("fine\n".to_owned(), Vec::new()));
    }

    /// A comment written by a Chinese Windows editor (GBK: "# 水表" is `# \xcb\xae\xb1\xed`) is
    /// a comment, not a line that is not UTF-8 (s35-f, found: the meter import counted it bad).
    #[test]
    fn a_comment_line_that_is_not_utf8_is_a_comment() {
        let (text, bad) =
            utf8_lines(b"head\n# \xcb\xae\xb1\xed\r\n  #\xb1\xed\nA-1 \xcb\xae\xb1\xed\n");
        assert_eq!(bad, vec![4]);
        assert_eq!(text, "head\n#\n#\n\n");
    }

    #[test]
    fn fields_with_commas_quotes_or_line_breaks_are_quoted() {
        assert_eq!(record(&["1", "plain"]), "1,plain\r\n");
        assert_eq!(
            record(&["a,b", "say \"hi\"", "two\nlines", "cr\r", ""]),
            "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",\r\n"
        );
    }
}
