package dev.inferencekey.sdk;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Optional;

/**
 * The chunks of a streamed chat completion, pulled one at a time as the server sends them.
 * Closing it (try-with-resources) closes the exchange in the library; a thread blocked in
 * {@link #hasNext()} then gets a {@link CancelledException}. One consumer at a time; {@link
 * #close()} may come from any thread.
 */
public final class TextStream implements Iterator<TextChunk>, AutoCloseable {
    private final NativeHandle handle;
    private TextChunk next;
    private boolean finished;

    TextStream(Pointer pointer) {
        this.handle = new NativeHandle(this, pointer, "TextStream", Ffi.LIB::ik_stream_free);
    }

    /**
     * Whether another chunk comes; blocks until the server sends it or ends the stream.
     *
     * @throws CancelledException the stream was closed, or this thread interrupted
     * @throws ApiConnectionException the stream was cut short
     */
    @Override
    public boolean hasNext() {
        if (next == null && !finished) {
            next = handle.use(h -> Ffi.call((out, len, err) -> Ffi.LIB.ik_stream_next(h, out, len, err),
                    (buf, len) -> buf == null ? null : Endpoint.textChunk(buf, len)));
            finished = next == null;
        }
        return next != null;
    }

    @Override
    public TextChunk next() {
        if (!hasNext()) {
            throw new NoSuchElementException("the stream has ended");
        }
        TextChunk chunk = next;
        next = null;
        return chunk;
    }

    /** The server's request id. */
    public Optional<String> requestId() {
        JsonNode id = metadata().get("request_id");
        return id == null || id.isNull() ? Optional.empty() : Optional.of(id.asText());
    }

    /** Token counts, once the server sent them (usually with the last chunk). */
    public Optional<Usage> usage() {
        JsonNode u = metadata().get("usage");
        return u == null || u.isNull() ? Optional.empty() : Optional.of(Json.convert(u, Usage.class));
    }

    private JsonNode metadata() {
        return handle.use(h -> Ffi.call((out, len, err) -> Ffi.LIB.ik_stream_metadata(h, out, len, err),
                (buf, len) -> Json.tree(Ffi.bytes(buf, len))));
    }

    /** Closes the stream and its connection. Idempotent; callable from any thread. */
    @Override
    public void close() {
        // Within use(): a pull woken by this close may not free the stream while the close runs.
        if (!handle.isClosed()) {
            try {
                handle.use(h -> {
                    Ffi.LIB.ik_stream_close(h);
                    handle.close();
                    return null;
                });
            } catch (InvalidStateException alreadyClosed) {
                // Another thread closed it first.
            }
        }
    }
}
