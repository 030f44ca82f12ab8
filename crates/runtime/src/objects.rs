//! The object store port is the `object_store` crate's trait; this module picks the
//! adapter from the URL: `file://<dir>` (local disk) or `memory://`.

use crate::secret::SecretUrl;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use std::sync::Arc;

pub type ObjectStoreHandle = Arc<dyn ObjectStore>;

#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error("cannot use object store directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] object_store::Error),
    #[error("unsupported object store url scheme {0:?} (expected file:// or memory://)")]
    UnsupportedScheme(String),
}

pub fn connect(url: &SecretUrl) -> Result<ObjectStoreHandle, ObjectStoreError> {
    match url.scheme() {
        "memory" => Ok(Arc::new(InMemory::new())),
        "file" => {
            // `file://data/objects` (relative) and `file:///srv/objects` (absolute).
            let path = url.expose().trim_start_matches("file://");
            std::fs::create_dir_all(path).map_err(|source| ObjectStoreError::Directory {
                path: path.to_owned(),
                source,
            })?;
            Ok(Arc::new(LocalFileSystem::new_with_prefix(path)?))
        }
        other => Err(ObjectStoreError::UnsupportedScheme(other.to_owned())),
    }
}
