package dev.inferencekey.sdk;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * One workload's inference endpoint, holding its {@code ik_live_} key. Thread-safe: many
 * threads may call one endpoint at once. Close it when done.
 *
 * <p>Blocking calls honour {@link Thread#interrupt()} ({@link CancelledException}, code {@code
 * interrupted}); each {@code …Async} twin returns a future whose {@code cancel(true)} aborts
 * the call in the library.
 *
 * <p>Every call takes an optional last {@link RequestOptions} (timeout, retries, extra
 * headers), over this endpoint's defaults ({@link #withOptions}) over its client's.
 */
public final class Endpoint extends NativeClient {
    /** Per-call defaults of this reference, sent with each call (the ABI has no endpoint-level options). */
    private final RequestOptions defaults;

    Endpoint(Pointer pointer) {
        super(pointer, "Endpoint", Ffi.LIB::ik_endpoint_free, Ffi.LIB::ik_endpoint_describe);
        this.defaults = RequestOptions.NONE;
    }

    private Endpoint(Endpoint other, RequestOptions defaults) {
        super(other);
        this.defaults = defaults;
    }

    /**
     * An endpoint for the same workload and key, sharing the native endpoint and its
     * connections, whose calls default to {@code options} over this endpoint's defaults (a
     * call's own options win). Close it too: the native endpoint is freed once every endpoint
     * sharing it is closed. The options are checked by the library at each call, like a call's.
     *
     * @throws InvalidStateException this endpoint is closed
     */
    public Endpoint withOptions(RequestOptions options) {
        return new Endpoint(this, Objects.requireNonNull(options, "options").over(defaults));
    }

    /** A chat completion. */
    public TextResult generateText(TextRequest request) {
        return generateText(request, RequestOptions.NONE);
    }

    public TextResult generateText(TextRequest request, RequestOptions options) {
        return blocking(Ffi.LIB::ik_endpoint_generate_text, body(request, options), Endpoint::textResult);
    }

    public CompletableFuture<TextResult> generateTextAsync(TextRequest request) {
        return generateTextAsync(request, RequestOptions.NONE);
    }

    public CompletableFuture<TextResult> generateTextAsync(TextRequest request, RequestOptions options) {
        return async(Ffi.LIB::ik_endpoint_generate_text_async, body(request, options), Endpoint::textResult);
    }

    /**
     * A streamed chat completion. The exchange is open when this returns (an error status
     * throws here); iterate the chunks, and close the stream (try-with-resources) to end it early.
     */
    public TextStream generateTextStream(TextRequest request) {
        return generateTextStream(request, RequestOptions.NONE);
    }

    /** {@link #generateTextStream(TextRequest)}; {@code options}' timeout bounds the open and each wait for a chunk. */
    public TextStream generateTextStream(TextRequest request, RequestOptions options) {
        byte[] req = body(request, options);
        PointerByReference out = new PointerByReference();
        PointerByReference err = new PointerByReference();
        handle.use(h -> {
            Ffi.check(Ffi.LIB.ik_endpoint_generate_text_stream(h, req, Ffi.len(req), null, out, err), err);
            return null;
        });
        return new TextStream(out.getValue());
    }

    /** The asynchronous open of {@link #generateTextStream}; cancelling the future closes the stream. */
    public CompletableFuture<TextStream> generateTextStreamAsync(TextRequest request) {
        return generateTextStreamAsync(request, RequestOptions.NONE);
    }

    public CompletableFuture<TextStream> generateTextStreamAsync(TextRequest request, RequestOptions options) {
        byte[] req = body(request, options);
        // The library writes the handle at once, before the open can complete.
        PointerByReference out = new PointerByReference();
        CompletableFuture<TextStream> future = handle.use(h -> NativeFuture.start((cancel, cb, ud, err) -> Ffi.LIB
                .ik_endpoint_generate_text_stream_async(h, req, Ffi.len(req), cancel, out, cb, ud, err),
                (buf, len) -> new TextStream(out.getValue())));
        future.whenComplete((s, e) -> {
            if (e != null && out.getValue() != null) {
                Ffi.LIB.ik_stream_free(out.getValue()); // freeing twice is ignored: handles are never reused
            }
        });
        return future;
    }

    /** Embedding vectors, one per input, in input order. */
    public EmbedResult embed(EmbedRequest request) {
        return embed(request, RequestOptions.NONE);
    }

    public EmbedResult embed(EmbedRequest request, RequestOptions options) {
        return blocking(Ffi.LIB::ik_endpoint_embed, body(request, options), Endpoint::embedResult);
    }

    /** {@link #embed(EmbedRequest)} of these texts. */
    public EmbedResult embed(String... input) {
        return embed(EmbedRequest.of(input));
    }

    public CompletableFuture<EmbedResult> embedAsync(EmbedRequest request) {
        return embedAsync(request, RequestOptions.NONE);
    }

    public CompletableFuture<EmbedResult> embedAsync(EmbedRequest request, RequestOptions options) {
        return async(Ffi.LIB::ik_endpoint_embed_async, body(request, options), Endpoint::embedResult);
    }

    /** Documents ranked against a query, best first. */
    public RerankResult rerank(RerankRequest request) {
        return rerank(request, RequestOptions.NONE);
    }

    public RerankResult rerank(RerankRequest request, RequestOptions options) {
        return blocking(Ffi.LIB::ik_endpoint_rerank, body(request, options), Endpoint::rerankResult);
    }

    public CompletableFuture<RerankResult> rerankAsync(RerankRequest request) {
        return rerankAsync(request, RequestOptions.NONE);
    }

    public CompletableFuture<RerankResult> rerankAsync(RerankRequest request, RequestOptions options) {
        return async(Ffi.LIB::ik_endpoint_rerank_async, body(request, options), Endpoint::rerankResult);
    }

    /**
     * Submits a fire-and-forget job; its result is delivered to the workload's webhook
     * destinations, verified there with {@link Webhooks#verify}. A submission is retried only
     * when it cannot have reached the server, so it never runs twice.
     *
     * @return the job's reference: match deliveries on its {@link JobRef#jobId()}
     * @throws ValidationException a broken rule found locally ({@code invalid_argument}: an
     *     unknown kind, both or neither body, bytes for chat or without a content type), or the
     *     server refused the job (HTTP 400)
     * @throws ApiException any other error answer ({@code http_501} for a kind the platform does
     *     not run), after retries
     */
    public JobRef submitJob(JobRequest request) {
        return submitJob(request, RequestOptions.NONE);
    }

    public JobRef submitJob(JobRequest request, RequestOptions options) {
        return blocking(Ffi.LIB::ik_endpoint_submit_job, body(jobJson(request), options), Endpoint::jobRef);
    }

    public CompletableFuture<JobRef> submitJobAsync(JobRequest request) {
        return submitJobAsync(request, RequestOptions.NONE);
    }

    public CompletableFuture<JobRef> submitJobAsync(JobRequest request, RequestOptions options) {
        return async(Ffi.LIB::ik_endpoint_submit_job_async, body(jobJson(request), options), Endpoint::jobRef);
    }

    /** {@code Endpoint[project=…, workload=…, base_url=…, api_key=…]}; the key is shown redacted. */
    @Override
    String describeFields(JsonNode d) {
        return "project=" + d.path("project_slug").asText() + ", workload=" + d.path("workload_slug").asText()
                + ", base_url=" + d.path("base_url").asText() + ", api_key=" + d.path("api_key").asText();
    }

    /**
     * The request JSON with {@code options} over this endpoint's defaults; a null argument is a
     * {@link NullPointerException} before any native call.
     */
    private byte[] body(Object request, RequestOptions options) {
        return Json.encode(Objects.requireNonNull(request, "request"),
                Objects.requireNonNull(options, "options").over(defaults));
    }

    private static Object jobJson(JobRequest request) {
        return Objects.requireNonNull(request, "request").toJson();
    }

    // Result decoding: JSON first, binary parts at the offsets it names.

    static JobRef jobRef(Pointer buf, long len) {
        JsonNode j = Json.tree(Ffi.bytes(buf, len));
        return new JobRef(j.path("job_id").asText(), JobKind.fromWire(j.path("kind").asText()),
                textOrNull(j, "request_id"));
    }

    static TextResult textResult(Pointer buf, long len) {
        JsonNode j = Json.tree(Ffi.bytes(buf, len));
        return new TextResult(j.path("text").asText(), j.path("model").asText(), textOrNull(j, "finish_reason"),
                usage(j), textOrNull(j, "request_id"), part(buf, j.get("raw_part")));
    }

    static TextChunk textChunk(Pointer buf, long len) {
        JsonNode j = Json.tree(Ffi.bytes(buf, len));
        return new TextChunk(j.path("text").asText(), textOrNull(j, "finish_reason"), part(buf, j.get("raw_part")));
    }

    static EmbedResult embedResult(Pointer buf, long len) {
        JsonNode j = Json.tree(Ffi.bytes(buf, len));
        JsonNode e = j.path("embeddings");
        List<double[]> vectors;
        if (e.isObject()) {
            // rows x cols float64, little-endian as the platforms JNA runs on, 16-byte aligned.
            int rows = e.path("rows").asInt();
            int cols = e.path("cols").asInt();
            long offset = e.path("offset").asLong();
            if (!"f64le".equals(e.path("dtype").asText()) || e.path("length").asLong() != 8L * rows * cols) {
                throw new InferenceKeyException("unexpected embeddings part: " + e, ErrorCodes.INVALID_RESPONSE, 0,
                        null, null);
            }
            vectors = new ArrayList<>(rows);
            for (int r = 0; r < rows; r++) {
                vectors.add(buf.getDoubleArray(offset + 8L * r * cols, cols));
            }
        } else {
            vectors = new ArrayList<>(e.size());
            for (JsonNode row : e) {
                double[] v = new double[row.size()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = row.get(i).asDouble();
                }
                vectors.add(v);
            }
        }
        return new EmbedResult(Collections.unmodifiableList(vectors), j.path("model").asText(), usage(j),
                textOrNull(j, "request_id"), Json.MAPPER.convertValue(j.get("raw"), Object.class));
    }

    static RerankResult rerankResult(Pointer buf, long len) {
        return Json.decode(Ffi.bytes(buf, len), RerankResult.class);
    }

    private static Usage usage(JsonNode j) {
        JsonNode u = j.get("usage");
        return u == null || u.isNull() ? null : Json.convert(u, Usage.class);
    }

    private static String textOrNull(JsonNode j, String field) {
        JsonNode v = j.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    private static String part(Pointer buf, JsonNode ref) {
        if (ref == null || ref.isNull()) {
            return null;
        }
        byte[] b = buf.getByteArray(ref.path("offset").asLong(), Math.toIntExact(ref.path("length").asLong()));
        return new String(b, StandardCharsets.UTF_8);
    }

}
