//! A serde deserializer over the located tree. Owning the deserializer (rather than going
//! through serde_yaml) lets every error carry the exact position and dotted path of the value or
//! key it is about, and lets unknown keys be reported with a "did you mean" hint.

use std::fmt::{self, Display};

use serde::de::{self, DeserializeOwned, DeserializeSeed, Expected, Unexpected, Visitor};

use super::tree::{child_path, item_path, resolve, Entry, Kind, Mark, Node, Scalar};

#[derive(Debug)]
pub(super) struct Error {
    pub message: String,
    /// Filled in by the innermost node the error passes through.
    pub place: Option<(String, Mark)>,
}

impl Error {
    fn at(mut self, path: &str, mark: Mark) -> Error {
        if self.place.is_none() {
            self.place = Some((path.to_string(), mark));
        }
        self
    }
}

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: Display>(msg: T) -> Error {
        Error {
            message: msg.to_string(),
            place: None,
        }
    }

    fn invalid_type(unexp: Unexpected, exp: &dyn Expected) -> Error {
        de::Error::custom(format_args!(
            "expected {}, found {}",
            expected(exp),
            found(unexp)
        ))
    }

    fn invalid_value(unexp: Unexpected, exp: &dyn Expected) -> Error {
        de::Error::invalid_type(unexp, exp)
    }

    fn unknown_field(field: &str, allowed: &'static [&'static str]) -> Error {
        let hint = suggest(field, allowed)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        de::Error::custom(format_args!(
            "unknown key `{field}`{hint} (allowed here: {})",
            allowed.join(", ")
        ))
    }
}

fn expected(exp: &dyn Expected) -> String {
    let text = exp.to_string();
    match text.as_str() {
        "i128" => "a whole number".to_string(),
        "a boolean" => "`true` or `false`".to_string(),
        "a sequence" => "a list".to_string(),
        _ => text,
    }
}

fn found(unexp: Unexpected) -> String {
    match unexp {
        Unexpected::Bool(b) => format!("`{b}`"),
        Unexpected::Signed(n) => format!("the number {n}"),
        Unexpected::Unsigned(n) => format!("the number {n}"),
        Unexpected::Float(n) => format!("the number {n:?}"),
        Unexpected::Str(s) => format!("the string \"{s}\""),
        Unexpected::Unit => "nothing (null)".to_string(),
        Unexpected::Seq => "a list".to_string(),
        Unexpected::Map => "a map".to_string(),
        other => other.to_string(),
    }
}

/// The allowed key closest to `key`, if one is close enough to be a likely typo.
pub(super) fn suggest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|candidate| (candidate, strsim::jaro_winkler(key, candidate)))
        .filter(|(candidate, score)| *score > 0.8 || strsim::levenshtein(key, candidate) <= 2)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(candidate, _)| *candidate)
}

pub(super) fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, Error> {
    T::deserialize(Value {
        node,
        path: String::new(),
    })
}

struct Value<'a> {
    node: &'a Node,
    path: String,
}

impl Value<'_> {
    fn locate(&self, e: Error) -> Error {
        e.at(&self.path, self.node.mark)
    }
}

impl<'de> de::Deserializer<'de> for Value<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node.kind {
            Kind::Scalar { text, plain } => match resolve(text, *plain) {
                Scalar::Null => visitor.visit_unit(),
                Scalar::Bool(b) => visitor.visit_bool(b),
                Scalar::Int(n) => match (i64::try_from(n), u64::try_from(n)) {
                    (Ok(n), _) => visitor.visit_i64(n),
                    (_, Ok(n)) => visitor.visit_u64(n),
                    _ => visitor.visit_i128(n),
                },
                Scalar::Float(f) => visitor.visit_f64(f),
                Scalar::Str(s) => visitor.visit_str(s),
            },
            Kind::Seq(items) => visitor.visit_seq(Items {
                items: items.iter().enumerate(),
                path: &self.path,
            }),
            Kind::Map(entries) => visitor.visit_map(Entries {
                entries: entries.iter(),
                current: None,
                path: &self.path,
            }),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    // A string field takes any scalar as written, so `tags: {cost-center: 1234}` means "1234".
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            Kind::Scalar { text, .. } if !self.node.is_null() => {
                visitor.visit_str(text).map_err(|e| self.locate(e))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    // Derived struct visitors also accept a list of fields by position; a spec section must
    // be written as a map.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let unexpected = match &self.node.kind {
            Kind::Map(_) => return self.deserialize_any(visitor),
            Kind::Seq(_) => Unexpected::Seq,
            Kind::Scalar { text, plain } => match resolve(text, *plain) {
                Scalar::Null => Unexpected::Unit,
                Scalar::Bool(b) => Unexpected::Bool(b),
                Scalar::Int(n) => {
                    i64::try_from(n).map_or(Unexpected::Other("a number"), Unexpected::Signed)
                }
                Scalar::Float(f) => Unexpected::Float(f),
                Scalar::Str(s) => Unexpected::Str(s),
            },
        };
        Err(self.locate(de::Error::invalid_type(unexpected, &visitor)))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

struct Items<'a, 'p> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
    path: &'p str,
}

impl<'de> de::SeqAccess<'de> for Items<'_, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some((i, node)) = self.items.next() else {
            return Ok(None);
        };
        seed.deserialize(Value {
            node,
            path: item_path(self.path, i),
        })
        .map(Some)
    }
}

struct Entries<'a, 'p> {
    entries: std::slice::Iter<'a, Entry>,
    current: Option<&'a Entry>,
    path: &'p str,
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some(entry);
        seed.deserialize(de::IntoDeserializer::<Error>::into_deserializer(
            entry.key.as_str(),
        ))
        .map(Some)
        .map_err(|e| e.at(&child_path(self.path, &entry.key), entry.key_mark))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some(entry) = self.current.take() else {
            return Err(de::Error::custom(
                "a map value was asked for before its key",
            ));
        };
        seed.deserialize(Value {
            node: &entry.value,
            path: child_path(self.path, &entry.key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::tree::parse;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        count: Option<i128>,
        flag: Option<bool>,
        names: Option<Vec<String>>,
        inner: Option<Inner>,
        labels: Option<BTreeMap<String, String>>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, expecting = "a map of inner settings")]
    struct Inner {
        memory_mb: Option<i128>,
    }

    fn load(text: &str) -> Result<Outer, Error> {
        let root = parse(text).ok().unwrap();
        from_node(&root)
    }

    fn fail(text: &str) -> (String, usize, usize, String) {
        let e = load(text).unwrap_err();
        let (path, mark) = e.place.unwrap();
        (path, mark.line, mark.column, e.message)
    }

    #[test]
    fn reads_values_leniently_into_strings() {
        let out = load("count: 12\nflag: false\nnames: [a, 1, true]\nlabels: {x: 1.5}\n").unwrap();
        assert_eq!(out.count, Some(12));
        assert_eq!(out.flag, Some(false));
        assert_eq!(out.names.unwrap(), ["a", "1", "true"]);
        assert_eq!(out.labels.unwrap()["x"], "1.5");
    }

    #[test]
    fn unknown_keys_point_at_the_key_with_a_hint() {
        let (path, line, col, msg) = fail("count: 1\ninner:\n  memry_mb: 3\n");
        assert_eq!((path.as_str(), line, col), ("inner.memry_mb", 3, 3));
        assert_eq!(
            msg,
            "unknown key `memry_mb`; did you mean `memory_mb`? (allowed here: memory_mb)"
        );
        let (_, _, _, msg) = fail("zzz: 1\n");
        assert!(msg.starts_with("unknown key `zzz` (allowed here: count, flag,"));
    }

    #[test]
    fn type_errors_point_at_the_value() {
        let (path, line, col, msg) = fail("names:\n  - a\n  - [b]\n");
        assert_eq!((path.as_str(), line, col), ("names[1]", 3, 5));
        assert_eq!(msg, "expected a string, found a list");
        let (path, _, _, msg) = fail("count: abc\n");
        assert_eq!(path, "count");
        assert_eq!(msg, "expected a whole number, found the string \"abc\"");
        let (_, _, _, msg) = fail("flag: yes\n");
        assert_eq!(msg, "expected `true` or `false`, found the string \"yes\"");
        let (_, _, _, msg) = fail("inner: 3\n");
        assert_eq!(msg, "expected a map of inner settings, found the number 3");
        let (_, _, _, msg) = fail("count: 1.5\n");
        assert_eq!(msg, "expected a whole number, found the number 1.5");
        let (_, _, _, msg) = fail("names: [~]\n");
        assert_eq!(msg, "expected a string, found nothing (null)");
    }

    #[test]
    fn suggests_only_close_keys() {
        let keys = ["memory_mb", "timeout_seconds", "zip", "source"];
        assert_eq!(suggest("memory", &keys), Some("memory_mb"));
        assert_eq!(suggest("timeout", &keys), Some("timeout_seconds"));
        assert_eq!(suggest("sorce", &keys), Some("source"));
        assert_eq!(suggest("bucket", &keys), None);
    }
}
