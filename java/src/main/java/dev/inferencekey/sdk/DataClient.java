package dev.inferencekey.sdk;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.util.HashMap;
import java.util.Map;

/**
 * The data plane of one project: hands out {@link Endpoint}s, which share its connection pool.
 * Thread-safe; share one client. Close it when done (endpoints it made keep working until they
 * are closed themselves).
 */
public final class DataClient extends NativeClient {
    private DataClient(Pointer pointer) {
        super(pointer, "DataClient", Ffi.LIB::ik_data_client_free, Ffi.LIB::ik_data_client_describe);
    }

    /**
     * A client configured by {@code options}, the rest from the {@code INFERENCEKEY_*} environment.
     *
     * @throws ConfigurationException no project, or a bad option
     */
    public static DataClient fromEnv(ClientOptions options) {
        return open(options, true);
    }

    public static DataClient fromEnv() {
        return open(ClientOptions.defaults(), true);
    }

    /** A client configured by {@code options} alone (the environment is not read). */
    public static DataClient create(ClientOptions options) {
        return open(options, false);
    }

    private static DataClient open(ClientOptions options, boolean fromEnv) {
        return new DataClient(openHandle(Ffi.LIB::ik_data_client_new, options.toConfig(false, fromEnv)));
    }

    /**
     * A client sharing this one's project, default key and connection pool, whose endpoints'
     * calls default to {@code options} (its headers are merged over this client's default
     * headers). Close it too; closing either leaves the other working.
     *
     * @throws ConfigurationException an option is invalid ({@code invalid_option}, {@code invalid_header})
     */
    public DataClient withOptions(RequestOptions options) {
        return new DataClient(derive(Ffi.LIB::ik_data_client_with_options, options));
    }

    /** The endpoint of a workload, with the client's default key ({@link ClientOptions#apiKey()}). */
    public Endpoint endpoint(String workloadSlug) {
        return endpoint(workloadSlug, null);
    }

    /**
     * The endpoint of a workload. No request is made; the slug and the key are checked here.
     *
     * @param apiKey the workload's {@code ik_live_} key; {@code null} for the client's default
     * @throws ConfigurationException no key at all, or a malformed one
     */
    public Endpoint endpoint(String workloadSlug, String apiKey) {
        Map<String, Object> req = new HashMap<>();
        req.put("workload_slug", workloadSlug);
        req.put("api_key", apiKey);
        byte[] body = Json.encode(req);
        PointerByReference out = new PointerByReference();
        PointerByReference err = new PointerByReference();
        handle.use(h -> {
            Ffi.check(Ffi.LIB.ik_endpoint_new(h, body, Ffi.len(body), out, err), err);
            return null;
        });
        return new Endpoint(out.getValue());
    }

    @Override
    String describeFields(JsonNode d) {
        return "base_url=" + d.path("base_url").asText() + ", project=" + d.path("project").asText();
    }
}
