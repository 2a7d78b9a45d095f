//! Replays every case of the conformance vectors (`tests/conformance/ensure.json`, the
//! repository's copy of the shared ones, which every binding replays too) through the sans-I/O
//! `Ensure` machine: each exchange's request is checked, its response fed back, and the
//! outcome compared with `expect` (see `tests/conformance/README.md`).

use inferencekey_core::reconcile::{Ensure, EnsureAction, HttpResponse, OnDrift, Step};
use inferencekey_core::spec::WorkloadSpec;
use inferencekey_core::{Error, ErrorKind};
use serde_json::Value;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/conformance/ensure.json"
);

fn cases() -> Vec<Value> {
    let text =
        std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("cannot read {VECTORS}: {e}"));
    let doc: Value = serde_json::from_str(&text).expect("ensure.json is JSON");
    assert_eq!(doc["version"], 1, "unknown vector format version");
    doc["cases"].as_array().expect("cases").clone()
}

/// Equality of the vectors: object keys exact (order ignored), arrays in order, numbers by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The Python class an error kind maps to (sdk-behaviour §7).
fn class_of(kind: ErrorKind) -> String {
    match kind {
        ErrorKind::Drift => "DriftError",
        ErrorKind::Validation | ErrorKind::InvalidArgument => "ValidationError",
        ErrorKind::Config => "ConfigurationError",
        ErrorKind::Auth => "AuthError",
        ErrorKind::Permission => "PermissionDenied",
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::Conflict => "ConflictError",
        ErrorKind::RateLimited => "RateLimitError",
        ErrorKind::Server => "InternalServerError",
        ErrorKind::Api => "ApiError",
        ErrorKind::Connection => "APIConnectionError",
        ErrorKind::Timeout => "APITimeoutError",
        other => return format!("{other:?}"),
    }
    .to_owned()
}

/// Drives one machine through the case's exchanges; returns the outcome or the first
/// request mismatch.
fn replay(
    case: &Value,
    mut machine: Ensure,
) -> Result<Result<inferencekey_core::reconcile::EnsureResult, Error>, String> {
    let exchanges = case["exchanges"].as_array().ok_or("no exchanges")?;
    let mut step = machine.start();
    let mut used = 0;
    loop {
        let request = match step {
            Step::Done(outcome) => {
                if used != exchanges.len() {
                    return Err(format!(
                        "ended after {used} of {} exchanges",
                        exchanges.len()
                    ));
                }
                return Ok(outcome);
            }
            Step::Send(request) => request,
        };
        let Some(exchange) = exchanges.get(used) else {
            return Err(format!(
                "request {} beyond the {} exchanges: {} {}",
                used + 1,
                exchanges.len(),
                request.method,
                request.path
            ));
        };
        let want = &exchange["request"];
        if (want["method"].as_str(), want["path"].as_str())
            != (Some(request.method), Some(request.path.as_str()))
        {
            return Err(format!(
                "exchange {used}: sent {} {}, expected {} {}",
                request.method, request.path, want["method"], want["path"]
            ));
        }
        let body = request.body.unwrap_or(Value::Null);
        if !same(&body, &want["body"]) {
            return Err(format!(
                "exchange {used}: body {body}, expected {}",
                want["body"]
            ));
        }
        let response = &exchange["response"];
        let status = response["status"].as_u64().ok_or("status")? as u16;
        let raw = serde_json::to_vec(&response["body"]).expect("serialisable");
        step = machine.on_response(HttpResponse::new(status, raw, None));
        used += 1;
    }
}

fn check_outcome(
    expect: &Value,
    outcome: &Result<inferencekey_core::reconcile::EnsureResult, Error>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    let changes_ok = |got: Value| expect["changes"].is_null() || same(&got, &expect["changes"]);
    match outcome {
        Ok(result) => {
            let action = result.action.as_str();
            check(
                expect["error"].is_null(),
                format!("returned {action}, expected error {}", expect["error"]),
            );
            check(
                expect["action"] == action,
                format!("action {action}, expected {}", expect["action"]),
            );
            if result.action == EnsureAction::Planned {
                check(
                    expect["planned_operation"].as_str() == result.planned_operation.as_deref(),
                    format!(
                        "planned_operation {:?}, expected {}",
                        result.planned_operation, expect["planned_operation"]
                    ),
                );
            }
            check(
                expect["workload_slug"] == result.workload_slug.as_str(),
                format!(
                    "workload_slug {}, expected {}",
                    result.workload_slug, expect["workload_slug"]
                ),
            );
            let got = serde_json::to_value(&result.changes).expect("serialisable");
            check(
                changes_ok(got.clone()),
                format!("changes {got}, expected {}", expect["changes"]),
            );
            check(
                expect["warning"] == (result.action == EnsureAction::DriftWarned),
                format!("warning expected {}, action {action}", expect["warning"]),
            );
        }
        Err(err) => {
            let want = &expect["error"];
            check(
                !want.is_null(),
                format!("raised {err:?}, expected {}", expect["action"]),
            );
            check(
                want["class"] == class_of(err.kind),
                format!("class {}, expected {}", class_of(err.kind), want["class"]),
            );
            check(
                want["code"].is_null() || want["code"] == err.code.as_str(),
                format!("code {}, expected {}", err.code, want["code"]),
            );
            let got = err.details.get("changes").cloned().unwrap_or(Value::Null);
            check(
                changes_ok(got.clone()),
                format!("error changes {got}, expected {}", expect["changes"]),
            );
            check(
                expect["warning"] == false,
                "a raised call cannot have warned".to_owned(),
            );
        }
    }
    problems
}

/// `plan(spec)` is `ensure(spec, on_drift=DRY_RUN)`.
fn plan(spec: WorkloadSpec, project: String) -> Ensure {
    Ensure::new(spec, OnDrift::DryRun, project)
}

fn run_case(name: &str) {
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("case {name} is not in ensure.json"));
    let spec: WorkloadSpec = serde_json::from_value(case["spec"].clone()).expect("spec");
    let on_drift: OnDrift = serde_json::from_value(case["on_drift"].clone()).expect("on_drift");
    let project = case["project"].as_str().expect("project").to_owned();
    let mut runs = vec![(
        "ensure",
        Ensure::new(spec.clone(), on_drift, project.clone()),
    )];
    if on_drift == OnDrift::DryRun {
        runs.push(("plan", plan(spec, project)));
    }
    let mut problems = Vec::new();
    for (how, machine) in runs {
        match replay(&case, machine) {
            Ok(outcome) => problems.extend(
                check_outcome(&case["expect"], &outcome)
                    .into_iter()
                    .map(|p| format!("{how}: {p}")),
            ),
            Err(p) => problems.push(format!("{how}: {p}")),
        }
    }
    assert!(
        problems.is_empty(),
        "case {name} ({}):\n  {}",
        case["about"],
        problems.join("\n  ")
    );
}

macro_rules! cases {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                run_case($name);
            }
        )*

        /// Every case in the file has a test here, so none is silently skipped.
        #[test]
        fn every_case_has_a_test() {
            let listed = [$($name),*];
            let names: Vec<String> =
                cases().iter().map(|c| c["name"].as_str().expect("name").to_owned()).collect();
            let missing: Vec<&String> = names.iter().filter(|n| !listed.contains(&n.as_str())).collect();
            assert!(missing.is_empty(), "cases without a test: {missing:?}");
            assert_eq!(listed.len(), names.len(), "a listed case is missing from ensure.json");
        }
    };
}

cases! {
    absent_reconcile_creates => "absent-reconcile-creates",
    absent_fail_creates => "absent-fail-creates",
    absent_dry_run_plans_create => "absent-dry-run-plans-create",
    absent_warn_creates => "absent-warn-creates",
    absent_ignore_creates => "absent-ignore-creates",
    in_sync_reconcile_unchanged => "in-sync-reconcile-unchanged",
    in_sync_fail_unchanged => "in-sync-fail-unchanged",
    in_sync_dry_run_unchanged => "in-sync-dry-run-unchanged",
    in_sync_warn_unchanged => "in-sync-warn-unchanged",
    in_sync_ignore_unchanged => "in-sync-ignore-unchanged",
    name_drift_reconcile_patches => "name-drift-reconcile-patches",
    name_drift_fail_raises => "name-drift-fail-raises",
    name_drift_dry_run_plans_update => "name-drift-dry-run-plans-update",
    name_drift_warn_warns => "name-drift-warn-warns",
    name_drift_ignore_silent => "name-drift-ignore-silent",
    model_drift_patches_model_name => "model-drift-patches-model-name",
    backend_drift_patches => "backend-drift-patches",
    description_empty_matches_live_null => "description-empty-matches-live-null",
    description_drift_from_live_null => "description-drift-from-live-null",
    config_server_added_keys_not_drift => "config-server-added-keys-not-drift",
    config_nested_path_drift_deep_merged => "config-nested-path-drift-deep-merged",
    config_numbers_compared_by_value => "config-numbers-compared-by-value",
    config_arrays_compared_exactly => "config-arrays-compared-exactly",
    create_sends_every_set_key => "create-sends-every-set-key",
    command_drift_patches_merged_config => "command-drift-patches-merged-config",
    conflicting_config_command => "conflicting-config-command",
    task_type_drift_reconcile_refused => "task-type-drift-reconcile-refused",
    task_type_drift_dry_run_not_patchable => "task-type-drift-dry-run-not-patchable",
    task_type_undeclared_vs_embedding => "task-type-undeclared-vs-embedding",
    task_type_missing_in_live_skipped => "task-type-missing-in-live-skipped",
    execution_policy_change_sends_declared_config => "execution-policy-change-sends-declared-config",
    execution_policy_config_sent_as_declared => "execution-policy-config-sent-as-declared",
    undeclared_optional_fields_not_compared => "undeclared-optional-fields-not-compared",
    worker_id_drift_patches => "worker-id-drift-patches",
    slug_not_canonical => "slug-not-canonical",
    name_empty => "name-empty",
    secret_in_command => "secret-in-command",
    secret_nested_in_config => "secret-nested-in-config",
    list_workloads_envelope => "list-workloads-envelope",
    list_odd_elements_skipped => "list-odd-elements-skipped",
    list_unknown_task_type_kept => "list-unknown-task-type-kept",
    list_duplicate_slug_first_wins => "list-duplicate-slug-first-wins",
    create_conflict_relist_found => "create-conflict-relist-found",
    create_conflict_relist_missing => "create-conflict-relist-missing",
    create_suffixed_slug => "create-suffixed-slug",
    patch_not_found => "patch-not-found",
    custom_backend_slug => "custom-backend-slug",
    custom_backend_invalid => "custom-backend-invalid",
}
