//! A watch of one of our custom resources that survives objects the
//! operator cannot read: an object stored under an older or looser schema,
//! or edited around validation, that no longer fits the Rust types. A typed
//! kube watcher fails its whole list on one such object, which stalls the
//! controller for every other object. Here each object is decoded on its
//! own; one that does not decode is skipped, logged, counted and reported
//! as a Warning Event on it, and the others keep flowing.

use std::fmt::Debug;
use std::sync::Arc;

use futures::{Stream, TryStreamExt, future};
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use crate::context::Context;

/// The objects of kind `K` in every namespace, as a controller trigger
/// stream, and the cache they fill.
pub fn watch<K>(
    ctx: Arc<Context>,
    controller: &'static str,
) -> (Store<K>, impl Stream<Item = Result<K, watcher::Error>>)
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug + Send + Sync + 'static,
{
    let resource = ApiResource::erase::<K>(&());
    let api = Api::<DynamicObject>::all_with(ctx.client.clone(), &resource);
    let (reader, writer) = reflector::store();
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        .try_filter_map(move |event| {
            future::ready(Ok(decode_event::<K>(event, &ctx, controller, &resource)))
        })
        .reflect(writer)
        .applied_objects();
    (reader, events)
}

fn decode_event<K>(
    event: watcher::Event<DynamicObject>,
    ctx: &Arc<Context>,
    controller: &'static str,
    resource: &ApiResource,
) -> Option<watcher::Event<K>>
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
{
    let decode = |object| decode::<K>(object, ctx, controller, resource);
    match event {
        watcher::Event::Init => Some(watcher::Event::Init),
        watcher::Event::InitDone => Some(watcher::Event::InitDone),
        watcher::Event::InitApply(object) => decode(object).map(watcher::Event::InitApply),
        watcher::Event::Apply(object) => decode(object).map(watcher::Event::Apply),
        // An unreadable object that goes away: nothing of it was cached.
        watcher::Event::Delete(object) => decode(object).map(watcher::Event::Delete),
    }
}

/// Why an object does not decode as its Rust type.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The object does not serialize to JSON.
    #[error(transparent)]
    Json(serde_json::Error),
    /// A field does not fit; shown as `spec.component: …`, which tells the
    /// user what to fix.
    #[error(transparent)]
    Field(#[from] serde_path_to_error::Error<serde_json::Error>),
}

/// One object as `K`; the error names the field that does not fit.
pub fn decode_object<K: DeserializeOwned>(object: &DynamicObject) -> Result<K, DecodeError> {
    let value = serde_json::to_value(object).map_err(DecodeError::Json)?;
    Ok(serde_path_to_error::deserialize::<_, K>(value)?)
}

fn decode<K>(
    object: DynamicObject,
    ctx: &Arc<Context>,
    controller: &'static str,
    resource: &ApiResource,
) -> Option<K>
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
{
    match decode_object::<K>(&object) {
        Ok(typed) => Some(typed),
        Err(error) => {
            let kind = &resource.kind;
            let name = object.metadata.name.clone().unwrap_or_default();
            let namespace = object.metadata.namespace.clone().unwrap_or_default();
            tracing::warn!(
                %kind, %name, %namespace, %error,
                "cannot read this object; skipping it until it is fixed (the others are reconciled)"
            );
            ctx.metrics.record_error(controller);
            let reference = object.object_ref(resource);
            let ctx = ctx.clone();
            let note = format!(
                "coral-operator cannot read this {kind}: {error}; fix the field or delete and re-create the object"
            );
            tokio::spawn(async move {
                let event = Event {
                    type_: EventType::Warning,
                    reason: "Unreadable".into(),
                    note: Some(note),
                    action: "Decode".into(),
                    secondary: None,
                };
                if ctx.recorder.publish(&event, &reference).await.is_ok() {
                    ctx.metrics.record_write("Event");
                }
            });
            None
        }
    }
}
