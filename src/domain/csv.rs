//! Writing CSV as RFC 4180 has it: fields separated by commas, records ended by CRLF, and a
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_or_line_breaks_are_quoted() {
        assert_eq!(record(&["1", "plain"]), "1,plain\r\n");
        assert_eq!(
            record(&["a,b", "say \"hi\"", "two\nlines", "cr\r", ""]),
            "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",\r\n"
        );
    }
}
