package dev.inferencekey.sdk;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import dev.inferencekey.sdk.internal.SizeT;
import dev.inferencekey.sdk.internal.SizeTByReference;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * What the public objects over one native handle (the clients and {@link Endpoint}) share: the
 * handle's lifecycle, calls through it, and a {@code toString} from the library's describe
 * export (which shows a token or key only redacted).
 */
abstract class NativeClient implements AutoCloseable {
    /** The shape of {@code ik_*_client_new}. */
    @FunctionalInterface
    interface NewExport {
        int call(byte[] cfg, SizeT len, PointerByReference out, PointerByReference err);
    }

    /** The shape of {@code ik_*_describe}. */
    @FunctionalInterface
    interface DescribeExport {
        int call(Pointer handle, PointerByReference out, SizeTByReference outLen, PointerByReference err);
    }

    /** The shape of {@code ik_*_client_with_options}. */
    @FunctionalInterface
    interface WithOptionsExport {
        int call(Pointer handle, byte[] opts, SizeT len, PointerByReference out, PointerByReference err);
    }

    final NativeHandle handle;
    private final String kind;
    private final DescribeExport describe;

    NativeClient(Pointer pointer, String kind, Consumer<Pointer> free, DescribeExport describe) {
        this.handle = new NativeHandle(this, pointer, kind, free);
        this.kind = kind;
        this.describe = describe;
    }

    /** Another owner of {@code other}'s native object, closed on its own (see {@link NativeHandle#share}). */
    NativeClient(NativeClient other) {
        this.handle = other.handle.share(this);
        this.kind = other.kind;
        this.describe = other.describe;
    }

    /** A new native client from its config, or the library's typed error. */
    static Pointer openHandle(NewExport fn, Map<String, Object> config) {
        byte[] cfg = Json.encode(config);
        PointerByReference out = new PointerByReference();
        PointerByReference err = new PointerByReference();
        Ffi.check(fn.call(cfg, Ffi.len(cfg), out, err), err);
        return out.getValue();
    }

    /**
     * A new native client from this one's {@code with_options} export: same credentials and
     * connection pool, other defaults. The library checks the options.
     */
    final Pointer derive(WithOptionsExport fn, RequestOptions options) {
        byte[] opts = Json.encode(Objects.requireNonNull(options, "options").toJson());
        return handle.use(h -> {
            PointerByReference out = new PointerByReference();
            PointerByReference err = new PointerByReference();
            Ffi.check(fn.call(h, opts, Ffi.len(opts), out, err), err);
            return out.getValue();
        });
    }

    /** A blocking export on this handle. */
    final <T> T blocking(Ffi.BlockingExport fn, byte[] req, Ffi.Decoder<T> decoder) {
        return Ffi.blocking(handle, fn, req, decoder);
    }

    /** An {@code _async} export on this handle, as a cancellable future. */
    final <T> CompletableFuture<T> async(Ffi.AsyncExport fn, byte[] req, Ffi.Decoder<T> decoder) {
        return Ffi.async(handle, fn, req, decoder);
    }

    /** Frees the native object (a token or key it holds is zeroed); calls already running finish. Idempotent. */
    @Override
    public void close() {
        handle.close();
    }

    /** {@code Kind[field=…, …]} from the describe export, or {@code Kind[closed]}. */
    @Override
    public String toString() {
        if (handle.isClosed()) {
            return kind + "[closed]";
        }
        JsonNode d = handle.use(h -> Ffi.call((out, len, err) -> describe.call(h, out, len, err),
                (buf, len) -> Json.tree(Ffi.bytes(buf, len))));
        return kind + "[" + describeFields(d) + "]";
    }

    /** The fields {@link #toString()} shows, from the describe JSON. */
    abstract String describeFields(JsonNode described);
}
