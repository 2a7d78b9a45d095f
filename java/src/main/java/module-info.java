/** The InferenceKey SDK: declare, wait for and call workloads, over the library's C ABI. */
module dev.inferencekey.sdk {
    requires com.sun.jna;
    // Job bodies, contexts and webhook outputs are Jackson JsonNodes in the API.
    requires transitive com.fasterxml.jackson.databind;

    exports dev.inferencekey.sdk;

    // Jackson reads and writes the records; JNA proxies the native interface.
    opens dev.inferencekey.sdk to com.fasterxml.jackson.databind;
    opens dev.inferencekey.sdk.internal to com.sun.jna;
}
