//! JSON Schemas of every JSON document the C ABI reads or writes (c-abi rule 11), generated
//! from the Rust types that parse and write them, so that each binding derives its types from
//! one source. The document is committed as `include/inferencekey.schema.json`; a test fails
//! when it is stale (`IK_UPDATE_SCHEMA=1 cargo test -p inferencekey-ffi schema` rewrites it).

use inferencekey_core::config::{CallOptions, ClientConfig};
use inferencekey_core::data::{
    DataClientDescription, EmbedRequest, EndpointDescription, GenerateRequest, RerankRequest,
    RerankResult, TextChunk,
};
use inferencekey_core::log::Record;
use inferencekey_core::management::ManagementDescription;
use inferencekey_core::readiness::ReadinessEvent;
use inferencekey_core::reconcile::EnsureResult;
use inferencekey_core::spec::WorkloadSpec;
use inferencekey_core::workload::Workload;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};

use crate::endpoint::{EmbedResultOut, EndpointRequest, TextResultOut};
use crate::management::{Deleted, EnsureRequest, ProjectRequest, SlugRequest};
use crate::stream::StreamMetadata;
use crate::version::IK_ABI_VERSION;

/// What one function reads and writes; every field a `$ref` into `$defs`.
struct Function {
    name: &'static str,
    /// Has an `_async` twin with the same shapes (its callback gets `result`; for a stream
    /// opener, only the twin has a `result`: the stream's metadata once open).
    has_async: bool,
    request: Option<Schema>,
    result: Option<Schema>,
    items: Option<Schema>,
}

/// Request types are read (serde's deserialize view: defaults, optional keys), results are
/// written (every key present): one generator for each view.
struct Generators {
    read: SchemaGenerator,
    write: SchemaGenerator,
}

impl Generators {
    fn read<T: JsonSchema>(&mut self) -> Option<Schema> {
        Some(self.read.subschema_for::<T>())
    }

    fn write<T: JsonSchema + ?Sized>(&mut self) -> Option<Schema> {
        Some(self.write.subschema_for::<T>())
    }

    /// Both views' definitions; a name defined differently by the two is a bug here.
    fn definitions(mut self) -> Map<String, Value> {
        let mut all = self.read.take_definitions(true);
        for (name, schema) in self.write.take_definitions(true) {
            if let Some(read) = all.get(&name) {
                assert_eq!(read, &schema, "{name} differs between requests and results");
            }
            all.insert(name, schema);
        }
        all.sort_keys();
        all
    }
}

fn functions(g: &mut Generators) -> Vec<Function> {
    let op = |name, has_async, request, result| Function {
        name,
        has_async,
        request,
        result,
        items: None,
    };
    let mut all = vec![
        op(
            "ik_management_client_new",
            false,
            g.read::<ClientConfig>(),
            None,
        ),
        op(
            "ik_management_client_with_options",
            false,
            g.read::<CallOptions>(),
            None,
        ),
        op(
            "ik_management_client_describe",
            false,
            None,
            g.write::<ManagementDescription>(),
        ),
        op(
            "ik_management_ensure",
            true,
            g.read::<EnsureRequest>(),
            g.write::<EnsureResult>(),
        ),
        op(
            "ik_management_plan",
            true,
            g.read::<EnsureRequest>(),
            g.write::<EnsureResult>(),
        ),
        op(
            "ik_management_list",
            true,
            g.read::<ProjectRequest>(),
            g.write::<[Workload]>(),
        ),
        op(
            "ik_management_get",
            true,
            g.read::<SlugRequest>(),
            g.write::<Workload>(),
        ),
        op(
            "ik_management_delete",
            true,
            g.read::<SlugRequest>(),
            g.write::<Deleted>(),
        ),
        op(
            "ik_management_wait_until_ready",
            true,
            g.read::<SlugRequest>(),
            g.write::<ReadinessEvent>(),
        ),
        Function {
            items: g.write::<ReadinessEvent>(),
            ..op(
                "ik_management_readiness_events",
                true,
                g.read::<SlugRequest>(),
                g.write::<StreamMetadata>(),
            )
        },
        op(
            "ik_workload_spec_validate",
            false,
            g.read::<WorkloadSpec>(),
            None,
        ),
        op("ik_data_client_new", false, g.read::<ClientConfig>(), None),
        op(
            "ik_data_client_with_options",
            false,
            g.read::<CallOptions>(),
            None,
        ),
        op(
            "ik_data_client_describe",
            false,
            None,
            g.write::<DataClientDescription>(),
        ),
        op("ik_endpoint_new", false, g.read::<EndpointRequest>(), None),
        op(
            "ik_endpoint_describe",
            false,
            None,
            g.write::<EndpointDescription>(),
        ),
        op(
            "ik_endpoint_generate_text",
            true,
            g.read::<GenerateRequest>(),
            g.write::<TextResultOut>(),
        ),
        Function {
            items: g.write::<TextChunk>(),
            ..op(
                "ik_endpoint_generate_text_stream",
                true,
                g.read::<GenerateRequest>(),
                g.write::<StreamMetadata>(),
            )
        },
        op(
            "ik_endpoint_embed",
            true,
            g.read::<EmbedRequest>(),
            g.write::<EmbedResultOut>(),
        ),
        op(
            "ik_endpoint_rerank",
            true,
            g.read::<RerankRequest>(),
            g.write::<RerankResult>(),
        ),
        op(
            "ik_stream_metadata",
            false,
            None,
            g.write::<StreamMetadata>(),
        ),
        op(
            "ik_error_details_json",
            false,
            None,
            g.write::<Map<String, Value>>(),
        ),
        op("ik_log_set_callback", false, None, g.write::<Record>()),
    ];
    #[cfg(feature = "dev-server")]
    {
        use crate::dev::{CreateProjectRequest, MintTokenRequest, MintedToken};
        use inferencekey_dev::{DevConfig, DevInfo, ProjectCredentials};
        all.extend([
            op(
                "ik_dev_server_start",
                false,
                g.read::<DevConfig>(),
                g.write::<DevInfo>(),
            ),
            op(
                "ik_dev_server_create_project",
                false,
                g.read::<CreateProjectRequest>(),
                g.write::<ProjectCredentials>(),
            ),
            op(
                "ik_dev_server_mint_token",
                false,
                g.read::<MintTokenRequest>(),
                g.write::<MintedToken>(),
            ),
        ]);
    }
    all
}

/// The whole document: `functions` maps each function to its shapes, `$defs` holds them.
pub fn document() -> Value {
    let settings = SchemaSettings::draft2020_12();
    let mut g = Generators {
        read: settings.clone().for_deserialize().into_generator(),
        write: settings.for_serialize().into_generator(),
    };
    let mut table = Map::new();
    for f in functions(&mut g) {
        let mut entry = Map::new();
        for (key, schema) in [
            ("request", f.request),
            ("result", f.result),
            ("items", f.items),
        ] {
            if let Some(schema) = schema {
                entry.insert(key.to_owned(), schema.to_value());
            }
        }
        if f.has_async {
            table.insert(format!("{}_async", f.name), Value::Object(entry.clone()));
        }
        if entry.contains_key("items") {
            // A blocking open returns the stream handle only; its `result` is the async twin's.
            entry.remove("result");
        }
        table.insert(f.name.to_owned(), Value::Object(entry));
    }
    table.sort_keys();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "InferenceKey C ABI: JSON documents",
        "description": "Generated from the Rust types (crates/inferencekey-ffi/src/schema.rs); \
            do not edit. `functions` names, per function, the JSON it reads (`request`: its \
            cfg, opts, req or spec argument), the JSON it writes (`result`: its `out` string, \
            `info` for ik_dev_server_start, or the callback's `json` for `_async` twins; a \
            stream opener's async callback gets the stream's metadata) and, for stream \
            openers, what each ik_stream_next (or ik_stream_next_async) yields (`items`). \
            Validate one document with \
            {\"$ref\": \"#/$defs/<Name>\"} against this file.",
        "abi_version": IK_ABI_VERSION,
        "functions": table,
        "$defs": g.definitions(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../include/inferencekey.schema.json"
    );

    fn rendered() -> String {
        serde_json::to_string_pretty(&document()).expect("a schema is JSON") + "\n"
    }

    #[test]
    fn schema_committed_in_include_is_current() {
        let current = rendered();
        if std::env::var_os("IK_UPDATE_SCHEMA").is_some() {
            std::fs::write(COMMITTED, &current).expect("write include/inferencekey.schema.json");
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == current,
            "include/inferencekey.schema.json is stale: regenerate it with \
             IK_UPDATE_SCHEMA=1 cargo test -p inferencekey-ffi schema"
        );
    }

    #[test]
    fn schema_names_every_exported_function_that_reads_or_writes_json() {
        // The header declares one function per line: `<type> <name>(<params>);`.
        let declarations: Vec<(&str, &str)> = include_str!("../../../include/inferencekey.h")
            .lines()
            .filter_map(|line| {
                let (head, params) = line.split_once('(')?;
                let name = head.split_whitespace().last()?.trim_start_matches('*');
                name.starts_with("ik_").then_some((name, params))
            })
            .collect();
        let doc = document();
        let functions = doc["functions"].as_object().expect("functions");
        for name in functions.keys() {
            assert!(
                declarations.iter().any(|(declared, _)| declared == name),
                "{name} is not exported"
            );
        }
        // Every string argument or result is JSON, so each such export is listed, except
        // `ik_stream_next`, whose items are listed under the function that opened the stream.
        for (name, params) in declarations {
            let strings = params.contains("const char *") || params.contains("char **");
            if strings && name != "ik_stream_next" {
                assert!(
                    functions.contains_key(name),
                    "{name} missing from the schema"
                );
            }
        }
    }
}
