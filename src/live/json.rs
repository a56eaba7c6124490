//! show's JSON: the stable format of `docs/SHOW-FORMAT.md`.
//!
//! `{"version": 1, "namespaces": [{"name": …, "netns_id": …, "links": […], "qdiscs": […],
//! …}]}`: one list per object kind ([`super::KINDS`]), each object of a kind with the same
//! keys always (`null` where the kernel reports nothing), named and valued as iproute2's
//! JSON does (`ifname`, `addr_info`, `dst`, `gateway`, MAC addresses as strings, handles
//! as `1:10`, protocols and tables by name).

use super::{Live, KINDS};
use serde_json::{json, Map, Value};

/// The version of the format: raised only for a change that breaks a reader (a key
/// removed or its meaning changed); new keys and kinds do not raise it.
pub const VERSION: u32 = 1;

pub fn render(live: &Live) -> String {
    let namespaces: Vec<Value> = live
        .namespaces
        .iter()
        .map(|ns| {
            let mut object = Map::new();
            object.insert("name".into(), json!(ns.name));
            object.insert("netns_id".into(), json!(ns.id));
            for kind in KINDS {
                object.insert(kind.key().into(), Value::Array(kind.json(live, ns)));
            }
            if let Some(stats) = &ns.tc_stats {
                object.insert("tc_stats".into(), serde_json::to_value(stats).expect("statistics serialize"));
            }
            Value::Object(object)
        })
        .collect();
    let value = json!({ "version": VERSION, "namespaces": namespaces });
    serde_json::to_string_pretty(&value).expect("JSON values serialize") + "\n"
}
