//! JSON Schemas of every JSON document the C ABI reads or writes (c-abi rule 11), generated
//! from the Rust types that parse and write them, so that each binding derives its types from
//! one source. The document is committed as `include/inferencekey.schema.json`; a test fails
//! when it is stale (`IK_UPDATE_SCHEMA=1 cargo test -p inferencekey-ffi schema` rewrites it).

use inferencekey_core::config::{CallOptions, ClientConfig};
use inferencekey_core::data::{
    DataClientDescription, EmbedRequest, EndpointDescription, GenerateRequest, RerankRequest,
    RerankResult,
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

use std::collections::{BTreeMap, BTreeSet};

use inferencekey_core::codes as core_codes;
use inferencekey_core::error::kind_for_status;
use inferencekey_core::ErrorKind;

use crate::codes as abi_codes;
use crate::endpoint::{EmbedResultOut, EndpointRequest, TextResultOut};
use crate::management::{Deleted, EnsureRequest, ProjectRequest, SlugRequest};
use crate::status::{self, ik_status, status_of};
use crate::stream::{StreamMetadata, TextChunkOut};
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
    /// What its `on_event` callback receives (`events`).
    events: Option<Schema>,
    /// Reads and writes plain UTF-8 text, not JSON (`x-ik-plain-text`).
    plain_text: bool,
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
        events: None,
        plain_text: false,
    };
    let text = |name| Function {
        plain_text: true,
        ..op(name, false, None, None)
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
            "ik_management_client_ensure",
            true,
            g.read::<EnsureRequest>(),
            g.write::<EnsureResult>(),
        ),
        op(
            "ik_management_client_plan",
            true,
            g.read::<EnsureRequest>(),
            g.write::<EnsureResult>(),
        ),
        op(
            "ik_management_client_list",
            true,
            g.read::<ProjectRequest>(),
            g.write::<[Workload]>(),
        ),
        op(
            "ik_management_client_get",
            true,
            g.read::<SlugRequest>(),
            g.write::<Workload>(),
        ),
        op(
            "ik_management_client_delete",
            true,
            g.read::<SlugRequest>(),
            g.write::<Deleted>(),
        ),
        Function {
            events: g.write::<ReadinessEvent>(),
            ..op(
                "ik_management_client_wait_until_ready",
                true,
                g.read::<SlugRequest>(),
                g.write::<ReadinessEvent>(),
            )
        },
        Function {
            items: g.write::<ReadinessEvent>(),
            ..op(
                "ik_management_client_readiness_events",
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
            items: g.write::<TextChunkOut>(),
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
            "ik_endpoint_submit_job",
            true,
            g.read::<inferencekey_core::jobs::JobRequest>(),
            g.write::<inferencekey_core::jobs::JobRef>(),
        ),
        op(
            "ik_webhook_verify",
            false,
            g.read::<crate::webhooks::VerifyRequest>(),
            g.write::<inferencekey_core::webhooks::WebhookEvent>(),
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
        op(
            "ik_runtime_configure",
            false,
            g.read::<crate::lifecycle::RuntimeConfig>(),
            None,
        ),
        op(
            "ik_live_objects",
            false,
            None,
            g.write::<crate::live::LiveObjects>(),
        ),
        text("ik_text_redact"),
        text("ik_token_redact"),
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

/// `x-ik-statuses`: every status (c-abi §2), from the constants cbindgen writes into the header.
fn statuses() -> Value {
    status::table()
        .iter()
        .map(|s| {
            let kinds: Vec<&str> = ErrorKind::ALL
                .iter()
                .filter(|&&k| status_of(k) == s.value)
                .map(|k| k.as_str())
                .collect();
            let mut entry = json!({"value": s.value, "name": s.name});
            if s.value != status::IK_OK {
                entry["block"] = json!(s.value - s.value % 100);
                entry["kinds"] = json!(kinds);
            }
            entry["description"] = json!(s.description);
            entry
        })
        .collect()
}

fn status_name(value: ik_status) -> &'static str {
    status::table()
        .iter()
        .find(|s| s.value == value)
        .map(|s| s.name)
        .expect("every status is in the table")
}

/// One row of `x-ik-error-codes` while it is being merged.
#[derive(Default)]
struct CodeRow {
    statuses: BTreeSet<ik_status>,
    http_statuses: BTreeSet<u16>,
    pattern: Option<&'static str>,
    /// Where the code comes from, each with its description there.
    origins: Map<String, Value>,
}

/// `x-ik-error-codes`: every code the library emits (`core`: inferencekey_core::codes; `abi`:
/// the C boundary's; `dev_server`: the ik_dev_server_* calls') and the server codes of wire
/// §3.1–3.2 (`server`; open-ended), one row per code.
fn error_codes() -> Value {
    let mut rows: BTreeMap<String, CodeRow> = BTreeMap::new();
    fn add<'a>(
        rows: &'a mut BTreeMap<String, CodeRow>,
        code: &str,
        origin: &str,
        description: &str,
    ) -> &'a mut CodeRow {
        let row = rows.entry(code.to_owned()).or_default();
        row.origins
            .insert(origin.to_owned(), Value::from(description));
        row
    }
    for info in core_codes::ALL {
        let row = add(&mut rows, info.code.as_str(), "core", info.description);
        row.statuses
            .extend(info.kinds.iter().map(|&k| status_of(k)));
    }
    for info in abi_codes::ALL {
        add(&mut rows, info.code, "abi", info.description)
            .statuses
            .insert(info.status);
    }
    #[cfg(feature = "dev-server")]
    for (code, description) in crate::dev::DEV_CODES {
        add(&mut rows, code, "dev_server", description)
            .statuses
            .insert(crate::dev::dev_status(code));
    }
    for server in core_codes::SERVER {
        let row = add(&mut rows, server.code, "server", server.description);
        row.http_statuses.extend(server.http_statuses);
        row.statuses.extend(
            server
                .http_statuses
                .iter()
                .map(|&h| status_of(kind_for_status(h))),
        );
    }
    let row = add(
        &mut rows,
        "http_<status>",
        "server",
        "Status default for a status with no named default (e.g. http_405, http_418).",
    );
    row.pattern = Some(core_codes::HTTP_STATUS_DEFAULT_PATTERN);
    row.statuses.insert(status_of(kind_for_status(418)));
    rows.into_iter()
        .map(|(code, row)| {
            let mut entry = json!({
                "code": code,
                "statuses": row.statuses.iter().map(|&s| status_name(s)).collect::<Vec<_>>(),
            });
            if let Some(pattern) = row.pattern {
                entry["pattern"] = json!(pattern);
            }
            if !row.http_statuses.is_empty() {
                entry["http_statuses"] = json!(row.http_statuses);
            }
            entry["origins"] = Value::Object(row.origins);
            entry
        })
        .collect()
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
            ("events", f.events),
        ] {
            if let Some(schema) = schema {
                entry.insert(key.to_owned(), schema.to_value());
            }
        }
        if f.plain_text {
            entry.insert("x-ik-plain-text".to_owned(), Value::Bool(true));
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
            openers, what each ik_stream_next (or ik_stream_next_async) yields (`items`); \
            for ik_management_client_wait_until_ready, what its `on_event` gets (`events`). \
            Binary parts of a result are described in its JSON as {offset, length, dtype} \
            (see the header's \"Result buffers\"). \
            Validate one document with \
            {\"$ref\": \"#/$defs/<Name>\"} against this file. \
            `x-ik-statuses` lists every ik_status (value, name, block of 100, the core error \
            kinds that map to it, description), the same constants as the header's #defines. \
            `x-ik-error-codes` lists, one row per code, every `code` an ik_error can carry: \
            those the library emits itself (origins `core`, `abi`, `dev_server`: a closed \
            set) and the server codes of the wire protocol (origin `server`: status defaults \
            and the local platform's codes); `statuses` are the statuses it can come with, \
            `http_statuses` the HTTP statuses a server sends it with, `origins` maps each \
            origin to a description. Server codes are open-ended: any other string may come \
            from a server, with the status of its HTTP status class.",
        "abi_version": IK_ABI_VERSION,
        "x-ik-statuses": statuses(),
        "x-ik-error-codes": error_codes(),
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

    /// `(name, value, comment)` of every `#define IK_OK`/`IK_ERR_*` of the committed header,
    /// the comment being the `//` lines right above it.
    fn header_statuses() -> Vec<(String, i64, String)> {
        let header = include_str!("../../../include/inferencekey.h");
        let mut comment: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for line in header.lines() {
            if let Some(text) = line.strip_prefix("// ") {
                comment.push(text);
                continue;
            }
            let mut parts = line.split_whitespace();
            if parts.next() == Some("#define") {
                if let (Some(name), Some(value)) = (parts.next(), parts.next()) {
                    if name == "IK_OK" || name.starts_with("IK_ERR_") {
                        let value = value.parse().expect("an integer status");
                        out.push((name.to_owned(), value, comment.join(" ")));
                    }
                }
            }
            comment.clear();
        }
        out
    }

    #[test]
    fn status_table_equals_the_header() {
        let doc = document();
        let table: Vec<(String, i64, String)> = doc["x-ik-statuses"]
            .as_array()
            .expect("x-ik-statuses")
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().expect("name").to_owned(),
                    s["value"].as_i64().expect("value"),
                    s["description"].as_str().expect("description").to_owned(),
                )
            })
            .collect();
        assert_eq!(table, header_statuses());
        // Every core error class has a status, and each status's `kinds` name it.
        for kind in ErrorKind::ALL {
            let name = status_name(status_of(kind));
            let row = doc["x-ik-statuses"]
                .as_array()
                .and_then(|rows| rows.iter().find(|r| r["name"] == name))
                .expect("listed");
            assert!(row["kinds"]
                .as_array()
                .is_some_and(|k| k.contains(&json!(kind.as_str()))));
        }
    }

    #[test]
    fn error_code_table_is_complete_and_consistent() {
        let doc = document();
        let rows = doc["x-ik-error-codes"]
            .as_array()
            .expect("x-ik-error-codes");
        let names: BTreeSet<&str> = doc["x-ik-statuses"]
            .as_array()
            .expect("statuses")
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        let row = |code: &str| rows.iter().find(|r| r["code"] == code);
        for r in rows {
            let statuses = r["statuses"].as_array().expect("statuses");
            assert!(!statuses.is_empty(), "{r}");
            for s in statuses {
                assert!(names.contains(s.as_str().expect("a name")), "{r}");
            }
            assert!(r["origins"].as_object().is_some_and(|o| !o.is_empty()));
        }
        for info in core_codes::ALL {
            let r = row(info.code.as_str()).expect("a core code");
            assert!(r["origins"]["core"].is_string());
        }
        for info in abi_codes::ALL {
            let r = row(info.code).expect("an abi code");
            assert!(r["statuses"]
                .as_array()
                .is_some_and(|s| s.contains(&json!(status_name(info.status)))));
        }
        // A few rows spelled out: a code from two classes, and one from core and servers.
        assert_eq!(
            row("wrong_credential_type").expect("listed")["statuses"],
            json!(["IK_ERR_AUTH", "IK_ERR_PERMISSION"])
        );
        let not_found = row("not_found").expect("listed");
        assert_eq!(not_found["statuses"], json!(["IK_ERR_NOT_FOUND"]));
        assert_eq!(not_found["http_statuses"], json!([404]));
        assert!(
            not_found["origins"]["core"].is_string() && not_found["origins"]["server"].is_string()
        );
        assert_eq!(
            row("internal_panic").expect("listed")["statuses"],
            json!(["IK_ERR_PANIC"])
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
        // Every string argument or result is JSON (or plain text, marked so), so each such
        // export is listed, except
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
