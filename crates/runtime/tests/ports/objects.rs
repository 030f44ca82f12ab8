use im_runtime::objects::{self, ObjectStoreHandle};
use im_runtime::secret::SecretUrl;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

/// The behaviour every object store adapter must have.
async fn contract(store: ObjectStoreHandle) {
    let path = Path::from("files/ab/abcdef");
    let body: Vec<u8> = (0..=255_u8).cycle().take(100_000).collect();
    store
        .put(&path, PutPayload::from(body.clone()))
        .await
        .unwrap();

    let head = store.head(&path).await.unwrap();
    assert_eq!(head.size, body.len() as u64);

    let all = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(&all[..], &body[..]);

    let range = store.get_range(&path, 1000..1010).await.unwrap();
    assert_eq!(&range[..], &body[1000..1010]);

    store.delete(&path).await.unwrap();
    assert!(matches!(
        store.head(&path).await,
        Err(object_store::Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn memory_store_keeps_the_contract() {
    contract(objects::connect(&SecretUrl::new("memory://")).unwrap()).await;
}

#[tokio::test]
async fn local_disk_store_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let url = SecretUrl::new(format!("file://{}/objects", dir.path().display()));
    contract(objects::connect(&url).unwrap()).await;
    assert!(dir.path().join("objects").is_dir());
}
