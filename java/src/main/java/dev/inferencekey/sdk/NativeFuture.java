package dev.inferencekey.sdk;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import dev.inferencekey.sdk.internal.IkLibrary;
import java.util.concurrent.CompletableFuture;

/**
 * The future of one {@code _async} call. {@link #cancel(boolean)} cancels the call in the
 * library (its HTTP exchange is aborted and its connection closed); the library's completion
 * is then freed unread.
 */
final class NativeFuture<T> extends CompletableFuture<T> {
    private final Pointer cancelToken;

    private NativeFuture(Pointer cancelToken) {
        this.cancelToken = cancelToken;
    }

    /** An {@code _async} export with its handle and request already bound. */
    @FunctionalInterface
    interface AsyncCall {
        int call(Pointer cancel, IkLibrary.CompletionCallback cb, Pointer userData, PointerByReference err);
    }

    /** Starts {@code call}; its result is decoded and delivered on {@link Ffi#DELIVERY}. */
    static <T> CompletableFuture<T> start(AsyncCall call, Ffi.Decoder<T> decoder) {
        return start(call, decoder, null);
    }

    /**
     * As {@link #start(AsyncCall, Ffi.Decoder)}, settling only once {@code after} (read when the
     * library completes) is done: per-event work queued before the completion runs first.
     */
    static <T> CompletableFuture<T> start(AsyncCall call, Ffi.Decoder<T> decoder,
            java.util.function.Supplier<CompletableFuture<?>> after) {
        Pointer token = Ffi.LIB.ik_cancel_new();
        NativeFuture<T> future = new NativeFuture<>(token);
        long[] key = new long[1];
        key[0] = Ffi.register((status, json, len, err) -> {
            Ffi.unregister(key[0]);
            if (after == null) {
                Ffi.DELIVERY.execute(() -> future.settle(status, json, len, err, decoder));
            } else {
                after.get().whenCompleteAsync((x, e) -> future.settle(status, json, len, err, decoder), Ffi.DELIVERY);
            }
        });
        PointerByReference err = new PointerByReference();
        int status;
        try {
            status = call.call(token, Ffi.DISPATCH, Ffi.userData(key[0]), err);
        } catch (RuntimeException | Error e) {
            Ffi.unregister(key[0]);
            Ffi.LIB.ik_cancel_free(token);
            throw e;
        }
        if (status != 0) {
            // The callback will never run.
            Ffi.unregister(key[0]);
            Ffi.LIB.ik_cancel_free(token);
            future.completeExceptionally(Ffi.takeError(status, err.getValue()));
        }
        return future;
    }

    /** The cancel token, for callers that must cancel the call themselves. */
    void cancelInLibrary() {
        Ffi.LIB.ik_cancel_cancel(cancelToken);
    }

    private void settle(int status, Pointer json, long len, Pointer err, Ffi.Decoder<T> decoder) {
        try {
            if (isDone()) {
                Ffi.discard(json, err);
            } else if (status == 0) {
                complete(Ffi.decodeAndFree(json, len, decoder));
            } else {
                Ffi.LIB.ik_buffer_free(json);
                completeExceptionally(Ffi.takeError(status, err));
            }
        } catch (RuntimeException e) {
            completeExceptionally(e);
        } finally {
            Ffi.LIB.ik_cancel_free(cancelToken);
        }
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        boolean cancelled = super.cancel(mayInterruptIfRunning);
        if (cancelled) {
            Ffi.LIB.ik_cancel_cancel(cancelToken);
        }
        return cancelled;
    }
}
