package dev.inferencekey.sdk;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.jna.Pointer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The control plane of one project: declare workloads ({@link #ensure}), inspect and delete
 * them, and wait until they serve. Thread-safe; share one client. Close it (try-with-resources)
 * when done; a {@link java.lang.ref.Cleaner} frees it if it is dropped unclosed.
 *
 * <p>Every blocking method honours {@link Thread#interrupt()}: the call stops with a {@link
 * CancelledException} (code {@code interrupted}), its connection closed, and the thread's
 * interrupt status kept. Every {@code …Async} twin returns a {@link CompletableFuture} whose
 * {@code cancel(true)} cancels the call in the library; its stages run on the common
 * fork-join pool, never on the library's threads.
 *
 * <p>Every network method takes an optional last {@link RequestOptions} (timeout, retries,
 * extra headers) for that call alone; {@link #withOptions} makes a client with other defaults.
 */
public final class ManagementClient extends NativeClient {
    /** The wait of {@link #waitUntilReady(String)}. */
    public static final Duration DEFAULT_READY_TIMEOUT = Duration.ofMinutes(10);

    private ManagementClient(Pointer pointer) {
        super(pointer, "ManagementClient", Ffi.LIB::ik_management_client_free,
                Ffi.LIB::ik_management_client_describe);
    }

    /**
     * A client configured by {@code options}, the rest from the {@code INFERENCEKEY_*} environment.
     *
     * @throws ConfigurationException no token or project, or a malformed token or option
     */
    public static ManagementClient fromEnv(ClientOptions options) {
        return open(options, true);
    }

    /** {@link #fromEnv(ClientOptions)} with no options. */
    public static ManagementClient fromEnv() {
        return open(ClientOptions.defaults(), true);
    }

    /** A client configured by {@code options} alone (the environment is not read). */
    public static ManagementClient create(ClientOptions options) {
        return open(options, false);
    }

    private static ManagementClient open(ClientOptions options, boolean fromEnv) {
        return new ManagementClient(openHandle(Ffi.LIB::ik_management_client_new, options.toConfig(true, fromEnv)));
    }

    /**
     * A client sharing this one's token, project and connection pool, whose calls default to
     * {@code options} (its headers are merged over this client's default headers). Close it
     * too; closing either leaves the other working.
     *
     * @throws ConfigurationException an option is invalid ({@code invalid_option}, {@code invalid_header})
     */
    public ManagementClient withOptions(RequestOptions options) {
        return new ManagementClient(derive(Ffi.LIB::ik_management_client_with_options, options));
    }

    /** Makes the workload match {@code spec} ({@link OnDrift#RECONCILE}). */
    public EnsureResult ensure(WorkloadSpec spec) {
        return ensure(spec, EnsureOptions.DEFAULT);
    }

    /** {@link #ensure(WorkloadSpec)} with per-call {@code requestOptions}. */
    public EnsureResult ensure(WorkloadSpec spec, RequestOptions requestOptions) {
        return ensure(spec, EnsureOptions.DEFAULT, requestOptions);
    }

    /**
     * Makes the workload match {@code spec}: creates it when absent; when it drifted, acts as
     * {@code options.onDrift()} says.
     *
     * @throws ValidationException the spec fails a local check (nothing was sent) or the server's
     * @throws DriftException the workload drifted and {@code onDrift} is {@link OnDrift#FAIL}
     */
    public EnsureResult ensure(WorkloadSpec spec, EnsureOptions options) {
        return ensure(spec, options, RequestOptions.NONE);
    }

    /** {@link #ensure(WorkloadSpec, EnsureOptions)} with per-call {@code requestOptions}. */
    public EnsureResult ensure(WorkloadSpec spec, EnsureOptions options, RequestOptions requestOptions) {
        return blocking(Ffi.LIB::ik_management_client_ensure, ensureRequest(spec, options, requestOptions),
                ManagementClient::ensureResult);
    }

    public CompletableFuture<EnsureResult> ensureAsync(WorkloadSpec spec) {
        return ensureAsync(spec, EnsureOptions.DEFAULT);
    }

    public CompletableFuture<EnsureResult> ensureAsync(WorkloadSpec spec, RequestOptions requestOptions) {
        return ensureAsync(spec, EnsureOptions.DEFAULT, requestOptions);
    }

    public CompletableFuture<EnsureResult> ensureAsync(WorkloadSpec spec, EnsureOptions options) {
        return ensureAsync(spec, options, RequestOptions.NONE);
    }

    public CompletableFuture<EnsureResult> ensureAsync(WorkloadSpec spec, EnsureOptions options,
            RequestOptions requestOptions) {
        return async(Ffi.LIB::ik_management_client_ensure_async, ensureRequest(spec, options, requestOptions),
                ManagementClient::ensureResult);
    }

    /** What {@link #ensure} would do, without writing anything ({@link OnDrift#DRY_RUN}). */
    public EnsureResult plan(WorkloadSpec spec) {
        return plan(spec, RequestOptions.NONE);
    }

    public EnsureResult plan(WorkloadSpec spec, RequestOptions requestOptions) {
        return blocking(Ffi.LIB::ik_management_client_plan, ensureRequest(spec, EnsureOptions.DEFAULT, requestOptions),
                ManagementClient::ensureResult);
    }

    public CompletableFuture<EnsureResult> planAsync(WorkloadSpec spec) {
        return planAsync(spec, RequestOptions.NONE);
    }

    public CompletableFuture<EnsureResult> planAsync(WorkloadSpec spec, RequestOptions requestOptions) {
        return async(Ffi.LIB::ik_management_client_plan_async,
                ensureRequest(spec, EnsureOptions.DEFAULT, requestOptions), ManagementClient::ensureResult);
    }

    /**
     * One workload.
     *
     * @throws NotFoundException no workload has this slug
     */
    public Workload get(String workloadSlug) {
        return get(workloadSlug, RequestOptions.NONE);
    }

    public Workload get(String workloadSlug, RequestOptions requestOptions) {
        return blocking(Ffi.LIB::ik_management_client_get, slugRequest(workloadSlug, requestOptions),
                ManagementClient::workload);
    }

    public CompletableFuture<Workload> getAsync(String workloadSlug) {
        return getAsync(workloadSlug, RequestOptions.NONE);
    }

    public CompletableFuture<Workload> getAsync(String workloadSlug, RequestOptions requestOptions) {
        return async(Ffi.LIB::ik_management_client_get_async, slugRequest(workloadSlug, requestOptions),
                ManagementClient::workload);
    }

    /** Every workload of the project. */
    public List<Workload> list() {
        return list(RequestOptions.NONE);
    }

    public List<Workload> list(RequestOptions requestOptions) {
        return blocking(Ffi.LIB::ik_management_client_list, Json.encode(Map.of(), requestOptions),
                ManagementClient::workloads);
    }

    public CompletableFuture<List<Workload>> listAsync() {
        return listAsync(RequestOptions.NONE);
    }

    public CompletableFuture<List<Workload>> listAsync(RequestOptions requestOptions) {
        return async(Ffi.LIB::ik_management_client_list_async, Json.encode(Map.of(), requestOptions),
                ManagementClient::workloads);
    }

    /** Deletes a workload; {@code false} when it was already absent. */
    public boolean delete(String workloadSlug) {
        return delete(workloadSlug, RequestOptions.NONE);
    }

    public boolean delete(String workloadSlug, RequestOptions requestOptions) {
        return blocking(Ffi.LIB::ik_management_client_delete, slugRequest(workloadSlug, requestOptions),
                ManagementClient::deleted);
    }

    public CompletableFuture<Boolean> deleteAsync(String workloadSlug) {
        return deleteAsync(workloadSlug, RequestOptions.NONE);
    }

    public CompletableFuture<Boolean> deleteAsync(String workloadSlug, RequestOptions requestOptions) {
        return async(Ffi.LIB::ik_management_client_delete_async, slugRequest(workloadSlug, requestOptions),
                ManagementClient::deleted);
    }

    /** {@link #waitUntilReady(String, Duration, Consumer)} for {@link #DEFAULT_READY_TIMEOUT}, without progress. */
    public ReadinessEvent waitUntilReady(String workloadSlug) {
        return waitUntilReady(workloadSlug, DEFAULT_READY_TIMEOUT, null);
    }

    /** {@link #waitUntilReady(String)} with per-call {@code requestOptions}. */
    public ReadinessEvent waitUntilReady(String workloadSlug, RequestOptions requestOptions) {
        return waitUntilReady(workloadSlug, DEFAULT_READY_TIMEOUT, null, requestOptions);
    }

    /**
     * Waits until the workload serves. Dropped connections are reopened until the deadline.
     *
     * @param timeout the whole wait's deadline
     * @param onProgress gets every event, the final one included, on this thread; {@code null} for none.
     *     If it throws, the wait stops and this method throws that exception.
     * @return the {@code ready} event
     * @throws WorkloadFailedException the workload reached phase {@code error}
     * @throws ReadinessTimeoutException the deadline passed
     */
    public ReadinessEvent waitUntilReady(String workloadSlug, Duration timeout, Consumer<ReadinessEvent> onProgress) {
        return waitUntilReady(workloadSlug, timeout, onProgress, RequestOptions.NONE);
    }

    /**
     * {@link #waitUntilReady(String, Duration, Consumer)} with per-call {@code requestOptions}
     * (its timeout bounds each attempt to open the event stream; {@code timeout} the whole wait).
     */
    public ReadinessEvent waitUntilReady(String workloadSlug, Duration timeout, Consumer<ReadinessEvent> onProgress,
            RequestOptions requestOptions) {
        byte[] req = waitRequest(workloadSlug, timeout, requestOptions);
        if (onProgress == null) {
            return handle.use(h -> Ffi.call((out, len, err) -> Ffi.LIB.ik_management_client_wait_until_ready(h, req,
                    Ffi.len(req), null, null, null, out, len, err), ManagementClient::event));
        }
        // The library runs the event callback on this thread, before the call returns.
        Pointer cancel = Ffi.LIB.ik_cancel_new();
        RuntimeException[] thrown = new RuntimeException[1];
        long key = Ffi.register((status, json, len, err) -> {
            Ffi.LIB.ik_error_free(err);
            try {
                ReadinessEvent event = Ffi.decodeAndFree(json, len, ManagementClient::event);
                if (thrown[0] == null) {
                    onProgress.accept(event);
                }
            } catch (RuntimeException e) {
                if (thrown[0] == null) {
                    thrown[0] = e;
                }
                Ffi.LIB.ik_cancel_cancel(cancel);
            }
        });
        try {
            return handle.use(h -> Ffi.call((out, len, err) -> Ffi.LIB.ik_management_client_wait_until_ready(h, req,
                    Ffi.len(req), cancel, Ffi.DISPATCH, Ffi.userData(key), out, len, err), ManagementClient::event));
        } catch (CancelledException e) {
            if (thrown[0] != null) {
                thrown[0].addSuppressed(e);
                throw thrown[0];
            }
            throw e;
        } finally {
            Ffi.unregister(key);
            Ffi.LIB.ik_cancel_free(cancel);
        }
    }

    /**
     * The asynchronous {@link #waitUntilReady(String, Duration, Consumer)}: {@code onProgress}
     * runs on the common fork-join pool, one event at a time, in order, each before the future
     * completes; an exception it throws is logged ({@link System.Logger}) and the wait goes on.
     */
    public CompletableFuture<ReadinessEvent> waitUntilReadyAsync(String workloadSlug, Duration timeout,
            Consumer<ReadinessEvent> onProgress) {
        return waitUntilReadyAsync(workloadSlug, timeout, onProgress, RequestOptions.NONE);
    }

    public CompletableFuture<ReadinessEvent> waitUntilReadyAsync(String workloadSlug, Duration timeout,
            Consumer<ReadinessEvent> onProgress, RequestOptions requestOptions) {
        byte[] req = waitRequest(workloadSlug, timeout, requestOptions);
        if (onProgress == null) {
            return handle.use(h -> NativeFuture.start((cancel, cb, ud, err) -> Ffi.LIB
                    .ik_management_client_wait_until_ready_async(h, req, Ffi.len(req), cancel, null, null, cb, ud, err),
                    ManagementClient::event));
        }
        if (handle.isClosed()) {
            handle.use(h -> h); // throws client_closed before anything is registered
        }
        List<CompletableFuture<?>> tail = new ArrayList<>(List.of(CompletableFuture.completedFuture(null)));
        long key = Ffi.register((status, json, len, err) -> {
            // On the delivery thread: only queue the event behind the previous one.
            Ffi.LIB.ik_error_free(err);
            synchronized (tail) {
                tail.set(0, tail.get(0).thenRunAsync(() -> {
                    ReadinessEvent event = Ffi.decodeAndFree(json, len, ManagementClient::event);
                    try {
                        onProgress.accept(event);
                    } catch (RuntimeException e) {
                        System.getLogger("dev.inferencekey.sdk").log(System.Logger.Level.WARNING,
                                "a readiness progress listener threw", e);
                    }
                }, Ffi.DELIVERY));
            }
        });
        CompletableFuture<ReadinessEvent> result = handle.use(h -> NativeFuture.start(
                (cancel, cb, ud, err) -> Ffi.LIB.ik_management_client_wait_until_ready_async(h, req, Ffi.len(req),
                        cancel, Ffi.DISPATCH, Ffi.userData(key), cb, ud, err),
                ManagementClient::event, () -> {
                    Ffi.unregister(key);
                    synchronized (tail) {
                        return tail.get(0);
                    }
                }));
        result.whenComplete((r, e) -> Ffi.unregister(key));
        return result;
    }

    /** {@code ManagementClient[base_url=…, project=…, token=…]}; the token only as the library redacts it. */
    @Override
    String describeFields(JsonNode d) {
        return "base_url=" + d.path("base_url").asText() + ", project=" + d.path("project").asText() + ", token="
                + d.path("token").asText();
    }

    // Requests and results.

    private static byte[] ensureRequest(WorkloadSpec spec, EnsureOptions options, RequestOptions requestOptions) {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(options, "options");
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("spec", spec);
        req.put("on_drift", options.onDrift().wireValue());
        if (options.project() != null) {
            req.put("project", options.project());
        }
        return Json.encode(req, requestOptions);
    }

    private static byte[] slugRequest(String workloadSlug, RequestOptions requestOptions) {
        return Json.encode(Map.of("workload_slug", Objects.requireNonNull(workloadSlug, "workloadSlug")),
                requestOptions);
    }

    private static byte[] waitRequest(String workloadSlug, Duration timeout, RequestOptions requestOptions) {
        Objects.requireNonNull(timeout, "timeout");
        return Json.encode(Map.of("workload_slug", Objects.requireNonNull(workloadSlug, "workloadSlug"),
                "timeout_s", ClientOptions.seconds(timeout)), requestOptions);
    }

    private static EnsureResult ensureResult(Pointer buf, long len) {
        return Json.decode(Ffi.bytes(buf, len), EnsureResult.class);
    }

    private static Workload workload(Pointer buf, long len) {
        return Json.decode(Ffi.bytes(buf, len), Workload.class);
    }

    private static List<Workload> workloads(Pointer buf, long len) {
        return List.of(Json.decode(Ffi.bytes(buf, len), Workload[].class));
    }

    private static boolean deleted(Pointer buf, long len) {
        return Json.tree(Ffi.bytes(buf, len)).path("deleted").asBoolean();
    }

    private static ReadinessEvent event(Pointer buf, long len) {
        return Json.decode(Ffi.bytes(buf, len), ReadinessEvent.class);
    }
}
