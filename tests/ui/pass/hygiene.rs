//! The generated code is immune to the user's names: a trait in scope whose methods are named
//! like every helper the expansion might call, lowercase constants named like its locals, and
//! items shadowing every standard name it might use.
#![deny(warnings)]
#![allow(non_upper_case_globals, non_camel_case_types, dead_code, clippy::all)]

use jobs_core::prelude::*;

/// A trait implemented for everything, with every method name the expansion could call.
pub trait Everything {
    fn dispatch(&self) {}
    fn map_listed(self)
    where
        Self: Sized,
    {
    }
    fn spec(&self) {}
    fn field(&self) {}
    fn check_names(&self) {}
    fn map_stored(&self) {}
    fn from_params(&self) {}
}

impl<T: ?Sized> Everything for T {}

/// The job's own module shadows the standard names and the generated locals' names.
mod shadowed {
    #[allow(unused_imports)]
    use super::Everything as _;
    use ::jobs_core::prelude::*;

    pub const params: u8 = 0;
    pub const bytes: u8 = 1;
    pub const ctx: u8 = 2;
    pub const model: u8 = 3;
    pub const Ok: u8 = 4;
    pub const Err: u8 = 5;
    pub const None: u8 = 6;
    pub struct Result;
    pub struct Option;
    pub struct String;
    pub struct Vec;
    pub mod core {}
    pub mod std {}
    pub mod serde {}
    pub mod inventory {}
    pub mod jobs_core {}

    #[derive(Model, ::serde::Serialize, ::serde::Deserialize)]
    pub struct Exploration {
        pub id: ::std::string::String,
    }

    pub use primitives::Audit;

    /// The primitive types shadowed as well (serde's derive on `Exploration` needs them).
    mod primitives {
        use super::Exploration;
        #[allow(unused_imports)]
        use super::{Ok, Option, Result, String, Vec, bytes, ctx, model, params};
        use ::jobs_core::prelude::*;

        pub struct str;
        pub struct usize;
        pub struct u8;
        pub struct u64;

        /// Counts explorations.
        #[one_off_job(models = [Exploration], shards = 2, max_failures = 3)]
        pub struct Audit {
            /// A parameter.
            pub label: ::std::option::Option<::std::string::String>,
            /// A raw identifier: the parameter is `type`.
            pub r#type: ::std::option::Option<::std::string::String>,
        }
    }
}

use shadowed::{Audit, Exploration};

impl Map<Exploration> for Audit {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, 1);
        Ok(())
    }
}

impl Reduce for Audit {
    type Key = String;
    type Value = u32;
    fn reduce(&self, key: String, values: Values<'_, u32>, out: &mut Output) -> Outcome {
        out.line(format!("{}{key} {}", self.r#type.as_deref().unwrap_or(""), values.sum::<u32>()));
        Ok(())
    }
}

fn main() {
    use jobs_core::{Job, MemoryStore, Params, testing};

    let names: Vec<&str> = Audit::PARAMS.iter().map(|param| param.name).collect();
    assert_eq!(names, ["label", "type"]);
    let job = <Audit as Job>::from_params(&Params::parse_args(["type=kind:"]).unwrap()).unwrap();
    assert_eq!(job.r#type.as_deref(), Some("kind:"));
    assert_eq!(Audit::MAX_FAILURES, 3);

    let store = MemoryStore::new();
    testing::put_all(&store, &[Exploration { id: "e1".into() }]).unwrap();
    assert_eq!(testing::run(&job, &store).unwrap().output, ["kind:e1 1"]);
}
