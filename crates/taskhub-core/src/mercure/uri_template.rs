//! Matching a string against an RFC 6570 URI template, as Mercure's topic selectors do:
//! `https://example.com/books/{id}` matches `https://example.com/books/1`.
//!
//! A string matches when some values of the template's variables expand to it. The
//! template is compiled once into a regular expression; the `regex` crate matches in
//! time linear in the topic, so no selector can make matching slow. The expression is a
//! little looser than the exact set of expansions in two ways nobody relies on: within
//! one `{…}`, variables may appear in any order or repeat, and exploded lists are not
//! told from exploded maps. It is never stricter: every expansion matches.

use regex::{Regex, RegexBuilder};

/// The most compiled regex a template may take; past it the selector matches exactly.
const COMPILED_SIZE_LIMIT: usize = 256 * 1024;
/// Longest `{var:N}` prefix bound compiled as such; longer ones are unbounded.
const MAX_PREFIX: u32 = 256;

/// A compiled template.
#[derive(Clone, Debug)]
pub(crate) struct UriTemplate(Regex);

impl UriTemplate {
    /// Compiles `template`, or `None` if it has no expression or is not a valid template
    /// (an unclosed `{`, a stray `}`, a reserved operator, a bad variable name).
    pub(crate) fn compile(template: &str) -> Option<Self> {
        if !template.contains('{') {
            return None;
        }
        let mut pattern = String::from("^");
        let mut rest = template;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return None;
            }
            pattern.push_str(&regex::escape(&rest[..open]));
            let close = rest[open..].find('}')? + open;
            pattern.push_str(&expression(&rest[open + 1..close])?);
            rest = &rest[close + 1..];
        }
        pattern.push_str(&regex::escape(rest));
        pattern.push('$');
        RegexBuilder::new(&pattern)
            .size_limit(COMPILED_SIZE_LIMIT)
            .build()
            .ok()
            .map(Self)
    }

    pub(crate) fn matches(&self, value: &str) -> bool {
        self.0.is_match(value)
    }
}

/// What an operator expands to (RFC 6570 §3.2.1, Appendix A).
struct Operator {
    first: &'static str,
    separator: &'static str,
    /// `;`, `?` and `&` write `name=value`.
    named: bool,
    /// What a named variable with an empty value expands to after its name.
    if_empty: &'static str,
    /// `+` and `#` let reserved characters through unencoded.
    reserved: bool,
}

impl Operator {
    fn parse(first: Option<char>) -> Option<(Self, usize)> {
        let op = |first, separator, named, if_empty, reserved| Self {
            first,
            separator,
            named,
            if_empty,
            reserved,
        };
        Some(match first {
            Some('+') => (op("", ",", false, "", true), 1),
            Some('#') => (op("#", ",", false, "", true), 1),
            Some('.') => (op(".", ".", false, "", false), 1),
            Some('/') => (op("/", "/", false, "", false), 1),
            Some(';') => (op(";", ";", true, "", false), 1),
            Some('?') => (op("?", "&", true, "=", false), 1),
            Some('&') => (op("&", "&", true, "=", false), 1),
            // Reserved for future extensions: not a template.
            Some('=' | ',' | '!' | '@' | '|') => return None,
            _ => (op("", ",", false, "", false), 0),
        })
    }

    /// One character of a value: unreserved (or also reserved), a percent-encoded
    /// octet, or any non-ASCII character (topics are often IRIs).
    fn unit(&self) -> &'static str {
        if self.reserved {
            r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2}|[^\x00-\x7F])"
        } else {
            r"(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2}|[^\x00-\x7F])"
        }
    }
}

/// The pattern of one `{…}` expression (its inside is `body`).
fn expression(body: &str) -> Option<String> {
    let (operator, skip) = Operator::parse(body.chars().next())?;
    let unit = operator.unit();
    let separator = regex::escape(operator.separator);
    let mut variables = Vec::new();
    for varspec in body[skip..].split(',') {
        let (name, modifier) = match varspec.find([':', '*']) {
            Some(at) => (&varspec[..at], &varspec[at..]),
            None => (varspec, ""),
        };
        if !valid_name(name) {
            return None;
        }
        // A list's items, or a map's `key=value` pairs, joined by a comma or (exploded)
        // by the operator's separator.
        let list = format!("(?:{unit}|[=,]|{separator})*");
        let value = match modifier {
            "" => format!("(?:{unit}|,)*"),
            "*" => list.clone(),
            prefix => {
                let max: u32 = prefix.strip_prefix(':')?.parse().ok()?;
                if !(1..=9999).contains(&max) {
                    return None;
                }
                if max <= MAX_PREFIX {
                    format!("{unit}{{0,{max}}}")
                } else {
                    format!("{unit}*")
                }
            }
        };
        variables.push(match (operator.named, modifier) {
            (false, _) => value,
            (true, "*") => list,
            (true, _) => {
                let name = regex::escape(name);
                let empty = regex::escape(operator.if_empty);
                format!("{name}(?:={value}|{empty})")
            }
        });
    }
    let any = variables.join("|");
    let first = regex::escape(operator.first);
    Some(format!("(?:{first}(?:{any})(?:{separator}(?:{any}))*)?"))
}

/// `varchar *( ["."] varchar )`, a varchar being a letter, digit, `_` or `%XX`.
fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut i = 0;
    let mut after_dot = true;
    while i < bytes.len() {
        match bytes[i] {
            b'.' if !after_dot => after_dot = true,
            b'%' if bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
            {
                i += 2;
                after_dot = false;
            }
            b if b.is_ascii_alphanumeric() || b == b'_' => after_dot = false,
            _ => return false,
        }
        i += 1;
    }
    !after_dot
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(template: &str, value: &str) -> bool {
        UriTemplate::compile(template)
            .unwrap_or_else(|| panic!("{template} compiles"))
            .matches(value)
    }

    #[test]
    fn matching_table() {
        let table: &[(&str, &str, bool)] = &[
            (
                "https://example.com/books/{id}",
                "https://example.com/books/1",
                true,
            ),
            (
                "https://example.com/books/{id}",
                "https://example.com/books/",
                true,
            ),
            (
                "https://example.com/books/{id}",
                "https://example.com/books/1/2",
                false,
            ),
            (
                "https://example.com/books/{id}",
                "https://example.com/books/a%2Fb",
                true,
            ),
            (
                "https://example.com/books/{id}",
                "https://example.com/books/é",
                true,
            ),
            (
                "https://example.com/books/{id}",
                "https://example.org/books/1",
                false,
            ),
            (
                "https://example.com/books/{id}",
                "https://example.com/books/1?x=1",
                false,
            ),
            (
                "https://example.com/{+path}",
                "https://example.com/a/b?c=d",
                true,
            ),
            (
                "https://example.com/{path}",
                "https://example.com/a/b",
                false,
            ),
            (
                "https://example.com{/segments*}",
                "https://example.com/a/b/c",
                true,
            ),
            (
                "https://example.com/{/segments*}",
                "https://example.com/a/b/c",
                false,
            ),
            ("https://example.com{/a,b}", "https://example.com/x/y", true),
            ("https://example.com{/a,b}", "https://example.com", true),
            (
                "https://example.com/users/foo/{?topic}",
                "https://example.com/users/foo/",
                true,
            ),
            (
                "https://example.com/users/foo/{?topic}",
                "https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1",
                true,
            ),
            (
                "https://example.com/users/foo/{?topic}",
                "https://example.com/users/foo/?topic=https://example.com/books/1",
                false,
            ),
            (
                "https://example.com/users/foo/{?topic}",
                "https://example.com/users/bar/",
                false,
            ),
            ("/s{?a,b}", "/s?a=1&b=2", true),
            ("/s{?a,b}", "/s?b=", true),
            ("/s{?a,b}", "/s?c=1", false),
            ("/s{?list*}", "/s?x=1&y=2", true),
            ("/m{;x,y}", "/m;x=1;y", true),
            ("/f{#frag}", "/f#a/b", true),
            ("/f{#frag}", "/f", true),
            ("/file{.ext}", "/file.json", true),
            ("/file{.ext}", "/file.js.map", true),
            ("/file{.ext}", "/file/js", false),
            ("/file{.ext*}", "/file.js.map", true),
            ("/p/{id:3}", "/p/abc", true),
            ("/p/{id:3}", "/p/abcd", false),
            ("/{a}{b}", "/xy", true),
            ("a.b/{x}", "aXb/1", false),
        ];
        for &(template, value, expected) in table {
            assert_eq!(matches(template, value), expected, "{template} ~ {value}");
        }
    }

    #[test]
    fn what_is_not_a_template() {
        for not in [
            "https://example.com/books/1",
            "https://example.com/{id",
            "https://example.com/id}",
            "https://example.com/{}",
            "https://example.com/{=x}",
            "https://example.com/{a b}",
            "https://example.com/{a..b}",
            "https://example.com/{a:0}",
            "https://example.com/{a:10000}",
            "https://example.com/{a:x}",
        ] {
            assert!(UriTemplate::compile(not).is_none(), "{not}");
        }
        assert!(UriTemplate::compile("/{a.b,c%20d,e_1}").is_some());
    }

    #[test]
    fn regex_metacharacters_in_literals_are_literal() {
        assert!(matches("/a+b(c)/{x}", "/a+b(c)/1"));
        assert!(!matches("/a+b(c)/{x}", "/aab(c)/1"));
        assert!(matches("/$^.*/{x}", "/$^.*/1"));
    }
}
