package dev.inferencekey.sdk;

import com.sun.jna.CallbackThreadInitializer;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import dev.inferencekey.sdk.internal.IkLibrary;
import dev.inferencekey.sdk.internal.SizeT;
import java.lang.System.Logger.Level;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The library's log records (already redacted: retries, ensure decisions, readiness progress,
 * HTTP attempts) on the {@link System.Logger} named {@value #LOGGER_NAME}.
 *
 * <p>The library calls its log callback on its own threads, which must never run user code nor
 * block, and a {@code System.Logger} is user code: the callback only copies the record into a
 * bounded queue, and one daemon thread logs from it. When the queue is full a record is dropped
 * and counted; the count is logged once the queue drains. The library is asked only for the
 * levels the logger has enabled, re-read before each call, so quiet loggers cost nothing.
 */
final class CoreLog {
    static final String LOGGER_NAME = "dev.inferencekey.sdk";
    static final System.Logger LOGGER = System.getLogger(LOGGER_NAME);

    /** Records waiting for the logging thread. */
    private static final int CAPACITY = 1024;
    private static final BlockingQueue<Object> QUEUE = new ArrayBlockingQueue<>(CAPACITY);
    private static final AtomicLong DROPPED = new AtomicLong();

    /** The ABI's levels 1 (error) to 4 (debug). */
    private static final Level[] LEVELS = {Level.ERROR, Level.WARNING, Level.INFO, Level.DEBUG};

    /** The one log callback, alive for the life of the process (JNA must not collect it). */
    static final IkLibrary.LogCallback CALLBACK = new Callback();

    /** The level the library was last given; -1 before the first. */
    private static volatile int pushed = -1;

    private record Entry(int level, byte[] json) {}

    static {
        Thread t = new Thread(CoreLog::drain, "inferencekey-log-writer");
        t.setDaemon(true);
        t.start();
    }

    private CoreLog() {}

    /** Gives the library the callback and the logger's level. Once, from {@link Ffi}. */
    static void install() {
        // The library's runtime threads stay attached as daemons rather than attaching anew per record.
        Native.setCallbackThreadInitializer(CALLBACK, new CallbackThreadInitializer(true, false, "inferencekey-log"));
        sync();
    }

    /**
     * Tells the library the most verbose level the logger has enabled, if it changed since last
     * time. Cheap when nothing changed (a few {@code isLoggable} calls), so it runs before calls.
     */
    static void sync() {
        int level = enabledLevel();
        if (level != pushed) {
            synchronized (CoreLog.class) {
                if (level != pushed) {
                    PointerByReference err = new PointerByReference();
                    Ffi.check(Ffi.LIB.ik_log_set_callback(level, level == 0 ? null : CALLBACK, null, err), err);
                    pushed = level;
                }
            }
        }
    }

    /** 4 debug, 3 info, 2 warning, 1 error, 0 off. */
    private static int enabledLevel() {
        for (int i = LEVELS.length; i > 0; i--) {
            if (LOGGER.isLoggable(LEVELS[i - 1])) {
                return i;
            }
        }
        return 0;
    }

    /** Runs on the library's threads: copies and queues, never blocks, never throws. */
    private static final class Callback implements IkLibrary.LogCallback {
        @Override
        public void invoke(Pointer userData, int level, Pointer json, SizeT jsonLen) {
            try {
                if (!QUEUE.offer(new Entry(level, json.getByteArray(0, Math.toIntExact(jsonLen.longValue()))))) {
                    DROPPED.incrementAndGet();
                }
            } catch (RuntimeException | Error e) { // nothing may unwind into the library
                DROPPED.incrementAndGet();
            }
        }
    }

    private static void drain() {
        while (true) {
            Object item;
            try {
                item = QUEUE.take();
            } catch (InterruptedException e) {
                return;
            }
            try {
                if (item instanceof Entry e) {
                    write(e);
                    if (QUEUE.isEmpty()) {
                        noteDrops();
                    }
                } else if (item instanceof CountDownLatch flushed) {
                    noteDrops();
                    flushed.countDown();
                }
            } catch (RuntimeException e) {
                // A logger that throws loses its record, not the logging thread.
            }
        }
    }

    /** Says how many records were dropped since the last note, once the backlog is gone. */
    private static void noteDrops() {
        long dropped = DROPPED.getAndSet(0);
        if (dropped > 0) {
            LOGGER.log(Level.WARNING, dropped + " log records of the InferenceKey library were dropped: "
                    + "the logger did not keep up");
        }
    }

    private static void write(Entry e) {
        if (e.level() < 1 || e.level() > LEVELS.length) {
            return;
        }
        Level level = LEVELS[e.level() - 1];
        if (!LOGGER.isLoggable(level)) {
            return;
        }
        // The message says what the structured fields do. The library redacts it; redacting
        // again (a no-op then) keeps a token out of the log whatever produced the text.
        LOGGER.log(level, Ffi.redactText(Json.tree(e.json()).path("message").asText()));
    }

    /** Waits (up to {@code timeout}) until every record queued before this call is logged. For tests. */
    static boolean flush(long timeout, TimeUnit unit) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(1);
        if (!QUEUE.offer(done, timeout, unit)) {
            return false;
        }
        return done.await(timeout, unit);
    }

    /** The level the library was last given (0 off to 4 debug). For tests. */
    static int pushedLevel() {
        return pushed;
    }
}
