package dev.inferencekey.sdk;

import com.sun.jna.Pointer;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * One native handle and its free function: freed by {@link #close()}, or by the {@link Cleaner}
 * once its owner is unreachable, and never twice.
 */
final class NativeHandle implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Pointer pointer;
    private final String kind;
    private final State state;
    private final Cleaner.Cleanable cleanable;

    /** What the cleaner runs; holds no reference to the owner. */
    private static final class State implements Runnable {
        private final Pointer pointer;
        private final Consumer<Pointer> free;
        private final AtomicBoolean closed = new AtomicBoolean();

        State(Pointer pointer, Consumer<Pointer> free) {
            this.pointer = pointer;
            this.free = free;
        }

        @Override
        public void run() {
            if (closed.compareAndSet(false, true)) {
                free.accept(pointer);
            }
        }
    }

    NativeHandle(Object owner, Pointer pointer, String kind, Consumer<Pointer> free) {
        this.pointer = pointer;
        this.kind = kind;
        this.state = new State(pointer, free);
        this.cleanable = CLEANER.register(owner, state);
    }

    /** The live pointer; after {@link #close()} an {@link InvalidStateException} ({@code client_closed}). */
    Pointer get() {
        if (state.closed.get()) {
            throw new InvalidStateException("this " + kind + " is closed", "client_closed", 0, null, null);
        }
        return pointer;
    }

    boolean isClosed() {
        return state.closed.get();
    }

    @Override
    public void close() {
        cleanable.clean();
    }
}
