//! [`HubValue`], the one value model of hub payloads: everything the JSON and MessagePack hub protocols can
//! carry, binary data and timestamps included, so a value a MessagePack client sends comes back with its
//! own type.
//!
//! How each protocol writes the two types JSON lacks is decided here and nowhere else: through a
//! human-readable serializer (JSON) binary data is a base64 string and a timestamp an ISO 8601 UTC string,
//! as .NET's JSON writes them; through a binary one (MessagePack) they are `bin` and the timestamp
//! extension (type -1). [`HubValue`] is also a serde `Deserializer`, so typed hub method arguments are read
//! from a MessagePack payload without a JSON detour; it refuses to read binary data or a timestamp as a
//! string, so such an argument falls back to its JSON form (see `hub.rs`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde::de::{self, IntoDeserializer, Unexpected, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The serde name rmp-serde and rmpv give a MessagePack extension value (a `(tag, bytes)` tuple).
const EXT_STRUCT: &str = "_ExtStruct";
/// The MessagePack timestamp extension type.
const TIMESTAMP_EXT: i8 = -1;

/// A hub payload value: what the JSON and MessagePack hub protocols carry, with MessagePack's binary data
/// and timestamps kept as such. Take it as a hub method argument (or inside one) to receive any value, and
/// return it to send one back unchanged: a MessagePack client's `Uint8Array` and `Date` come back as a
/// `Uint8Array` and a `Date`. JSON clients send and receive exactly what JSON holds; a [`HubValue::Binary`]
/// or [`HubValue::Timestamp`] sent to one is written as .NET's JSON writes them (base64, ISO 8601).
#[derive(Debug, Clone, PartialEq)]
pub enum HubValue {
    /// `null` / `nil`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// An integer above `i64::MAX`.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// UTF-8 text.
    String(String),
    /// Binary data (MessagePack `bin`).
    Binary(Vec<u8>),
    /// A point in time (the MessagePack timestamp extension).
    Timestamp(Timestamp),
    /// An array.
    Array(Vec<HubValue>),
    /// A map with text keys, in the order received (MessagePack integer keys become their decimal text).
    Map(Vec<(String, HubValue)>),
}

/// A UTC point in time with nanosecond precision, as the MessagePack timestamp extension carries it.
/// Displays as ISO 8601 (`2002-04-01T10:20:15.5Z`), which is how JSON carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    seconds: i64,
    nanos: u32,
}

/// The range .NET's `DateTime` (and ISO 8601 with four-digit years) covers: 0001-01-01 to 9999-12-31.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

impl Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z and nanoseconds (below 1,000,000,000); `None` outside the years
    /// 1 to 9999 or with too many nanoseconds.
    pub fn new(seconds: i64, nanos: u32) -> Option<Self> {
        ((MIN_SECONDS..=MAX_SECONDS).contains(&seconds) && nanos < 1_000_000_000)
            .then_some(Timestamp { seconds, nanos })
    }

    /// Seconds since the Unix epoch (negative before it).
    pub fn seconds(&self) -> i64 {
        self.seconds
    }

    /// The nanoseconds within the second.
    pub fn nanos(&self) -> u32 {
        self.nanos
    }

    /// Reads the MessagePack timestamp extension's data (4, 8 or 12 bytes).
    pub(crate) fn from_ext(data: &[u8]) -> Result<Self, &'static str> {
        let (seconds, nanos): (i64, u32) = match data.len() {
            4 => (
                i64::from(u32::from_be_bytes(data.try_into().expect("4 bytes"))),
                0,
            ),
            8 => {
                let v = u64::from_be_bytes(data.try_into().expect("8 bytes"));
                ((v & 0x3_ffff_ffff) as i64, (v >> 34) as u32)
            }
            12 => (
                i64::from_be_bytes(data[4..].try_into().expect("8 bytes")),
                u32::from_be_bytes(data[..4].try_into().expect("4 bytes")),
            ),
            _ => return Err("a timestamp has 4, 8 or 12 bytes"),
        };
        Timestamp::new(seconds, nanos).ok_or("timestamp out of range")
    }

    /// The MessagePack timestamp extension's data, in its shortest form.
    pub(crate) fn to_ext(self) -> Vec<u8> {
        let seconds = self.seconds as u64;
        if self.seconds >= 0 && seconds >> 34 == 0 {
            let packed = (u64::from(self.nanos) << 34) | seconds;
            if packed >> 32 == 0 {
                return (packed as u32).to_be_bytes().to_vec();
            }
            return packed.to_be_bytes().to_vec();
        }
        let mut data = self.nanos.to_be_bytes().to_vec();
        data.extend_from_slice(&self.seconds.to_be_bytes());
        data
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> SystemTime {
        let nanos = Duration::from_nanos(u64::from(t.nanos));
        if t.seconds >= 0 {
            UNIX_EPOCH + Duration::from_secs(t.seconds as u64) + nanos
        } else {
            UNIX_EPOCH - Duration::from_secs(t.seconds.unsigned_abs()) + nanos
        }
    }
}

impl TryFrom<SystemTime> for Timestamp {
    type Error = &'static str;

    /// Fails outside the years 1 to 9999.
    fn try_from(time: SystemTime) -> Result<Self, Self::Error> {
        let (seconds, nanos) = match time.duration_since(UNIX_EPOCH) {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            Err(e) => {
                let d = e.duration();
                let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                match d.subsec_nanos() {
                    0 => (-whole, 0),
                    n => (-whole - 1, 1_000_000_000 - n),
                }
            }
        };
        Timestamp::new(seconds, nanos).ok_or("the time is outside the years 1 to 9999")
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS[.fffffffff]Z`, trailing zeros of the fraction left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Days since 1970-01-01 to a civil date (proleptic Gregorian), by 400-year eras.
        let days = self.seconds.div_euclid(86_400);
        let secs = self.seconds.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )?;
        if self.nanos > 0 {
            let fraction = format!("{:09}", self.nanos);
            write!(f, ".{}", fraction.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

/// Bytes that serialize with `serialize_bytes` (the data of an extension value).
struct RawBytes<'a>(&'a [u8]);

impl Serialize for RawBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl Serialize for HubValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            HubValue::Null => s.serialize_unit(),
            HubValue::Bool(b) => s.serialize_bool(*b),
            HubValue::Int(i) => s.serialize_i64(*i),
            HubValue::UInt(u) => s.serialize_u64(*u),
            HubValue::Float(f) => s.serialize_f64(*f),
            HubValue::String(text) => s.serialize_str(text),
            HubValue::Binary(bytes) if s.is_human_readable() => {
                s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            HubValue::Binary(bytes) => s.serialize_bytes(bytes),
            HubValue::Timestamp(t) if s.is_human_readable() => s.collect_str(t),
            HubValue::Timestamp(t) => {
                s.serialize_newtype_struct(EXT_STRUCT, &(TIMESTAMP_EXT, RawBytes(&t.to_ext())))
            }
            HubValue::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            HubValue::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for HubValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = HubValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any hub value")
    }

    fn visit_unit<E>(self) -> Result<HubValue, E> {
        Ok(HubValue::Null)
    }

    fn visit_none<E>(self) -> Result<HubValue, E> {
        Ok(HubValue::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<HubValue, D::Error> {
        HubValue::deserialize(d)
    }

    fn visit_bool<E>(self, b: bool) -> Result<HubValue, E> {
        Ok(HubValue::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<HubValue, E> {
        Ok(HubValue::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<HubValue, E> {
        Ok(i64::try_from(u).map_or(HubValue::UInt(u), HubValue::Int))
    }

    fn visit_f64<E>(self, f: f64) -> Result<HubValue, E> {
        Ok(HubValue::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<HubValue, E> {
        Ok(HubValue::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<HubValue, E> {
        Ok(HubValue::String(s))
    }

    fn visit_bytes<E>(self, b: &[u8]) -> Result<HubValue, E> {
        Ok(HubValue::Binary(b.to_vec()))
    }

    fn visit_byte_buf<E>(self, b: Vec<u8>) -> Result<HubValue, E> {
        Ok(HubValue::Binary(b))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<HubValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(HubValue::Array(items))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<HubValue, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some((MapKey(key), value)) = map.next_entry()? {
            entries.push((key, value));
        }
        Ok(HubValue::Map(entries))
    }

    /// A MessagePack extension value: `(tag, data)`; the timestamp is the one this server knows.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<HubValue, D::Error> {
        let Ext(tag, data) = Ext::deserialize(d)?;
        if tag != TIMESTAMP_EXT {
            return Err(de::Error::custom(format_args!(
                "MessagePack extension type {tag} is not supported"
            )));
        }
        Timestamp::from_ext(&data)
            .map(HubValue::Timestamp)
            .map_err(de::Error::custom)
    }
}

/// A map key: text, or an integer taken as its decimal text.
struct MapKey(String);

impl<'de> Deserialize<'de> for MapKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = MapKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text or integer map key")
            }
            fn visit_str<E>(self, s: &str) -> Result<MapKey, E> {
                Ok(MapKey(s.to_owned()))
            }
            fn visit_i64<E>(self, i: i64) -> Result<MapKey, E> {
                Ok(MapKey(i.to_string()))
            }
            fn visit_u64<E>(self, u: u64) -> Result<MapKey, E> {
                Ok(MapKey(u.to_string()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

/// An extension value's `(tag, data)`.
struct Ext(i8, Vec<u8>);

impl<'de> Deserialize<'de> for Ext {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ExtVisitor;
        impl<'de> Visitor<'de> for ExtVisitor {
            type Value = Ext;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a MessagePack extension (tag, data)")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Ext, A::Error> {
                let tag = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let ExtData(data) = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                Ok(Ext(tag, data))
            }
        }
        d.deserialize_tuple(2, ExtVisitor)
    }
}

struct ExtData(Vec<u8>);

impl<'de> Deserialize<'de> for ExtData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DataVisitor;
        impl Visitor<'_> for DataVisitor {
            type Value = ExtData;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("extension data")
            }
            fn visit_bytes<E>(self, b: &[u8]) -> Result<ExtData, E> {
                Ok(ExtData(b.to_vec()))
            }
            fn visit_byte_buf<E>(self, b: Vec<u8>) -> Result<ExtData, E> {
                Ok(ExtData(b))
            }
        }
        d.deserialize_bytes(DataVisitor)
    }
}

/// Why a [`HubValue`] could not be read as the type asked for.
#[derive(Debug)]
pub(crate) struct ValueError(String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

/// Reads typed values out of a [`HubValue`] (a serde `Deserializer`, kept out of the public API).
pub(crate) struct Reader(HubValue);

impl HubValue {
    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            HubValue::Null => Unexpected::Unit,
            HubValue::Bool(b) => Unexpected::Bool(*b),
            HubValue::Int(i) => Unexpected::Signed(*i),
            HubValue::UInt(u) => Unexpected::Unsigned(*u),
            HubValue::Float(f) => Unexpected::Float(*f),
            HubValue::String(s) => Unexpected::Str(s),
            HubValue::Binary(b) => Unexpected::Bytes(b),
            HubValue::Timestamp(_) => Unexpected::Other("a timestamp"),
            HubValue::Array(_) => Unexpected::Seq,
            HubValue::Map(_) => Unexpected::Map,
        }
    }
}

impl<'de> IntoDeserializer<'de, ValueError> for Reader {
    type Deserializer = Reader;

    fn into_deserializer(self) -> Reader {
        self
    }
}

impl<'de> Deserializer<'de> for Reader {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            HubValue::Null => visitor.visit_unit(),
            HubValue::Bool(b) => visitor.visit_bool(b),
            HubValue::Int(i) => visitor.visit_i64(i),
            HubValue::UInt(u) => visitor.visit_u64(u),
            HubValue::Float(f) => visitor.visit_f64(f),
            HubValue::String(s) => visitor.visit_string(s),
            HubValue::Binary(b) => visitor.visit_byte_buf(b),
            HubValue::Timestamp(t) => {
                visitor.visit_newtype_struct(de::value::SeqDeserializer::<_, ValueError>::new(
                    [
                        HubValue::Int(i64::from(TIMESTAMP_EXT)),
                        HubValue::Binary(t.to_ext()),
                    ]
                    .into_iter()
                    .map(Reader),
                ))
            }
            HubValue::Array(items) => {
                let mut seq = de::value::SeqDeserializer::new(items.into_iter().map(Reader));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            HubValue::Map(entries) => {
                let mut map = de::value::MapDeserializer::new(
                    entries.into_iter().map(|(k, v)| (k, Reader(v))),
                );
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            HubValue::Null => visitor.visit_none(),
            other => visitor.visit_some(Reader(other)),
        }
    }

    /// Text only: binary data and timestamps are not read as strings (they take their JSON form instead).
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            HubValue::String(s) => visitor.visit_string(s),
            other => Err(de::Error::invalid_type(other.unexpected(), &visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            timestamp @ HubValue::Timestamp(_) if name == EXT_STRUCT => {
                Reader(timestamp).deserialize_any(visitor)
            }
            other => visitor.visit_newtype_struct(Reader(other)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            // A unit variant by name, or a one-entry map of variant name to content (serde's external tagging).
            HubValue::String(variant) => visitor.visit_enum(variant.into_deserializer()),
            HubValue::Map(mut entries) if entries.len() == 1 => {
                let (variant, content) = entries.pop().expect("one entry");
                visitor.visit_enum(de::value::MapAccessDeserializer::new(
                    de::value::MapDeserializer::new(std::iter::once((variant, Reader(content)))),
                ))
            }
            other => Err(de::Error::invalid_type(other.unexpected(), &visitor)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// Reads `T` from a value, as a typed hub method argument is read from a MessagePack payload.
pub(crate) fn from_value<T: de::DeserializeOwned>(value: HubValue) -> Result<T, ValueError> {
    T::deserialize(Reader(value))
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
