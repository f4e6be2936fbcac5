//! A borrowed JSON tree.
//!
//! [`Value`] is what rules look at. Strings without escapes borrow straight from
//! the input bytes, so building a tree for an event that passed the prefilter
//! costs a few small vectors and no string copies in the common case. Objects
//! keep their keys in input order in a flat vector: audit events have small
//! objects, where a linear scan beats hashing.

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::borrow::Cow;
use std::fmt;

/// A JSON number, as parsed.
pub type Number = serde_json::Number;

/// A JSON value whose strings borrow from the input where they can.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value<'a> {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// Any JSON number.
    Number(Number),
    /// A string; borrowed unless it contained escapes.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object, keys in input order.
    Object(Map<'a>),
}

/// A JSON object: key/value pairs in input order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map<'a>(pub Vec<(Cow<'a, str>, Value<'a>)>);

impl<'a> Map<'a> {
    /// The value under `key`, the first one if the key repeats.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A mutable reference to the value under `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value<'a>> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        let idx = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(idx).1)
    }

    /// Sets `key` to `value`, replacing an existing entry in place.
    pub fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: Value<'a>) {
        let key = key.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Iterates over the entries.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the object has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> Value<'a> {
    /// Parses JSON text, borrowing strings from `bytes` where possible.
    pub fn from_slice(bytes: &'a [u8]) -> Result<Value<'a>, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Parses a JSON object keeping only the top-level members named in
    /// `keys`; the others are skipped without building anything. Used to
    /// parse only what the candidate rules read. Members named in both
    /// `keys` and `defer` are kept as text ([`Deferred`]) and parsed when
    /// first read.
    pub fn from_slice_keys(
        bytes: &'a [u8],
        keys: &[&str],
        defer: &[&str],
    ) -> Result<(Value<'a>, Vec<Deferred<'a>>), serde_json::Error> {
        let mut deferred = Vec::new();
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let v = TopLevelSeed {
            keys,
            defer,
            deferred: &mut deferred,
            plain: None,
        }
        .deserialize(&mut de)?;
        de.end()?;
        Ok((v, deferred))
    }

    /// Like [`Value::from_slice_keys`], and also tells whether the object is
    /// a plain audit Event as the decoder would see it (see [`PlainEvent`]),
    /// so a record known to be one line needs a single pass.
    pub fn from_slice_keys_plain(
        bytes: &'a [u8],
        keys: &[&str],
        defer: &[&str],
    ) -> Result<(Value<'a>, Vec<Deferred<'a>>, PlainEvent), serde_json::Error> {
        let mut plain = PlainEvent::default();
        let mut deferred = Vec::new();
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let v = TopLevelSeed {
            keys,
            defer,
            deferred: &mut deferred,
            plain: Some(&mut plain),
        }
        .deserialize(&mut de)?;
        de.end()?;
        Ok((v, deferred, plain))
    }

    /// Parses JSON text held in a `str`.
    pub fn parse_str(text: &'a str) -> Result<Value<'a>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The member `key` of an object, or `None` for anything else.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(m) => m.get(key),
            _ => None,
        }
    }

    /// Follows a chain of object keys.
    pub fn pointer(&self, keys: &[&str]) -> Option<&Value<'a>> {
        keys.iter().try_fold(self, |v, k| v.get(k))
    }

    /// The string content, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number as `f64`, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    /// The number as `i64`, if this is an integral number in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Map<'a>> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Copies every borrowed string so the value no longer borrows its input.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Number(n) => Value::Number(n),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Array(a) => Value::Array(a.into_iter().map(Value::into_owned).collect()),
            Value::Object(m) => Value::Object(Map(m
                .0
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                .collect())),
        }
    }

    /// Renders the value the way templates and tables show it: strings bare,
    /// everything else as compact JSON.
    pub fn to_display_string(&self) -> String {
        match self {
            Value::String(s) => s.to_string(),
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }

    /// Converts to a `serde_json::Value` (used for output, never on the hot path).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(a) => serde_json::Value::Array(a.iter().map(Value::to_json).collect()),
            Value::Object(m) => serde_json::Value::Object(
                m.0.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Builds a borrowed tree from a `serde_json::Value`.
    pub fn from_json(v: &'a serde_json::Value) -> Value<'a> {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.clone()),
            serde_json::Value::String(s) => Value::String(Cow::Borrowed(s)),
            serde_json::Value::Array(a) => Value::Array(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(m) => Value::Object(Map(m
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), Value::from_json(v)))
                .collect())),
        }
    }
}

impl From<&str> for Value<'static> {
    fn from(s: &str) -> Self {
        Value::String(Cow::Owned(s.to_string()))
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value<'de>, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value<'de>, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value<'de>, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value<'de>, D::Error> {
        Deserialize::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let v = map.next_value()?;
            out.push((key, v));
        }
        Ok(Value::Object(Map(out)))
    }
}

/// What the top-level keys of an object say about its shape.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainEvent {
    /// A key of a container or of another source (`items`, `records`,
    /// `logEvents`, `messageType`, `protoPayload`, `p_log_type`, or
    /// `category` with `properties`).
    pub other_shape: bool,
    category: bool,
    properties: bool,
    /// A key only audit events have (`verb`, `auditID`, `objectRef`,
    /// `requestURI`, `stage`).
    pub audit_key: bool,
    /// `kind` is present; `kind_is_event` when it is the string `"Event"`.
    pub has_kind: bool,
    /// See `has_kind`.
    pub kind_is_event: bool,
    /// A key the decoder reads to recognise records (see [`ENVELOPE_KEYS`])
    /// appears twice: the decoder refuses such a record ("duplicate
    /// field"), so it is no plain event.
    pub duplicate_key: bool,
    envelope_seen: u16,
}

/// The top-level keys the decoder reads to recognise a record's shape; it
/// refuses a record that repeats one of them.
pub const ENVELOPE_KEYS: [&str; 14] = [
    "kind",
    "items",
    "records",
    "logEvents",
    "messageType",
    "protoPayload",
    "p_log_type",
    "category",
    "properties",
    "verb",
    "auditID",
    "objectRef",
    "requestURI",
    "stage",
];

impl PlainEvent {
    /// True when the decoder would take the object for one audit Event.
    pub fn is_plain(&self) -> bool {
        let foreign = self.other_shape || (self.category && self.properties);
        let bad_kind = self.has_kind && !self.kind_is_event;
        !foreign && !bad_kind && !self.duplicate_key && (self.audit_key || self.kind_is_event)
    }

    /// Notes a top-level key, for `duplicate_key`.
    fn see(&mut self, key: &str) {
        if let Some(i) = ENVELOPE_KEYS.iter().position(|k| *k == key) {
            let bit = 1u16 << i;
            if self.envelope_seen & bit != 0 {
                self.duplicate_key = true;
            }
            self.envelope_seen |= bit;
        }
    }
}

/// A top-level member of a partly parsed object kept as JSON text: a
/// request or response body that most rules refuse an event without
/// reading. Skipping it costs a scan of its bytes; building its tree, only
/// when a rule gets as far as reading it.
#[derive(Debug)]
pub struct Deferred<'a> {
    key: Cow<'a, str>,
    text: &'a str,
    value: std::cell::OnceCell<Result<Value<'a>, serde_json::Error>>,
}

impl<'a> Deferred<'a> {
    /// The member's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The member's value, parsed on first use; `None` when it does not
    /// parse. Its text was checked to be well-formed JSON when the object
    /// was read, but not what only a parse finds (nesting too deep, a number
    /// out of range, a lone surrogate): those fail here
    /// ([`Deferred::error`]), as they fail the object's whole parse.
    pub fn value(&self) -> Option<&Value<'a>> {
        self.value
            .get_or_init(|| parse_member(self.text))
            .as_ref()
            .ok()
    }

    /// Why the value did not parse, once it was read.
    pub fn error(&self) -> Option<&serde_json::Error> {
        self.value.get()?.as_ref().err()
    }
}

/// Containers a member may nest when its object is parsed whole: the
/// parser's limit (128, the 128th open container fails) less the object.
const MEMBER_DEPTH_LIMIT: usize = 126;

/// Parses a member's text on its own, refusing it as the whole object's
/// parse would: on its own it starts one level higher.
fn parse_member(text: &str) -> Result<Value<'_>, serde_json::Error> {
    let v = Value::parse_str(text)?;
    if depth(&v) > MEMBER_DEPTH_LIMIT {
        return Err(serde::de::Error::custom("recursion limit exceeded"));
    }
    Ok(v)
}

/// How many containers nest at the deepest point of `v` (a scalar: 0).
fn depth(v: &Value<'_>) -> usize {
    match v {
        Value::Array(xs) => 1 + xs.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.0.iter().map(|(_, x)| depth(x)).max().unwrap_or(0),
        _ => 0,
    }
}

struct TopLevelSeed<'k, 'p, 'de> {
    keys: &'k [&'k str],
    defer: &'k [&'k str],
    deferred: &'p mut Vec<Deferred<'de>>,
    plain: Option<&'p mut PlainEvent>,
}

impl<'de> DeserializeSeed<'de> for TopLevelSeed<'_, '_, 'de> {
    type Value = Value<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevelSeed<'_, '_, 'de> {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value<'de>, A::Error> {
        let mut out = Vec::with_capacity(self.keys.len());
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if let Some(plain) = self.plain.as_deref_mut() {
                plain.see(&key);
                match key.as_ref() {
                    "items" | "records" | "logEvents" | "messageType" | "protoPayload"
                    | "p_log_type" => plain.other_shape = true,
                    "category" => plain.category = true,
                    "properties" => plain.properties = true,
                    "verb" | "auditID" | "objectRef" | "requestURI" | "stage" => {
                        plain.audit_key = true
                    }
                    "kind" => {
                        plain.has_kind = true;
                        let v: Value<'de> = map.next_value()?;
                        plain.kind_is_event = v.as_str() == Some("Event");
                        if self.keys.contains(&"kind") {
                            out.push((key, v));
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            if !self.keys.iter().any(|k| *k == key) {
                map.next_value::<serde::de::IgnoredAny>()?;
            } else if self.defer.iter().any(|k| *k == key) {
                let text: &'de serde_json::value::RawValue = map.next_value()?;
                self.deferred.push(Deferred {
                    key,
                    text: text.get(),
                    value: std::cell::OnceCell::new(),
                });
            } else {
                let v: Value<'de> = map.next_value()?;
                out.push((key, v));
            }
        }
        Ok(Value::Object(Map(out)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value<'de>, A::Error> {
        ValueVisitor.visit_seq(seq)
    }
    fn visit_str<E>(self, v: &str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(v.to_string())))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value<'de>, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value<'de>, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value<'de>, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(v) => s.serialize_str(v),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(m) => m.serialize(s),
        }
    }
}

impl Serialize for Map<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_plain_strings_and_owns_escaped_ones() {
        let text = br#"{"a":"plain","b":"esc\"aped","c":[1,2.5,null,true]}"#;
        let v = Value::from_slice(text).unwrap();
        assert!(matches!(
            v.get("a"),
            Some(Value::String(Cow::Borrowed("plain")))
        ));
        assert!(matches!(v.get("b"), Some(Value::String(Cow::Owned(_)))));
        assert_eq!(v.get("b").unwrap().as_str(), Some("esc\"aped"));
        assert_eq!(v.get("c").unwrap().as_array().unwrap().len(), 4);
    }

    #[test]
    fn a_repeated_envelope_key_is_no_plain_event() {
        // Found by the scan_prefilter fuzz target: a line repeating `verb`
        // matched rules through the one-pass parse while the decoder (and
        // so `--no-prefilter`) refused it for the duplicate field.
        let plain = |text: &str| {
            Value::from_slice_keys_plain(text.as_bytes(), &["verb"], &[])
                .unwrap()
                .2
        };
        assert!(plain(r#"{"kind":"Event","verb":"get","x":1,"x":2}"#).is_plain());
        for key in ENVELOPE_KEYS {
            let text = format!(r#"{{"kind":"Event","verb":"get","{key}":1,"{key}":2}}"#);
            assert!(!plain(&text).is_plain(), "{text}");
            // The decoder refuses the same record.
            let mut sink = crate::CollectSink::default();
            crate::Decoder::default().decode(
                text.as_bytes(),
                &crate::Location::line(std::sync::Arc::from("t"), 1),
                &mut sink,
            );
            assert!(sink.events.is_empty(), "{text}");
            assert!(
                sink.skipped[0].message.contains("duplicate field"),
                "{text}"
            );
        }
    }

    #[test]
    fn round_trips_through_serialize() {
        let text = r#"{"z":1,"a":{"k":["x",{"y":null}]},"n":-3.5}"#;
        let v = Value::parse_str(text).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), text);
    }

    #[test]
    fn keeps_only_the_keys_asked_for() {
        let text = br#"{"verb":"get","requestObject":{"big":[1,2,3]},"user":{"username":"u"}}"#;
        let (v, deferred) = Value::from_slice_keys(text, &["verb", "user"], &[]).unwrap();
        assert!(deferred.is_empty());
        assert_eq!(v.get("verb").and_then(Value::as_str), Some("get"));
        assert!(v.get("requestObject").is_none());
        assert_eq!(
            v.pointer(&["user", "username"]).and_then(Value::as_str),
            Some("u")
        );
        assert!(Value::from_slice_keys(br#"{"verb":"get"} x"#, &["verb"], &[]).is_err());
    }

    #[test]
    fn a_deferred_member_is_kept_as_text_and_parsed_when_read() {
        let text = br#"{"verb":"create","requestObject":{"spec":{"c":["a\"b",1.5]}},"responseObject":{"x":1},"requestObject":{"second":true}}"#;
        let whole = Value::from_slice(text).unwrap();
        let keys = ["verb", "requestObject"];
        let defer = ["requestObject", "responseObject"];
        let (v, deferred) = Value::from_slice_keys(text, &keys, &defer).unwrap();
        assert!(v.get("requestObject").is_none());
        assert_eq!(v.get("verb"), whole.get("verb"));
        // Not asked for: skipped, though deferrable. A repeated key keeps
        // both, the first found first, as `Map::get` does.
        assert_eq!(deferred.len(), 2);
        assert_eq!(deferred[0].key(), "requestObject");
        assert_eq!(deferred[0].value(), whole.get("requestObject"));
        assert!(deferred[0].error().is_none());
        assert_eq!(
            deferred[0].value().and_then(|v| v
                .pointer(&["spec", "c"])
                .and_then(Value::as_array)
                .and_then(|a| a[0].as_str())),
            Some("a\"b")
        );
        // A malformed body fails the read, as the whole parse would.
        let bad = br#"{"verb":"create","requestObject":{"spec":[1,}}"#;
        assert!(Value::from_slice_keys(bad, &keys, &defer).is_err());
        // Too deep for a tree: found when read, and said why.
        let deep = format!(
            r#"{{"verb":"get","requestObject":{}{}}}"#,
            "[".repeat(300),
            "]".repeat(300)
        );
        let (_, deferred) = Value::from_slice_keys(deep.as_bytes(), &keys, &defer).unwrap();
        assert!(deferred[0].error().is_none(), "not read yet");
        assert!(deferred[0].value().is_none());
        let e = deferred[0].error().expect("read and failed");
        assert!(e.to_string().contains("recursion limit"), "{e}");
    }

    #[test]
    fn a_deferred_member_is_refused_exactly_when_the_whole_parse_refuses_it() {
        let keys = ["requestObject"];
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let cases = (120..132)
            .map(|n| format!(r#"{{"requestObject":{}}}"#, nested(n)))
            .chain([
                r#"{"requestObject":{"n":1e400}}"#.to_string(),
                r#"{"requestObject":{"s":"\ud800"}}"#.to_string(),
                r#"{"requestObject":{"s":"ok \u00e9","n":-2.5e10}}"#.to_string(),
            ]);
        for text in cases {
            let whole = Value::from_slice(text.as_bytes());
            let (_, deferred) = Value::from_slice_keys(text.as_bytes(), &keys, &keys)
                .expect("well-formed, so scanned");
            assert_eq!(
                deferred[0].value().is_some(),
                whole.is_ok(),
                "{}",
                &text[..text.len().min(60)]
            );
            if let Ok(w) = &whole {
                assert_eq!(deferred[0].value(), w.get("requestObject"));
            }
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(Value::parse_str(&deep).is_err());
    }
}
