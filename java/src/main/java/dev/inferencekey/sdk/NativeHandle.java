package dev.inferencekey.sdk;

import com.sun.jna.Pointer;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * One native handle and its free function. Every native call on the handle runs inside {@link
 * #use}, counted; {@link #close()} (or the {@link Cleaner}, once the owner is unreachable) marks
 * it closed, and whichever of the close and the last call in flight ends last frees it, once.
 * So free is always the handle's last call (c-abi rule 15), even when another thread is still
 * in a call, and a closed handle is never passed to the library again.
 */
final class NativeHandle implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final String kind;
    private final State state;
    private final Cleaner.Cleanable cleanable;

    /** What the cleaner runs; holds no reference to the owner. */
    private static final class State implements Runnable {
        private static final int CLOSED = 1 << 30;

        private final Pointer pointer;
        private final Consumer<Pointer> free;
        /** {@link #CLOSED} bit plus the number of calls in flight. */
        private final AtomicInteger word = new AtomicInteger();
        private final AtomicBoolean freed = new AtomicBoolean();

        State(Pointer pointer, Consumer<Pointer> free) {
            this.pointer = pointer;
            this.free = free;
        }

        /** The pointer for one call, or {@code null} once closed. */
        Pointer acquire() {
            while (true) {
                int w = word.get();
                if ((w & CLOSED) != 0) {
                    return null;
                }
                if (word.compareAndSet(w, w + 1)) {
                    return pointer;
                }
            }
        }

        void release() {
            if (word.decrementAndGet() == CLOSED) {
                freeOnce();
            }
        }

        @Override
        public void run() {
            int before = word.getAndUpdate(w -> w | CLOSED);
            if (before == 0) {
                freeOnce();
            }
        }

        private void freeOnce() {
            if (freed.compareAndSet(false, true)) {
                free.accept(pointer);
            }
        }
    }

    NativeHandle(Object owner, Pointer pointer, String kind, Consumer<Pointer> free) {
        this.kind = kind;
        this.state = new State(pointer, free);
        this.cleanable = CLEANER.register(owner, state);
    }

    /**
     * Runs {@code call} with the live pointer.
     *
     * @throws InvalidStateException the handle is closed ({@code client_closed})
     */
    <T> T use(Function<Pointer, T> call) {
        Pointer p = state.acquire();
        if (p == null) {
            throw new InvalidStateException("this " + kind + " is closed", "client_closed", 0, null, null);
        }
        try {
            return call.apply(p);
        } finally {
            state.release();
        }
    }

    boolean isClosed() {
        return (state.word.get() & State.CLOSED) != 0;
    }

    /** Marks the handle closed; it is freed now, or when the last call in flight returns. */
    @Override
    public void close() {
        cleanable.clean();
    }
}
