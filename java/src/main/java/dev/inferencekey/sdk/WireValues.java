package dev.inferencekey.sdk;

import java.util.function.Function;

/** The lookup every wire enum ({@link Backend}, {@link TaskType}, …) makes from a wire value. */
final class WireValues {
    private WireValues() {}

    /**
     * The constant of {@code type} that the wire and the C ABI spell {@code wire}.
     *
     * @throws IllegalArgumentException no constant has that wire value
     */
    static <E extends Enum<E>> E fromWire(Class<E> type, Function<E, String> wireValue, String wire) {
        for (E v : type.getEnumConstants()) {
            if (wireValue.apply(v).equals(wire)) {
                return v;
            }
        }
        throw new IllegalArgumentException("unknown " + type.getSimpleName() + ": " + wire);
    }
}
