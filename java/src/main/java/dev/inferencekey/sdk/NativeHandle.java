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
 *
 * <p>{@link #share} gives another owner its own reference to the same native object (an
 * {@link Endpoint}'s {@code withOptions}): each owner closes its own, and the object is freed
 * once every owner has closed.
 */
final class NativeHandle implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final String kind;
    private final State state;
    private final Owner owner;
    private final Cleaner.Cleanable cleanable;

    /** The native object, shared by its owners. */
    private static final class State {
        private static final int CLOSED = 1 << 30;

        private final Pointer pointer;
        private final Consumer<Pointer> free;
        /** {@link #CLOSED} bit plus the number of calls in flight. */
        private final AtomicInteger word = new AtomicInteger();
        private final AtomicBoolean freed = new AtomicBoolean();
        /** Owners that have not closed yet; the last one to close closes the native object. */
        private final AtomicInteger owners = new AtomicInteger(1);

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

        /** One more owner, unless the last one has already closed. */
        boolean addOwner() {
            while (true) {
                int n = owners.get();
                if (n == 0) {
                    return false;
                }
                if (owners.compareAndSet(n, n + 1)) {
                    return true;
                }
            }
        }

        void ownerClosed() {
            if (owners.decrementAndGet() == 0) {
                close();
            }
        }

        private void close() {
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

    /** One owner's reference; what the cleaner runs (it holds no reference to the owner). */
    private static final class Owner implements Runnable {
        private final State state;
        private final AtomicBoolean closed = new AtomicBoolean();

        Owner(State state) {
            this.state = state;
        }

        @Override
        public void run() {
            if (closed.compareAndSet(false, true)) {
                state.ownerClosed();
            }
        }
    }

    NativeHandle(Object holder, Pointer pointer, String kind, Consumer<Pointer> free) {
        this(holder, new State(pointer, free), kind);
    }

    private NativeHandle(Object holder, State state, String kind) {
        this.kind = kind;
        this.state = state;
        this.owner = new Owner(state);
        this.cleanable = CLEANER.register(holder, owner);
    }

    /**
     * A reference to the same native object for {@code holder}, closed on its own.
     *
     * @throws InvalidStateException this reference is closed ({@code client_closed})
     */
    NativeHandle share(Object holder) {
        if (owner.closed.get() || !state.addOwner()) {
            throw closedError();
        }
        return new NativeHandle(holder, state, kind);
    }

    /**
     * Runs {@code call} with the live pointer.
     *
     * @throws InvalidStateException the handle is closed ({@code client_closed})
     */
    <T> T use(Function<Pointer, T> call) {
        CoreLog.sync(); // every call passes here: a logger level changed since the last one takes effect
        Pointer p = owner.closed.get() ? null : state.acquire();
        if (p == null) {
            throw closedError();
        }
        try {
            return call.apply(p);
        } finally {
            state.release();
        }
    }

    private InvalidStateException closedError() {
        return new InvalidStateException("this " + kind + " is closed", "client_closed", 0, null, null);
    }

    boolean isClosed() {
        return owner.closed.get();
    }

    /**
     * Marks this reference closed; the native object is freed once every reference is closed,
     * now or when the last call in flight returns.
     */
    @Override
    public void close() {
        cleanable.clean();
    }
}
