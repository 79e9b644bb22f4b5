//! Models: the stored entities a job maps over, and how they are encoded.
//!
//! # Encoding
//!
//! Every stored entity is one byte of format tag followed by the model serialized as
//! MessagePack **with field names** (`rmp_serde::to_vec_named`). The choice, measured on
//! Oppia-like explorations (see `DESIGN.md`):
//!
//! * it is self-describing, so a model can gain a field with `#[serde(default)]` and old rows
//!   still decode, and an old binary still reads new rows (unknown fields are skipped);
//!   postcard and bincode failed both directions of that test;
//! * it decoded about 1.5× faster than JSON and is about 30% smaller;
//! * the tag byte lets a later format live beside this one without a migration.
//!
//! Decoding uses a reader of our own rather than `rmp_serde`'s: it skips the fields a model
//! does not have by their lengths, without validating or visiting them, which matters when a
//! job reads three fields of a 2 KB entity. It reads everything `rmp_serde` writes.

mod msgpack;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use msgpack::DecodeError;

/// The tag byte that starts every entity encoded by this version of jobs-core.
const FORMAT_MSGPACK_NAMED: u8 = 1;
/// How deeply stored values may nest. Far beyond any model, and low enough that decoding
/// damaged bytes (a long run of one-element arrays, say) ends in an error rather than a stack
/// overflow, which would abort the process: worker threads have 2 MiB stacks, and
/// MessagePack's own default of 1024 levels overflows them in a debug build.
const MAX_NESTING: usize = 128;

/// An entity kind stored in a [`Store`](crate::Store), such as `ExplorationModel`.
///
/// Derive it: `#[derive(Model, Serialize, Deserialize)]`, with `#[model(id)]` on the `String`
/// field that identifies an entity (a field named `id` is used when none is marked).
/// `#[model(kind = "...")]` on the struct overrides the kind, which defaults to the type's name.
///
/// ```
/// use jobs_core::Model;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Model, Serialize, Deserialize)]
/// struct UserSettingsModel {
///     #[model(id)]
///     user_id: String,
///     username: Option<String>,
/// }
///
/// let user = UserSettingsModel { user_id: "u1".into(), username: None };
/// assert_eq!(UserSettingsModel::KIND, "UserSettingsModel");
/// assert_eq!(user.id(), "u1");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a jobs model",
    label = "not a model",
    note = "add `#[derive(Model, Serialize, Deserialize)]` to `{Self}` and mark its id field with `#[model(id)]`"
)]
pub trait Model: Serialize + DeserializeOwned + Send + 'static {
    /// The kind name under which entities of this model are stored.
    const KIND: &'static str;

    /// Whether this type is a *view*: a few of another model's fields, decoded from the same
    /// stored entities (same [`KIND`](Self::KIND)) while the rest are skipped unread. A job
    /// that reads three fields of a large model maps faster over a view of them: strings it
    /// does not read are neither allocated nor copied. Views are written by hand, not derived,
    /// so they are not registered as models of their own; and they can only be read:
    /// [`MapContext::put`](crate::MapContext::put) of a view does not compile, since it would
    /// store the entity without the fields the view leaves out.
    ///
    /// ```
    /// use jobs_core::Model;
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Model, Serialize, Deserialize)]
    /// struct UserSettingsModel { id: String, username: Option<String>, email: String }
    ///
    /// /// What a username audit reads of a user.
    /// #[derive(Serialize, Deserialize)]
    /// struct Username { id: String, username: Option<String> }
    ///
    /// impl Model for Username {
    ///     const KIND: &'static str = UserSettingsModel::KIND;
    ///     const VIEW: bool = true;
    ///     fn id(&self) -> &str {
    ///         &self.id
    ///     }
    /// }
    ///
    /// let user = UserSettingsModel { id: "u1".into(), username: Some("ada".into()), email: "a@x".into() };
    /// let view: Username = jobs_core::model::decode(&jobs_core::model::encode(&user)?)?;
    /// assert_eq!(view.username.as_deref(), Some("ada"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    const VIEW: bool = false;

    /// The entity's id, unique within its kind. Entities are stored and scanned in id order.
    fn id(&self) -> &str;

    /// The type's path where the derive found it (`module_path!()` and the name), which tells
    /// two models of one kind apart from one model listed twice. Set by `#[derive(Model)]`.
    #[doc(hidden)]
    const __TYPE_PATH: &'static str = "";
}

/// The type of a model's id field: `String` (or an alias of it), and nothing else.
/// `#[derive(Model)]` reads the id through it, so an id field of another type is reported at
/// that field's type, with this advice.
#[diagnostic::on_unimplemented(
    message = "a model id must be a `String`, not `{Self}`",
    label = "the id field's type",
    note = "entities are stored and split into shards by id text: make the id field a `String` (or an alias of it), and convert other ids with `to_string()` when building the model"
)]
pub trait ModelId {
    /// The id as text.
    fn as_model_id(&self) -> &str;
}

impl ModelId for String {
    #[inline]
    fn as_model_id(&self) -> &str {
        self
    }
}

/// The text of a model's id field, which `#[derive(Model)]`'s `id()` returns: the one place
/// the id field's type must be a [`ModelId`], checked by type rather than by spelling (an alias
/// of `String` is fine).
#[doc(hidden)]
#[inline]
pub fn id_text<T: ModelId + ?Sized>(id: &T) -> &str {
    id.as_model_id()
}

/// What a model kind is, for code that only has its name: `jobs import`/`jobs export` and the
/// admin page. `#[derive(Model)]` registers one per model.
#[derive(Debug)]
pub struct ModelDescriptor {
    kind: &'static str,
    type_name: &'static str,
    module_path: &'static str,
    file: &'static str,
    line: u32,
    from_json: JsonToStored,
    from_json_strict: JsonToStored,
    to_json: fn(&[u8]) -> Result<String, String>,
}

/// Parses a JSON object into (id, stored bytes).
type JsonToStored = fn(&str) -> Result<(String, Vec<u8>), String>;

inventory::collect!(ModelDescriptor);

impl ModelDescriptor {
    #[doc(hidden)]
    pub const fn __new<M: Model>(
        type_name: &'static str,
        module_path: &'static str,
        file: &'static str,
        line: u32,
    ) -> Self {
        ModelDescriptor {
            kind: M::KIND,
            type_name,
            module_path,
            file,
            line,
            from_json: json_to_stored::<M>,
            from_json_strict: json_to_stored_strict::<M>,
            to_json: stored_to_json::<M>,
        }
    }

    /// The kind name, as stored.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The Rust type that defines the model.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The module that defines it, e.g. `jobs_examples::models`.
    pub fn module_path(&self) -> &'static str {
        self.module_path
    }

    /// Where it is defined, as `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// Parses one JSON object into the model, returning its id and stored bytes.
    ///
    /// # Errors
    /// The JSON does not describe this model; the message says which field is wrong.
    pub fn json_to_stored(&self, json: &str) -> Result<(String, Vec<u8>), String> {
        (self.from_json)(json)
    }

    /// As [`json_to_stored`](Self::json_to_stored), refusing a field the model does not have
    /// (a misspelt `"delted": true` would otherwise be dropped without a word), in nested
    /// objects too.
    ///
    /// # Errors
    /// As `json_to_stored`, or the JSON has a field the model does not: the message names the
    /// first, by its path (`title`, `states.intro.extra`).
    pub fn json_to_stored_strict(&self, json: &str) -> Result<(String, Vec<u8>), String> {
        (self.from_json_strict)(json)
    }

    /// Decodes stored bytes and renders them as one line of JSON.
    ///
    /// # Errors
    /// The bytes are not a valid encoding of this model.
    pub fn stored_to_json(&self, bytes: &[u8]) -> Result<String, String> {
        (self.to_json)(bytes)
    }
}

/// Every model linked into the binary, sorted by kind.
pub fn models() -> Vec<&'static ModelDescriptor> {
    let mut all: Vec<_> = inventory::iter::<ModelDescriptor>.into_iter().collect();
    all.sort_by_key(|m| m.kind);
    all
}

/// The model registered under `kind`, if any. Two models of one kind in one binary are an
/// error that [`registry()`](crate::registry()) reports; until it is fixed this returns the
/// first one registered.
pub fn find_model(kind: &str) -> Option<&'static ModelDescriptor> {
    inventory::iter::<ModelDescriptor>.into_iter().find(|m| m.kind == kind)
}

/// Two model types stored under one kind: the kind and both places, `file:line (type in
/// module)`, in a stable order.
pub fn duplicate_kind(
    models: impl IntoIterator<Item = &'static ModelDescriptor>,
) -> Option<(&'static str, String, String)> {
    let mut all: Vec<&'static ModelDescriptor> = models.into_iter().collect();
    all.sort_by_key(|m| (m.kind, m.module_path, m.file, m.line, m.type_name));
    all.windows(2).find(|pair| pair[0].kind == pair[1].kind).map(|pair| {
        let place = |m: &ModelDescriptor| format!("{} (`{}` in {})", m.location(), m.type_name, m.module_path);
        (pair[0].kind, place(pair[0]), place(pair[1]))
    })
}

fn json_to_stored<M: Model>(json: &str) -> Result<(String, Vec<u8>), String> {
    let model: M = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let id = model.id().to_owned();
    if id.is_empty() {
        return Err("the id is empty".to_owned());
    }
    let bytes = encode(&model).map_err(|e| e.to_string())?;
    Ok((id, bytes))
}

fn json_to_stored_strict<M: Model>(json: &str) -> Result<(String, Vec<u8>), String> {
    let mut unknown: Option<String> = None;
    let mut decoder = serde_json::Deserializer::from_str(json);
    let model: M = serde_ignored::deserialize(&mut decoder, |path| {
        if unknown.is_none() {
            unknown = Some(path.to_string());
        }
    })
    .map_err(|e| e.to_string())?;
    decoder.end().map_err(|e| e.to_string())?;
    if let Some(field) = unknown {
        return Err(format!(
            "the field `{field}` is not a field of {} (--allow-unknown-fields imports the line without it)",
            M::KIND
        ));
    }
    let id = model.id().to_owned();
    if id.is_empty() {
        return Err("the id is empty".to_owned());
    }
    let bytes = encode(&model).map_err(|e| e.to_string())?;
    Ok((id, bytes))
}

fn stored_to_json<M: Model>(bytes: &[u8]) -> Result<String, String> {
    let model: M = decode(bytes).map_err(|e| e.to_string())?;
    serde_json::to_string(&model).map_err(|e| e.to_string())
}

/// A model could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The stored bytes are empty.
    #[error("the stored entity is empty")]
    Empty,
    /// The stored bytes start with a format tag this version does not know.
    #[error(
        "the stored entity has format tag {0}, which this version of jobs does not know (written by a newer version?)"
    )]
    UnknownFormat(u8),
    /// The bytes are MessagePack but do not match the model's fields.
    #[error("the stored entity does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// The model could not be serialized (a map with non-string keys, say).
    #[error("the model does not encode: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
}

/// Encodes a model as stored: the format tag, then MessagePack with field names.
///
/// # Errors
/// The model's `Serialize` impl failed.
pub fn encode<M: Serialize + ?Sized>(model: &M) -> Result<Vec<u8>, CodecError> {
    // Oppia-like entities are a few KB; start big enough that most need no regrowth.
    let mut bytes = Vec::with_capacity(4096);
    bytes.push(FORMAT_MSGPACK_NAMED);
    rmp_serde::encode::write_named(&mut bytes, model)?;
    Ok(bytes)
}

/// Decodes stored bytes written by [`encode`].
///
/// # Errors
/// The bytes are empty, carry an unknown format tag, or do not match `M`'s fields.
pub fn decode<M: DeserializeOwned>(bytes: &[u8]) -> Result<M, CodecError> {
    decode_borrowed(bytes)
}

/// Decodes stored bytes written by [`encode`] into a value that may borrow from them: a view
/// with `&str` fields, read without allocating a string. Fields `M` does not have are skipped
/// unread.
///
/// ```
/// use serde::Deserialize;
///
/// #[derive(serde::Serialize)]
/// struct Exploration { id: String, title: String, content: String }
///
/// #[derive(Deserialize)]
/// struct Title<'a> {
///     #[serde(borrow)]
///     title: &'a str,
/// }
///
/// let stored = jobs_core::model::encode(&Exploration {
///     id: "e1".into(),
///     title: "Fractions".into(),
///     content: "a long text that is skipped".into(),
/// })?;
/// let view: Title<'_> = jobs_core::model::decode_borrowed(&stored)?;
/// assert_eq!(view.title, "Fractions");
/// # Ok::<(), jobs_core::model::CodecError>(())
/// ```
///
/// # Errors
/// The bytes are empty, carry an unknown format tag, or do not match `M`'s fields.
pub fn decode_borrowed<'de, M: Deserialize<'de>>(bytes: &'de [u8]) -> Result<M, CodecError> {
    match bytes.split_first() {
        None => Err(CodecError::Empty),
        Some((&FORMAT_MSGPACK_NAMED, body)) => {
            let mut deserializer = msgpack::Deserializer::new(body, MAX_NESTING);
            Ok(M::deserialize(&mut deserializer)?)
        }
        Some((&tag, _)) => Err(CodecError::UnknownFormat(tag)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Old {
        id: String,
        title: String,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct New {
        id: String,
        title: String,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[test]
    fn models_can_gain_a_defaulted_field_both_ways() {
        let old = Old { id: "e1".into(), title: "T".into() };
        let as_new: New = decode(&encode(&old).unwrap()).unwrap();
        assert_eq!(as_new, New { id: "e1".into(), title: "T".into(), tags: vec![] });

        let new = New { id: "e2".into(), title: "U".into(), tags: vec!["x".into()] };
        let as_old: Old = decode(&encode(&new).unwrap()).unwrap();
        assert_eq!(as_old, Old { id: "e2".into(), title: "U".into() });
    }

    #[test]
    fn unknown_tags_and_garbage_are_errors_not_panics() {
        assert!(matches!(decode::<Old>(&[]), Err(CodecError::Empty)));
        assert!(matches!(decode::<Old>(&[9, 1, 2]), Err(CodecError::UnknownFormat(9))));
        assert!(matches!(decode::<Old>(&[1, 0xc1, 0xff]), Err(CodecError::Decode(_))));
    }
}
