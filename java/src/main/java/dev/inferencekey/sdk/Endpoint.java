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
 */
public final class Endpoint extends NativeClient {
    Endpoint(Pointer pointer) {
        super(pointer, "Endpoint", Ffi.LIB::ik_endpoint_free, Ffi.LIB::ik_endpoint_describe);
    }

    /** A chat completion. */
    public TextResult generateText(TextRequest request) {
        return blocking(Ffi.LIB::ik_endpoint_generate_text, body(request), Endpoint::textResult);
    }

    public CompletableFuture<TextResult> generateTextAsync(TextRequest request) {
        return async(Ffi.LIB::ik_endpoint_generate_text_async, body(request), Endpoint::textResult);
    }

    /**
     * A streamed chat completion. The exchange is open when this returns (an error status
     * throws here); iterate the chunks, and close the stream (try-with-resources) to end it early.
     */
    public TextStream generateTextStream(TextRequest request) {
        byte[] req = body(request);
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
        byte[] req = body(request);
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
        return blocking(Ffi.LIB::ik_endpoint_embed, body(request), Endpoint::embedResult);
    }

    /** {@link #embed(EmbedRequest)} of these texts. */
    public EmbedResult embed(String... input) {
        return embed(EmbedRequest.of(input));
    }

    public CompletableFuture<EmbedResult> embedAsync(EmbedRequest request) {
        return async(Ffi.LIB::ik_endpoint_embed_async, body(request), Endpoint::embedResult);
    }

    /** Documents ranked against a query, best first. */
    public RerankResult rerank(RerankRequest request) {
        return blocking(Ffi.LIB::ik_endpoint_rerank, body(request), Endpoint::rerankResult);
    }

    public CompletableFuture<RerankResult> rerankAsync(RerankRequest request) {
        return async(Ffi.LIB::ik_endpoint_rerank_async, body(request), Endpoint::rerankResult);
    }

    /** {@code Endpoint[project=…, workload=…, base_url=…, api_key=…]}; the key is shown redacted. */
    @Override
    String describeFields(JsonNode d) {
        return "project=" + d.path("project_slug").asText() + ", workload=" + d.path("workload_slug").asText()
                + ", base_url=" + d.path("base_url").asText() + ", api_key=" + d.path("api_key").asText();
    }

    /** The request JSON; a null request is a {@link NullPointerException} before any native call. */
    private static byte[] body(Object request) {
        return Json.encode(Objects.requireNonNull(request, "request"));
    }

    // Result decoding: JSON first, binary parts at the offsets it names.

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
