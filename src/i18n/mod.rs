//! All user-facing text, one catalogue file per language (`en.toml`, `zh.toml`), so a third
//! language is a file, not a code change. A text's key is `section.name` (a TOML table and a
//! key in it); placeholders are `{name}`.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// A language of the user interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Zh,
}

const CATALOGUES: [(Lang, &str); 2] = [
    (Lang::En, include_str!("en.toml")),
    (Lang::Zh, include_str!("zh.toml")),
];

type Catalogue = HashMap<String, String>;

fn catalogues() -> &'static HashMap<Lang, Catalogue> {
    static LOADED: OnceLock<HashMap<Lang, Catalogue>> = OnceLock::new();
    LOADED.get_or_init(|| {
        CATALOGUES
            .iter()
            .map(|(lang, text)| {
                let sections: HashMap<String, HashMap<String, String>> = toml::from_str(text)
                    .unwrap_or_else(|err| panic!("catalogue {lang:?} is malformed: {err}"));
                let catalogue = sections
                    .into_iter()
                    .flat_map(|(section, texts)| {
                        texts
                            .into_iter()
                            .map(move |(key, text)| (format!("{section}.{key}"), text))
                    })
                    .collect();
                (*lang, catalogue)
            })
            .collect()
    })
}

impl Lang {
    /// Every language, in the order `:lang` cycles through them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// `zh_CN.UTF-8` → Chinese; anything else → English.
    pub fn from_locale(locale: &str) -> Lang {
        if locale.to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    /// The code used in config.toml and on the command line.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The text for `key`; English when this language lacks it, the key itself when both do
    /// (a test keeps that from happening).
    pub fn t(self, key: &str) -> &'static str {
        let all = catalogues();
        [self, Lang::En]
            .iter()
            .find_map(|lang| all[lang].get(key))
            .map_or_else(|| leak(key), |text| text.as_str())
    }

    /// The text for `key` with each `{name}` replaced by its value.
    pub fn tf(self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        fill_args(self.t(key), args)
    }

    /// Permissions (`role_permission` codes) by their names in words, joined by "or": what a
    /// refusal names, never the code itself (unless the catalogue has no name for it).
    pub fn permission_names(self, codes: &[&str]) -> String {
        codes
            .iter()
            .map(|code| self.permission_name(code))
            .collect::<Vec<_>>()
            .join(self.t("permission_name.or"))
    }

    /// A permission by its name in words; one the catalogue does not know by its code.
    pub fn permission_name(self, code: &str) -> String {
        self.name_of(&format!("permission_name.{}", code.replace('.', "_")), code)
    }

    /// A meterdesk role by its name; a role the catalogue does not know by its code.
    pub fn role_name(self, code: &str) -> String {
        self.name_of(&format!("role_name.{code}"), code)
    }

    /// Roles (codes) by their names, as a list.
    pub fn roles_named(self, codes: &[String]) -> String {
        let names: Vec<String> = codes.iter().map(|code| self.role_name(code)).collect();
        self.list(&names)
    }

    /// Names as a list, as this language writes one (`a, b`; Chinese `a、b`).
    pub fn list(self, items: &[impl AsRef<str>]) -> String {
        let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
        items.join(self.t("punct.list"))
    }

    /// `main (aside)`, in this language's parentheses (Chinese writes them full-width).
    pub fn aside(self, main: &str, aside: &str) -> String {
        self.tf("punct.aside", &[("main", &main), ("aside", &aside)])
    }

    /// `label: value`, in this language's colon.
    pub fn labelled(self, label: &str, value: &str) -> String {
        self.tf("punct.labelled", &[("label", &label), ("value", &value)])
    }

    /// An audit action (`customer.open`) by its name; one the catalogue does not know by its
    /// code.
    pub fn audit_action(self, code: &str) -> String {
        self.name_of(&format!("audit_action.{}", code.replace('.', "_")), code)
    }

    /// A key of an audit entry's detail (`customer_no`), named; unknown keys as themselves.
    pub fn audit_detail(self, key: &str) -> String {
        self.name_of(&format!("audit_detail.{key}"), key)
    }

    /// The text of `key`, or `code` itself when the catalogue has none: role and permission
    /// codes are plain `[a-z_.]` (sql/V1's checks), safe to show as they are.
    fn name_of(self, key: &str, code: &str) -> String {
        match self.t(key) {
            text if text == key => code.to_owned(),
            text => text.to_owned(),
        }
    }
}

/// `text` with each `{name}` replaced by its value, and each `{name|one|other}` by `one` when
/// the value is 1, else by `other`: English counts say "1 key", "2 keys" (a language without
/// plurals writes none).
pub fn fill_args(text: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
    args.iter().fold(text.to_owned(), |text, (name, value)| {
        let value = value.to_string();
        let text = text.replace(&format!("{{{name}}}"), &value);
        plural_forms(&text, name, value == "1")
    })
}

/// `text` with each `{name|one|other}` replaced by the form the count (`one` or not) takes.
fn plural_forms(text: &str, name: &str, one: bool) -> String {
    let opening = format!("{{{name}|");
    let mut filled = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(&opening) {
        let forms = &rest[start + opening.len()..];
        let Some(end) = forms.find('}') else { break };
        let (singular, plural) = forms[..end].split_once('|').unwrap_or((&forms[..end], ""));
        filled.push_str(&rest[..start]);
        filled.push_str(if one { singular } else { plural });
        rest = &forms[end + 1..];
    }
    filled.push_str(rest);
    filled
}

/// Missing keys are shown as themselves; leaking is bounded by the number of distinct keys.
fn leak(key: &str) -> &'static str {
    static MISSING: OnceLock<std::sync::Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut missing = MISSING
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    missing
        .entry(key.to_owned())
        .or_insert_with(|| Box::leak(key.to_owned().into_boxed_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(lang: Lang) -> BTreeSet<&'static String> {
        catalogues()[&lang].keys().collect()
    }

    #[test]
    fn no_text_names_a_rebindable_key_itself() {
        // Key names come from the live keymap through `{key:command}` (`KeyMap::fill`), so a
        // rebinding in [ui.keys] cannot leave a text naming the old key. Enter is not
        // rebindable: it moves through a form's fields.
        let is_key = |word: &str| {
            matches!(word, "Esc" | "Tab" | "Shift-Tab" | "PgDn" | "PgUp")
                || word.starts_with("Ctrl-")
                || word
                    .strip_prefix('F')
                    .and_then(|n| n.parse::<u8>().ok())
                    .is_some_and(|n| (1..=24).contains(&n))
        };
        // The price preview's Tab is that key itself, not next-field (`SchemeView::on_key`).
        const LITERAL_KEYS: [&str; 1] = ["ref.preview_hint"];
        for lang in Lang::ALL {
            for (key, text) in &catalogues()[&lang] {
                if LITERAL_KEYS.contains(&key.as_str()) {
                    continue;
                }
                let mut plain = text.clone();
                while let Some(start) = plain.find("{key") {
                    let end = plain[start..]
                        .find('}')
                        .map_or(plain.len(), |e| start + e + 1);
                    plain.replace_range(start..end, "");
                }
                let named: Vec<_> = plain
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                    .filter(|word| is_key(word))
                    .collect();
                assert!(named.is_empty(), "{lang:?} {key} names {named:?}: {text}");
            }
        }
    }

    #[test]
    fn every_language_has_every_key() {
        let english = keys(Lang::En);
        for lang in Lang::ALL {
            let translated = keys(lang);
            let missing: Vec<_> = english.difference(&translated).collect();
            let extra: Vec<_> = translated.difference(&english).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{lang:?}: missing {missing:?}, extra {extra:?}"
            );
        }
    }

    /// Every string literal in the code shaped like a catalogue key (`section.name`, with a
    /// section the catalogue has) exists in the English catalogue.
    #[test]
    fn every_key_used_in_the_code_exists() {
        let english = keys(Lang::En);
        let sections: BTreeSet<&str> = english.iter().filter_map(|k| k.split('.').next()).collect();
        let mut used = Vec::new();
        let src = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
        collect_keys(src, &sections, &mut used);
        assert!(used.len() > 40, "the scan found too few keys: {used:?}");
        // A literal ending in `_` is the prefix of a family of keys (`details.nature_` +
        // a stored code): at least one key must start with it.
        let missing: Vec<_> = used
            .iter()
            .filter(|key| match key.strip_suffix('_') {
                Some(_) => !english.iter().any(|known| known.starts_with(key.as_str())),
                None => !english.contains(key),
            })
            .collect();
        assert!(missing.is_empty(), "keys missing from en.toml: {missing:?}");
    }

    fn collect_keys(dir: &std::path::Path, sections: &BTreeSet<&str>, used: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect_keys(&path, sections, used);
            } else if path.extension().is_some_and(|ext| ext == "rs")
                // config.toml's keys (`customers.id_documents`) are not the catalogue's.
                && !path.ends_with("src/config.rs")
            {
                let source = std::fs::read_to_string(&path).unwrap();
                let literals = source.split('"').skip(1).step_by(2);
                used.extend(
                    literals
                        .filter(|text| {
                            text.split_once('.').is_some_and(|(section, name)| {
                                sections.contains(section)
                                    && !name.is_empty()
                                    && name.bytes().all(|b| {
                                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
                                    })
                            })
                        })
                        .map(str::to_owned),
                );
            }
        }
    }

    #[test]
    fn permissions_and_roles_are_named_in_words_in_the_desks_language() {
        let meters = ["meter.maintain", "meter.import"];
        assert_eq!(
            Lang::En.permission_names(&meters),
            "maintain meter types, uninstalled meters or import meters from a file"
        );
        assert_eq!(
            Lang::Zh.permission_names(&meters),
            "维护水表类型、未安装的水表或从文件导入水表"
        );
        assert_eq!(Lang::En.permission_names(&["no.such"]), "no.such");
        let roles = [
            "clerk".to_owned(),
            "supervisor".to_owned(),
            "cashier".to_owned(),
        ];
        assert_eq!(Lang::En.roles_named(&roles), "Clerk, Supervisor, cashier");
        assert_eq!(Lang::Zh.roles_named(&roles), "收费员、主管、cashier");
        assert_eq!(Lang::Zh.aside("居民", "个人"), "居民（个人）");
        assert_eq!(Lang::En.labelled("Name", "Li"), "Name: Li");
        assert_eq!(Lang::Zh.audit_action("customer.open"), "开户");
        assert_eq!(Lang::Zh.audit_action("plugin.thing"), "plugin.thing");
    }

    /// The string literals of an SQL statement, each with its byte span.
    fn literals(statement: &str) -> Vec<(usize, usize, String)> {
        let mut found = Vec::new();
        let mut chars = statement.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            if c != '\'' {
                continue;
            }
            let mut text = String::new();
            let mut end = start;
            while let Some((at, c)) = chars.next() {
                end = at + 1;
                match (c, chars.peek()) {
                    ('\'', Some((_, '\''))) => {
                        chars.next();
                        text.push('\'');
                    }
                    ('\'', _) => break,
                    (c, _) => text.push(c),
                }
            }
            found.push((start, end, text));
        }
        found
    }

    /// Whether the literal at `start` is a key of the `jsonb_build_object(…)` it sits in: an
    /// even count of commas before it in the call (parentheses in literals are not counted;
    /// the migrations' audit inserts have none).
    fn object_key(statement: &str, start: usize) -> bool {
        let (mut depth, mut commas) = (0, 0);
        for (at, c) in statement[..start].char_indices().rev() {
            match c {
                ')' => depth += 1,
                '(' if depth == 0 => {
                    let call = statement[..at].trim_end().to_lowercase();
                    return call.ends_with("jsonb_build_object") && commas % 2 == 0;
                }
                '(' => depth -= 1,
                ',' if depth == 0 => commas += 1,
                _ => {}
            }
        }
        false
    }

    /// s46-f, from the review: V280's `installation.zone` entry (entity `installation`, keys
    /// `utility_zone`, `was`) showed its raw codes on `:audit`, since no test read the SQL: the
    /// screens' tests name the entries they list by hand. Every action, entity and detail key
    /// an `INSERT INTO audit_log` of any migration writes as a literal (the action and entity
    /// side by side, the keys of its `jsonb_build_object`) has words in both languages.
    #[test]
    fn every_action_entity_and_detail_key_the_sql_writes_has_words() {
        let code = |text: &str| {
            !text.is_empty() && text.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        };
        let mut missing = BTreeSet::new();
        let sql = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
        let mut inserts = 0;
        for file in std::fs::read_dir(&sql).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text: String = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(|line| line.split("--").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            let lower = text.to_lowercase();
            for (at, _) in lower.match_indices("insert into ") {
                let rest = &lower[at + "insert into ".len()..];
                let table = rest.trim_start_matches("public.");
                if !table.starts_with("audit_log ") && !table.starts_with("audit_log(") {
                    continue;
                }
                inserts += 1;
                let statement = &text[at..at + lower[at..].find(';').unwrap_or(lower.len() - at)];
                let found = literals(statement);
                let between = |end: usize, start: usize| statement[end..start].trim();
                for pair in found.windows(2) {
                    let [(_, end, action), (start, _, entity)] = pair else {
                        continue;
                    };
                    let (first, second) = action.split_once('.').unwrap_or(("", ""));
                    if code(first) && code(second) && between(*end, *start) == "," && code(entity) {
                        let key = format!("audit_action.{}", action.replace('.', "_"));
                        let entity_key = format!("audit_log.entity_{entity}");
                        for key in [key, entity_key] {
                            missing.insert((key, name.clone()));
                        }
                    }
                }
                for (start, end, key) in &found {
                    let after = statement[*end..].trim_start();
                    if code(key) && after.starts_with(',') && object_key(statement, *start) {
                        missing.insert((format!("audit_detail.{key}"), name.clone()));
                    }
                }
            }
        }
        assert!(inserts > 50, "the audit log's inserts found: {inserts}");
        missing.retain(|(key, _)| {
            [Lang::En, Lang::Zh]
                .iter()
                .any(|lang| !catalogues()[lang].contains_key(key))
        });
        assert!(missing.is_empty(), "no words for: {missing:#?}");
    }

    #[test]
    fn a_count_takes_its_plural_form() {
        let text = "{count} {count|key|keys} and {n} {n|bill|bills}; {count}";
        assert_eq!(
            fill_args(text, &[("count", &1), ("n", &2)]),
            "1 key and 2 bills; 1"
        );
        assert_eq!(
            fill_args(text, &[("count", &0), ("n", &1)]),
            "0 keys and 1 bill; 0"
        );
        assert_eq!(
            fill_args("{count|key|keys", &[("count", &1)]),
            "{count|key|keys"
        );
    }

    /// No English text says "1 keys": a count's noun takes its plural form
    /// (`{count|key|keys}`).
    #[test]
    fn no_english_count_is_a_plural_of_one() {
        let nouns = [
            "keys",
            "meters",
            "lines",
            "rows",
            "days",
            "columns",
            "entries",
            "digits",
            "decimals",
            "customers",
        ];
        for (key, text) in &catalogues()[&Lang::En] {
            for count in [
                "count", "total", "bad", "good", "meters", "found", "rows", "max",
            ] {
                for noun in nouns {
                    assert!(
                        !text.contains(&format!("{{{count}}} {noun}")),
                        "{key}: {{{count}}} {noun} says \"1 {noun}\" for one: {text}"
                    );
                }
            }
        }
    }

    /// No English text says "1 bill(s)": a count's noun takes its form (s44-d left "(s)" in
    /// fifteen texts).
    #[test]
    fn no_english_text_leaves_a_plural_to_the_reader() {
        for (key, text) in &catalogues()[&Lang::En] {
            assert!(!text.contains("(s)"), "{key}: {text}");
        }
    }

    #[test]
    fn placeholders_are_filled_and_missing_keys_show_themselves() {
        let unknown = "no such key";
        assert_eq!(Lang::En.t(unknown), unknown);
        assert_eq!(Lang::from_locale("zh_CN.UTF-8"), Lang::Zh);
        assert_eq!(Lang::from_locale("C.UTF-8"), Lang::En);
        let text = Lang::En.tf("login.welcome", &[("name", &"Li Ming")]);
        assert!(
            text.contains("Li Ming") && !text.contains("{name}"),
            "{text}"
        );
    }
}
