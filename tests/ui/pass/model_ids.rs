//! The id field is checked by type, not by spelling: an alias of `String`, an alias of an
//! alias, and `String` by its full path are all ids.
#![deny(warnings)]

use jobs_core::prelude::*;

type ExplorationId = String;
type Id = ExplorationId;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: ExplorationId,
}

#[derive(Model, Serialize, Deserialize)]
pub struct Collection {
    #[model(id)]
    collection_id: Id,
}

#[derive(Model, Serialize, Deserialize)]
pub struct User {
    #[model(id)]
    user_id: std::string::String,
}

// Two different kinds in one job are fine, and so is one type whose kind is set explicitly.
#[derive(Model, Serialize, Deserialize)]
#[model(kind = "ExplorationRights")]
pub struct Rights {
    id: String,
}

#[one_off_job(models = [Exploration, Collection, User, Rights])]
pub struct Everything;

macro_rules! map_counts {
    ($($model:ident . $id:ident),*) => {$(
        impl Map<$model> for Everything {
            fn map(&self, item: $model, ctx: &mut MapContext<'_, Self>) -> Outcome {
                ctx.emit(item.$id, 1);
                Ok(())
            }
        }
    )*};
}

map_counts!(Exploration.id, Collection.collection_id, User.user_id, Rights.id);

impl Reduce for Everything {
    type Key = String;
    type Value = u32;
    fn reduce(&self, _key: String, _values: Values<'_, u32>, _out: &mut Output) -> Outcome {
        Ok(())
    }
}

fn main() {
    assert_eq!(Exploration { id: "e1".into() }.id(), "e1");
    assert_eq!(Collection { collection_id: "c1".into() }.id(), "c1");
    assert_eq!(User { user_id: "u1".into() }.id(), "u1");
    assert_eq!(<Everything as jobs_core::Job>::MODELS, ["Exploration", "Collection", "User", "ExplorationRights"]);
}
