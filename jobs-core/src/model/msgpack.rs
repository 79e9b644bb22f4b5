//! The stored format's decoder: a serde `Deserializer` over MessagePack as `rmp_serde` writes
//! it (structs as maps with field names, enums as a variant name or a one-entry map, `None`
//! and `()` as nil, unit structs as an empty array).
//!
//! It exists for speed, measured on 2 KB explorations: a job usually reads a few fields of a
//! large model, and what it does not read is skipped by length, without validating strings
//! or visiting values. Strings it does read are borrowed from the stored bytes when the model
//! borrows them, and checked as UTF-8 once.

use std::fmt;

use serde::de::{self, DeserializeSeed, Visitor};

/// How stored bytes failed to decode: cut short, damaged, or not matching the model's fields
/// (the message names which).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    message: String,
}

impl DecodeError {
    fn new(message: impl Into<String>) -> Self {
        DecodeError { message: message.into() }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        DecodeError::new(message.to_string())
    }
}

type Result<T> = std::result::Result<T, DecodeError>;

/// Reads one value from the front of `input`.
pub(super) struct Deserializer<'de> {
    input: &'de [u8],
    /// How many more arrays or maps may open inside the current one.
    depth_left: usize,
}

impl<'de> Deserializer<'de> {
    pub(super) fn new(input: &'de [u8], max_depth: usize) -> Self {
        Deserializer { input, depth_left: max_depth }
    }

    fn truncated() -> DecodeError {
        DecodeError::new("the bytes end in the middle of a value")
    }

    #[inline]
    fn peek(&self) -> Result<u8> {
        self.input.first().copied().ok_or_else(Self::truncated)
    }

    #[inline]
    fn byte(&mut self) -> Result<u8> {
        let (&first, rest) = self.input.split_first().ok_or_else(Self::truncated)?;
        self.input = rest;
        Ok(first)
    }

    #[inline]
    fn take(&mut self, len: usize) -> Result<&'de [u8]> {
        if len > self.input.len() {
            return Err(Self::truncated());
        }
        let (taken, rest) = self.input.split_at(len);
        self.input = rest;
        Ok(taken)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        let mut array = [0; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    #[inline]
    fn u8(&mut self) -> Result<usize> {
        self.byte().map(usize::from)
    }

    #[inline]
    fn u16(&mut self) -> Result<usize> {
        self.array().map(u16::from_be_bytes).map(usize::from)
    }

    #[inline]
    fn u32(&mut self) -> Result<usize> {
        let len = u32::from_be_bytes(self.array()?);
        usize::try_from(len).map_err(|_| DecodeError::new(format!("a length of {len} does not fit in memory")))
    }

    #[inline]
    fn str(&mut self, len: usize) -> Result<&'de str> {
        let bytes = self.take(len)?;
        // Most stored strings are short ASCII (field names, ids): checked inline, they cost a
        // fraction of a call to the general check.
        if bytes.len() <= 32 && bytes.is_ascii() {
            // SAFETY: every ASCII byte sequence is valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).map_err(|e| DecodeError::new(format!("a string is not UTF-8: {e}")))
    }

    /// Opens an array or map: one level deeper, as long as that is allowed.
    #[inline]
    fn enter(&mut self) -> Result<()> {
        self.depth_left = self
            .depth_left
            .checked_sub(1)
            .ok_or_else(|| DecodeError::new("values nest too deeply (damaged bytes?)"))?;
        Ok(())
    }

    #[inline]
    fn leave(&mut self) {
        self.depth_left += 1;
    }

    /// Visits an array of `len` values.
    fn visit_array<V: Visitor<'de>>(&mut self, len: usize, visitor: V) -> Result<V::Value> {
        self.enter()?;
        let mut access = Compound { de: self, left: len };
        let value = visitor.visit_seq(&mut access)?;
        let left = access.left;
        // A visitor that stops early (a tuple of known size, say) leaves the rest unread.
        for _ in 0..left {
            self.skip()?;
        }
        self.leave();
        Ok(value)
    }

    /// Visits a map of `len` entries.
    fn visit_map<V: Visitor<'de>>(&mut self, len: usize, visitor: V) -> Result<V::Value> {
        self.enter()?;
        let mut access = Compound { de: self, left: len };
        let value = visitor.visit_map(&mut access)?;
        let left = access.left;
        for _ in 0..left {
            self.skip()?;
            self.skip()?;
        }
        self.leave();
        Ok(value)
    }

    /// Passes over one value without looking inside strings or binaries.
    fn skip(&mut self) -> Result<()> {
        let marker = self.byte()?;
        let (bytes, values) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, 2 * usize::from(marker & 0x0f)),
            0x90..=0x9f => (0, usize::from(marker & 0x0f)),
            0xa0..=0xbf => (usize::from(marker & 0x1f), 0),
            0xc4 | 0xd9 => (self.u8()?, 0),
            0xc5 | 0xda => (self.u16()?, 0),
            0xc6 | 0xdb => (self.u32()?, 0),
            0xc7 => (self.u8()? + 1, 0),
            0xc8 => (self.u16()? + 1, 0),
            0xc9 => (self.u32()? + 1, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xca | 0xce | 0xd2 => (4, 0),
            0xcb | 0xcf | 0xd3 => (8, 0),
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xdc => (0, self.u16()?),
            0xdd => (0, self.u32()?),
            0xde => (0, 2 * self.u16()?),
            0xdf => (0, 2 * self.u32()?),
            0xc1 => return Err(DecodeError::new("byte 0xc1 is never used in MessagePack (damaged bytes?)")),
        };
        self.take(bytes)?;
        if values > 0 {
            self.enter()?;
            for _ in 0..values {
                self.skip()?;
            }
            self.leave();
        }
        Ok(())
    }

    /// The length of the array or map starting here, if one does; consumes its header.
    fn map_len(&mut self) -> Result<Option<usize>> {
        let len = match self.peek()? {
            marker @ 0x80..=0x8f => usize::from(marker & 0x0f),
            0xde => {
                self.byte()?;
                return self.u16().map(Some);
            }
            0xdf => {
                self.byte()?;
                return self.u32().map(Some);
            }
            _ => return Ok(None),
        };
        self.byte()?;
        Ok(Some(len))
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let marker = self.byte()?;
        match marker {
            0x00..=0x7f => visitor.visit_u64(u64::from(marker)),
            0xe0..=0xff => visitor.visit_i64(i64::from(marker as i8)),
            0x80..=0x8f => self.visit_map(usize::from(marker & 0x0f), visitor),
            0x90..=0x9f => self.visit_array(usize::from(marker & 0x0f), visitor),
            0xa0..=0xbf => visitor.visit_borrowed_str(self.str(usize::from(marker & 0x1f))?),
            0xc0 => visitor.visit_unit(),
            0xc2 => visitor.visit_bool(false),
            0xc3 => visitor.visit_bool(true),
            0xc4 => {
                let len = self.u8()?;
                visitor.visit_borrowed_bytes(self.take(len)?)
            }
            0xc5 => {
                let len = self.u16()?;
                visitor.visit_borrowed_bytes(self.take(len)?)
            }
            0xc6 => {
                let len = self.u32()?;
                visitor.visit_borrowed_bytes(self.take(len)?)
            }
            0xca => visitor.visit_f32(f32::from_be_bytes(self.array()?)),
            0xcb => visitor.visit_f64(f64::from_be_bytes(self.array()?)),
            0xcc => visitor.visit_u64(u64::from(self.byte()?)),
            0xcd => visitor.visit_u64(u64::from(u16::from_be_bytes(self.array()?))),
            0xce => visitor.visit_u64(u64::from(u32::from_be_bytes(self.array()?))),
            0xcf => visitor.visit_u64(u64::from_be_bytes(self.array()?)),
            0xd0 => visitor.visit_i64(i64::from(i8::from_be_bytes(self.array()?))),
            0xd1 => visitor.visit_i64(i64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => visitor.visit_i64(i64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => visitor.visit_i64(i64::from_be_bytes(self.array()?)),
            0xd9 => {
                let len = self.u8()?;
                visitor.visit_borrowed_str(self.str(len)?)
            }
            0xda => {
                let len = self.u16()?;
                visitor.visit_borrowed_str(self.str(len)?)
            }
            0xdb => {
                let len = self.u32()?;
                visitor.visit_borrowed_str(self.str(len)?)
            }
            0xdc => {
                let len = self.u16()?;
                self.visit_array(len, visitor)
            }
            0xdd => {
                let len = self.u32()?;
                self.visit_array(len, visitor)
            }
            0xde => {
                let len = self.u16()?;
                self.visit_map(len, visitor)
            }
            0xdf => {
                let len = self.u32()?;
                self.visit_map(len, visitor)
            }
            0xc7..=0xc9 | 0xd4..=0xd8 => Err(DecodeError::new("a MessagePack extension value, which no model stores")),
            0xc1 => Err(DecodeError::new("byte 0xc1 is never used in MessagePack (damaged bytes?)")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek()? == 0xc0 {
            self.byte()?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value> {
        // Written as an empty array; nil is read too.
        match self.peek()? {
            0xc0 | 0x90 => {
                self.byte()?;
                visitor.visit_unit()
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.map_len()? {
            Some(1) => {
                self.enter()?;
                let value = visitor.visit_enum(Variant { de: self, unit: false })?;
                self.leave();
                Ok(value)
            }
            Some(len) => Err(DecodeError::new(format!("an enum is written as a map of {len} entries, not 1"))),
            None => visitor.visit_enum(Variant { de: self, unit: true }),
        }
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_i128(i128::from_be_bytes(self.bytes16()?))
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_u128(u128::from_be_bytes(self.bytes16()?))
    }

    /// A sequence, or a binary read as a sequence of bytes, as `rmp_serde` reads one: a field
    /// once written as bytes (`serde_bytes`, say) still reads as a `Vec<u8>`.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let len = match self.peek()? {
            0xc4 => {
                self.byte()?;
                self.u8()?
            }
            0xc5 => {
                self.byte()?;
                self.u16()?
            }
            0xc6 => {
                self.byte()?;
                self.u32()?
            }
            _ => return self.deserialize_any(visitor),
        };
        let bytes = self.take(len)?;
        let mut elements = de::value::SeqDeserializer::new(bytes.iter().copied());
        let value = visitor.visit_seq(&mut elements)?;
        elements.end()?;
        Ok(value)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip()?;
        visitor.visit_unit()
    }

    /// Not human-readable, as `rmp_serde` writes models: types that serialize differently for
    /// people (an `IpAddr` as text, or as an enum of bytes) read back what was written.
    fn is_human_readable(&self) -> bool {
        false
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf unit tuple
        tuple_struct map struct identifier
    }
}

impl Deserializer<'_> {
    /// A 128-bit integer, which `rmp_serde` writes as 16 big-endian bytes of binary.
    fn bytes16(&mut self) -> Result<[u8; 16]> {
        match self.byte()? {
            0xc4 if self.u8()? == 16 => self.array(),
            _ => Err(DecodeError::new("a 128-bit integer is not 16 bytes of binary")),
        }
    }
}

/// The elements of an array, or the entries of a map.
struct Compound<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Compound<'_, 'de> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        // Capped: a damaged length must not make a visitor reserve gigabytes.
        Some(self.left.min(4096))
    }
}

impl<'de> de::MapAccess<'de> for Compound<'_, 'de> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left.min(4096))
    }
}

/// An enum: a unit variant's name alone, or a one-entry map from the variant's name to its
/// contents.
struct Variant<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    unit: bool,
}

impl<'de> de::EnumAccess<'de> for Variant<'_, 'de> {
    type Error = DecodeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let variant = seed.deserialize(&mut *self.de)?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_, 'de> {
    type Error = DecodeError;

    fn unit_variant(self) -> Result<()> {
        if !self.unit {
            // `{"Variant": nil}`, as some writers put it.
            <() as de::Deserialize>::deserialize(self.de)?;
        }
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        if self.unit {
            return Err(de::Error::invalid_type(de::Unexpected::UnitVariant, &"a variant with contents"));
        }
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        if self.unit {
            return Err(de::Error::invalid_type(de::Unexpected::UnitVariant, &"a tuple variant"));
        }
        de::Deserializer::deserialize_any(self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value> {
        if self.unit {
            return Err(de::Error::invalid_type(de::Unexpected::UnitVariant, &"a struct variant"));
        }
        de::Deserializer::deserialize_any(self.de, visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Unit;

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Meters(u32);

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Point(i16, i16);

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    enum Shape {
        Empty,
        Circle(f64),
        Line(Point, Point),
        Labelled { label: String, sides: u8 },
    }

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(tag = "type")]
    enum Tagged {
        A { a: u8 },
        B { b: String },
    }

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(untagged)]
    enum Loose {
        Number(i64),
        Text(String),
    }

    /// Every shape of the serde data model a model can take.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Everything {
        id: String,
        flag: bool,
        small: i8,
        negative: i64,
        big: u64,
        ratio: f64,
        single: f32,
        letter: char,
        maybe: Option<String>,
        nested_maybe: Option<Option<u8>>,
        unit: (),
        unit_struct: Unit,
        newtype: Meters,
        pair: (u8, String),
        shapes: Vec<Shape>,
        tagged: Tagged,
        loose: Vec<Loose>,
        by_name: BTreeMap<String, Vec<u16>>,
        by_number: BTreeMap<u32, bool>,
        wide: i128,
        wider: u128,
        #[serde(with = "serde_bytes_like")]
        raw: Vec<u8>,
    }

    /// `Vec<u8>` as MessagePack binary rather than an array of numbers.
    mod serde_bytes_like {
        pub fn serialize<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(bytes)
        }

        pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
            struct Bytes;
            impl serde::de::Visitor<'_> for Bytes {
                type Value = Vec<u8>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
                    Ok(bytes.to_vec())
                }
            }
            deserializer.deserialize_bytes(Bytes)
        }
    }

    /// A few of [`Everything`]'s fields, borrowed: what a view reads.
    #[derive(Deserialize, Debug, PartialEq)]
    struct Few<'a> {
        #[serde(borrow)]
        id: &'a str,
        big: u64,
        #[serde(default)]
        missing: Vec<u8>,
    }

    fn decode<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
        T::deserialize(&mut Deserializer::new(bytes, 128))
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![".{0,40}", "[a-z]{100,300}"]
    }

    fn shape() -> impl Strategy<Value = Shape> {
        prop_oneof![
            Just(Shape::Empty),
            any::<f64>().prop_filter("NaN never equals itself", |f| !f.is_nan()).prop_map(Shape::Circle),
            (any::<(i16, i16)>(), any::<(i16, i16)>()).prop_map(|(a, b)| Shape::Line(Point(a.0, a.1), Point(b.0, b.1))),
            (text(), any::<u8>()).prop_map(|(label, sides)| Shape::Labelled { label, sides }),
        ]
    }

    prop_compose! {
        fn everything()(
            id in text(),
            flag in any::<bool>(),
            small in any::<i8>(),
            negative in any::<i64>(),
            big in any::<u64>(),
            ratio in any::<f64>().prop_filter("NaN never equals itself", |f| !f.is_nan()),
            single in any::<f32>().prop_filter("NaN never equals itself", |f| !f.is_nan()),
            letter in any::<char>(),
            maybe in proptest::option::of(text()),
            nested_maybe in proptest::option::of(proptest::option::of(any::<u8>())),
            newtype in any::<u32>(),
            pair in (any::<u8>(), text()),
            shapes in proptest::collection::vec(shape(), 0..20),
            tagged in prop_oneof![any::<u8>().prop_map(|a| Tagged::A { a }), text().prop_map(|b| Tagged::B { b })],
            loose in proptest::collection::vec(prop_oneof![any::<i64>().prop_map(Loose::Number), text().prop_map(Loose::Text)], 0..5),
            by_name in proptest::collection::btree_map(text(), proptest::collection::vec(any::<u16>(), 0..40), 0..20),
            by_number in proptest::collection::btree_map(any::<u32>(), any::<bool>(), 0..20),
            wide in any::<i128>(),
            wider in any::<u128>(),
            raw in proptest::collection::vec(any::<u8>(), 0..300),
        ) -> Everything {
            // `Some(None)` is written as nil, like `None`: no MessagePack writer keeps it apart.
            let nested_maybe = nested_maybe.filter(Option::is_some);
            Everything {
                id, flag, small, negative, big, ratio, single, letter, maybe, nested_maybe, unit: (),
                unit_struct: Unit, newtype: Meters(newtype), pair, shapes, tagged, loose, by_name,
                by_number, wide, wider, raw,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Whatever `rmp_serde` writes and reads back, this reads back the same.
        #[test]
        fn reads_what_rmp_serde_writes(value in everything()) {
            let bytes = rmp_serde::to_vec_named(&value).unwrap();
            let by_rmp: Everything = rmp_serde::from_slice(&bytes).unwrap();
            prop_assert_eq!(&by_rmp, &value);
            prop_assert_eq!(decode::<Everything>(&bytes).unwrap(), value.clone());
            // Positional (array) structs, as `rmp_serde::to_vec` writes them, read too.
            let positional = rmp_serde::to_vec(&value).unwrap();
            prop_assert_eq!(decode::<Everything>(&positional).unwrap(), value.clone());
            // A view skips every other field, whatever its shape, and borrows its strings.
            let few: Few<'_> = decode(&bytes).unwrap();
            prop_assert_eq!(few, Few { id: &value.id, big: value.big, missing: Vec::new() });
        }

        /// Damaged bytes end in an error, never a panic.
        #[test]
        fn damaged_bytes_are_errors(value in everything(), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>()) {
            let mut bytes = rmp_serde::to_vec_named(&value).unwrap();
            let truncated = &bytes[..cut.index(bytes.len())];
            prop_assert!(decode::<Everything>(truncated).is_err());
            let at = flip.0.index(bytes.len());
            bytes[at] ^= flip.1;
            let _ = decode::<Everything>(&bytes);
            let _ = decode::<Few<'_>>(&bytes);
        }
    }

    #[test]
    fn types_written_differently_for_people_read_back_as_rmp_serde_wrote_them() {
        // An address serializes as text for people and as an enum of bytes otherwise; rmp_serde
        // writes the latter, so reading must not ask for the former.
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct Host {
            ip: std::net::IpAddr,
            v6: std::net::Ipv6Addr,
            at: std::net::SocketAddr,
        }
        let host =
            Host { ip: [10, 0, 0, 1].into(), v6: std::net::Ipv6Addr::LOCALHOST, at: ([127, 0, 0, 1], 80).into() };
        for bytes in [rmp_serde::to_vec_named(&host).unwrap(), rmp_serde::to_vec(&host).unwrap()] {
            assert_eq!(decode::<Host>(&bytes).unwrap(), host);
        }
        let stored = crate::model::encode(&host).unwrap();
        assert_eq!(crate::model::decode::<Host>(&stored).unwrap(), host);
    }

    #[test]
    fn a_binary_reads_as_a_sequence_of_bytes_as_rmp_serde_reads_it() {
        #[derive(Serialize)]
        struct Written {
            data: Bytes,
        }
        struct Bytes(Vec<u8>);
        impl Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
                serializer.serialize_bytes(&self.0)
            }
        }
        #[derive(Deserialize, Debug, PartialEq)]
        struct Read {
            data: Vec<u8>,
        }
        for len in [0, 3, 300, 70_000] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let bytes = rmp_serde::to_vec_named(&Written { data: Bytes(data.clone()) }).unwrap();
            let theirs: Read = rmp_serde::from_slice(&bytes).unwrap();
            assert_eq!(decode::<Read>(&bytes).unwrap(), theirs);
            assert_eq!(theirs.data, data);
        }
        // Too few bytes for the length it claims is an error, not a panic.
        let error = decode::<Vec<u8>>(&[0xc4, 5, 1, 2]).unwrap_err();
        assert!(!error.to_string().is_empty());
        // A tuple of the wrong length is an error too.
        assert!(decode::<(u8, u8)>(&[0xc4, 3, 1, 2, 3]).is_err());
    }

    #[test]
    fn what_is_skipped_is_not_validated_but_what_is_read_is() {
        #[derive(Serialize)]
        struct Stored<'a> {
            id: &'a str,
            #[serde(with = "serde_bytes_like")]
            content: Vec<u8>,
            big: u64,
        }
        // `content` written as a string that is not UTF-8: a view that skips it still reads.
        let mut bytes = rmp_serde::to_vec_named(&Stored { id: "e1", content: vec![0xff, 0xfe], big: 3 }).unwrap();
        let at = bytes.windows(3).position(|w| w == [0xc4, 2, 0xff]).unwrap();
        bytes[at] = 0xd9;
        assert_eq!(decode::<Few<'_>>(&bytes).unwrap(), Few { id: "e1", big: 3, missing: Vec::new() });
        let error = decode::<BTreeMap<String, String>>(&bytes).unwrap_err();
        assert!(error.to_string().contains("not UTF-8"), "{error}");
    }

    #[test]
    fn nesting_is_bounded_when_read_and_when_skipped() {
        // 200 one-element arrays around a nil, as a field a view skips and as a value read.
        let mut deep = vec![0x82, 0xa2, b'i', b'd', 0xa1, b'x', 0xa4, b'd', b'e', b'e', b'p'];
        deep.extend(std::iter::repeat_n(0x91, 200));
        deep.push(0xc0);
        let error = decode::<Few<'_>>(&deep).unwrap_err();
        assert!(error.to_string().contains("nest too deeply"), "{error}");
        let error = decode::<serde_json::Value>(&deep[11..]).unwrap_err();
        assert!(error.to_string().contains("nest too deeply"), "{error}");
    }

    #[test]
    fn every_length_class_reads_and_skips() {
        // 16- and 32-bit lengths of strings, binaries, arrays and maps.
        for len in [31, 32, 255, 256, 65_535, 65_536, 70_000] {
            let text = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let numbers: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let map: BTreeMap<u32, u8> = (0..len as u32).map(|i| (i, i as u8)).collect();
            let value = (text.clone(), numbers.clone(), map.clone());
            let bytes = rmp_serde::to_vec(&value).unwrap();
            assert_eq!(decode::<(String, Vec<u8>, BTreeMap<u32, u8>)>(&bytes).unwrap(), value);
            #[derive(Serialize)]
            struct Wide<'a> {
                text: &'a str,
                id: &'a str,
                numbers: &'a [u8],
                map: &'a BTreeMap<u32, u8>,
                big: u64,
            }
            let wide =
                rmp_serde::to_vec_named(&Wide { text: &text, id: "e", numbers: &numbers, map: &map, big: 7 }).unwrap();
            assert_eq!(decode::<Few<'_>>(&wide).unwrap(), Few { id: "e", big: 7, missing: Vec::new() }, "length {len}");
        }
    }

    #[test]
    fn a_huge_length_is_an_error_not_an_allocation() {
        // An array claiming 4 G elements, with none present.
        let error = decode::<Vec<u64>>(&[0xdd, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
        assert!(error.to_string().contains("end in the middle"), "{error}");
    }
}
