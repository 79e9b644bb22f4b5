//! A job over two models, with parameters, an explicit name and doc comments.
#![deny(warnings)]

use jobs_core::prelude::*;
use jobs_core::{MemoryStore, Params, registry, testing};

mod models {
    use jobs_core::prelude::*;

    #[derive(Model, Serialize, Deserialize)]
    pub struct Exploration {
        pub id: String,
        pub title: String,
    }

    /// Stored under a kind that is not the type's name.
    #[derive(Model, Serialize, Deserialize)]
    #[model(kind = "CollectionModel")]
    pub struct Collection {
        #[model(id)]
        pub collection_id: String,
        pub title: String,
    }
}

use models::{Collection, Exploration};

/// Counts titles longer than `min_len` across explorations and collections.
///
/// Titles are counted once per entity.
#[one_off_job(models = [Exploration, models::Collection], name = "LongTitles", shards = 16)]
pub struct LongTitleCountJob {
    /// The shortest title counted.
    min_len: usize,
    /// Only titles starting with this, if given.
    prefix: Option<String>,
    /// Ids to skip.
    skip: Vec<String>,
}

impl LongTitleCountJob {
    fn counts(&self, id: &str, title: &str) -> bool {
        title.len() >= self.min_len
            && self.prefix.as_deref().is_none_or(|p| title.starts_with(p))
            && !self.skip.iter().any(|s| s == id)
    }
}

impl Map<Exploration> for LongTitleCountJob {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if self.counts(&item.id, &item.title) {
            ctx.emit("exploration".to_owned(), 1);
        }
        Ok(())
    }
}

impl Map<Collection> for LongTitleCountJob {
    fn map(&self, item: Collection, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if self.counts(&item.collection_id, &item.title) {
            ctx.emit("collection".to_owned(), 1);
        }
        Ok(())
    }
}

impl Reduce for LongTitleCountJob {
    type Key = String;
    type Value = u64;
    fn reduce(&self, key: String, values: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.line(format!("{key} {}", values.sum::<u64>()));
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let job = registry()?.get("LongTitles")?;
    assert_eq!(job.models(), ["Exploration", "CollectionModel"]);
    assert_eq!(job.default_shards(), 16);
    assert_eq!(job.summary(), "Counts titles longer than `min_len` across explorations and collections.");
    assert!(job.description().ends_with("Titles are counted once per entity."));
    let params: Vec<_> = job.params().iter().map(|p| (p.name, p.type_name, p.required, p.doc)).collect();
    assert_eq!(
        params,
        [
            ("min_len", "usize", true, "The shortest title counted."),
            ("prefix", "Option<String>", false, "Only titles starting with this, if given."),
            ("skip", "Vec<String>", false, "Ids to skip."),
        ]
    );
    assert!(job.check_params(&Params::parse_args(["min_len=x"])?).is_err());

    let store = MemoryStore::new();
    testing::put_all(
        &store,
        &[
            Exploration { id: "e1".into(), title: "A long title".into() },
            Exploration { id: "e2".into(), title: "Short".into() },
        ],
    )?;
    testing::put_all(&store, &[Collection { collection_id: "c1".into(), title: "Another long one".into() }])?;
    let report = testing::run(&LongTitleCountJob { min_len: 8, prefix: None, skip: vec![] }, &store)?;
    assert_eq!(report.output, ["collection 1", "exploration 1"]);
    Ok(())
}
