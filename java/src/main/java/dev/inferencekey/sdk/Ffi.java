package dev.inferencekey.sdk;

import com.sun.jna.CallbackThreadInitializer;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import dev.inferencekey.sdk.internal.IkLibrary;
import dev.inferencekey.sdk.internal.SizeT;
import dev.inferencekey.sdk.internal.SizeTByReference;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The native library: loading it, checking its ABI, and the helpers every call goes through.
 * Each result buffer and error is freed here, exactly once, whatever the outcome.
 */
final class Ffi {
    /** The ABI this binding is written for. */
    static final int ABI_VERSION = 3;
    static final String BINDING_VERSION = "1.0.0";

    static final IkLibrary LIB;
    /** Where the library was loaded from. */
    static final String PATH;

    /** Completions are decoded and delivered here, never on the library's delivery thread. */
    static final Executor DELIVERY = ForkJoinPool.commonPool();

    private static final Map<Long, Completion> PENDING = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT_KEY = new AtomicLong(1);

    /** The one completion callback, alive for the life of the process (JNA must not collect it). */
    static final IkLibrary.CompletionCallback DISPATCH = new Dispatch();
    /** The one interrupt check: the calling thread's interrupt status. */
    private static final IkLibrary.InterruptCheck INTERRUPT_CHECK = new InterruptCheck();

    static {
        Map<String, Object> options = Map.of(Library.OPTION_STRING_ENCODING, StandardCharsets.UTF_8.name());
        String override = System.getenv("INFERENCEKEY_LIB");
        String name = override != null && !override.isBlank() ? override : "inferencekey";
        NativeLibrary lib = NativeLibrary.getInstance(name, options);
        PATH = lib.getFile() == null ? name : lib.getFile().getAbsolutePath();
        LIB = Native.load(name, IkLibrary.class, options);
        checkAbi(LIB.ik_abi_version(), PATH);
        // One Java thread for the library's delivery thread, kept attached, daemon: without
        // this JNA attaches and detaches a new Java thread for every callback.
        Native.setCallbackThreadInitializer(DISPATCH,
                new CallbackThreadInitializer(true, false, "inferencekey-callbacks"));
        LIB.ik_interrupt_set_check(INTERRUPT_CHECK, null);
        CoreLog.install();
        // The JVM is exiting: no callback may run into it from now on (c-abi rule 18a).
        Runtime.getRuntime().addShutdownHook(new Thread(LIB::ik_runtime_shutdown, "inferencekey-shutdown"));
    }

    private Ffi() {}

    static void checkAbi(int found, String path) {
        if (found != ABI_VERSION) {
            throw new UnsatisfiedLinkError("the InferenceKey native library at " + path + " implements ABI "
                    + Integer.toUnsignedString(found) + ", but this binding needs ABI " + ABI_VERSION
                    + " (set INFERENCEKEY_LIB to a matching library, or use the jar's own)");
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static SizeT len(byte[] b) {
        return new SizeT(b.length);
    }

    /** Reads a result buffer: {@code len} bytes of JSON at its start, binary parts after it. */
    @FunctionalInterface
    interface Decoder<T> {
        T decode(Pointer buf, long len);
    }

    /** A blocking call's shape: the out-parameters are filled by the library on success. */
    @FunctionalInterface
    interface BlockingCall {
        int call(PointerByReference out, SizeTByReference outLen, PointerByReference err);
    }

    /** The shape of the blocking exports taking a handle and a request. */
    @FunctionalInterface
    interface BlockingExport {
        int call(Pointer handle, byte[] req, SizeT len, Pointer cancel, PointerByReference out, SizeTByReference outLen,
                PointerByReference err);
    }

    /** The shape of their {@code _async} twins. */
    @FunctionalInterface
    interface AsyncExport {
        int call(Pointer handle, byte[] req, SizeT len, Pointer cancel, IkLibrary.CompletionCallback cb,
                Pointer userData, PointerByReference err);
    }

    /** A blocking export on a handle: no cancel token, so it runs on this thread (interruptible). */
    static <T> T blocking(NativeHandle handle, BlockingExport fn, byte[] req, Decoder<T> decoder) {
        return handle.use(h -> call((out, len, err) -> fn.call(h, req, len(req), null, out, len, err), decoder));
    }

    /** An {@code _async} export on a handle, as a cancellable future. */
    static <T> CompletableFuture<T> async(NativeHandle handle, AsyncExport fn, byte[] req, Decoder<T> decoder) {
        return handle.use(h -> NativeFuture.start((cancel, cb, ud, err) -> fn.call(h, req, len(req), cancel, cb, ud,
                err), decoder));
    }

    /** Runs a blocking call, throws its error, decodes and frees its result. */
    static <T> T call(BlockingCall fn, Decoder<T> decoder) {
        PointerByReference out = new PointerByReference();
        SizeTByReference outLen = new SizeTByReference();
        PointerByReference err = new PointerByReference();
        check(fn.call(out, outLen, err), err);
        return decodeAndFree(out.getValue(), outLen.value(), decoder);
    }

    static <T> T decodeAndFree(Pointer buf, long len, Decoder<T> decoder) {
        try {
            return decoder.decode(buf, len);
        } finally {
            LIB.ik_buffer_free(buf);
        }
    }

    /** The JSON text at the start of a result buffer. */
    static byte[] bytes(Pointer buf, long len) {
        return buf.getByteArray(0, Math.toIntExact(len));
    }

    /** Throws the error of a failed call (and frees it); nothing on success. */
    static void check(int status, PointerByReference err) {
        if (status != 0) {
            throw takeError(status, err.getValue());
        }
    }

    /** Reads and frees an {@code ik_error}, as the exception it stands for. */
    static InferenceKeyException takeError(int status, Pointer err) {
        if (err == null) {
            return StatusTable.exception(status, "the native call failed with status " + status, "unknown", 0, null,
                    null);
        }
        try {
            Pointer details = LIB.ik_error_details_json(err);
            return StatusTable.exception(LIB.ik_error_status(err), string(LIB.ik_error_message(err)),
                    string(LIB.ik_error_code(err)), LIB.ik_error_http_status(err),
                    LIB.ik_error_request_id(err) == null ? null : string(LIB.ik_error_request_id(err)),
                    details == null ? null : Json.object(string(details)));
        } finally {
            LIB.ik_error_free(err);
        }
    }

    private static String string(Pointer p) {
        return p == null ? "" : p.getString(0, StandardCharsets.UTF_8.name());
    }

    static String redactText(String text) {
        if (text == null) {
            return null;
        }
        byte[] b = utf8(text.replace('\0', ' '));
        return call((out, len, err) -> LIB.ik_text_redact(b, len(b), out, len, err), Ffi::text);
    }

    static String redactToken(String token) {
        byte[] b = utf8(token.replace('\0', ' '));
        return call((out, len, err) -> LIB.ik_token_redact(b, len(b), out, len, err), Ffi::text);
    }

    static String text(Pointer buf, long len) {
        return new String(bytes(buf, len), StandardCharsets.UTF_8);
    }

    /** What happens when the library delivers a result to a {@code user_data} key. */
    interface Completion {
        /** Runs on the library's delivery thread (or, for blocking waits, the caller's): must not block. */
        void deliver(int status, Pointer json, long len, Pointer err);
    }

    static long register(Completion c) {
        long key = NEXT_KEY.getAndIncrement();
        PENDING.put(key, c);
        return key;
    }

    static void unregister(long key) {
        PENDING.remove(key);
    }

    static Pointer userData(long key) {
        return new Pointer(key);
    }

    /** Frees what a callback handed over that nobody will read. */
    static void discard(Pointer json, Pointer err) {
        LIB.ik_buffer_free(json);
        LIB.ik_error_free(err);
    }

    private static final class Dispatch implements IkLibrary.CompletionCallback {
        @Override
        public void invoke(Pointer userData, int status, Pointer json, SizeT jsonLen, Pointer err) {
            Completion c = PENDING.get(Pointer.nativeValue(userData));
            if (c == null) {
                discard(json, err);
                return;
            }
            c.deliver(status, json, jsonLen.longValue(), err);
        }
    }

    private static final class InterruptCheck implements IkLibrary.InterruptCheck {
        @Override
        public int invoke(Pointer userData) {
            return Thread.currentThread().isInterrupted() ? 1 : 0;
        }
    }

    /** {@code ik_live_objects}: live handles per kind and live result buffers. */
    static Map<String, Object> liveObjects() {
        return call((out, len, err) -> LIB.ik_live_objects(out, len, err), (buf, len) -> Json.object(text(buf, len)));
    }
}
